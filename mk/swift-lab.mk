# The headline experiment (scripts/swift-lab.sh): one storage node of 8 disks on the FUSE slow disk,
# disk 0 dying by the seed's model, an open loop over every disk, and every design side by side,
# the chapters' and the real eventlet's and nginx's, each pinned to one CPU in turn.
#   make swift-lab                      bench/swift-lab.md (the table) and bench/swift-lab.svg
#                                       (healthy p99 per design, log scale), about 5 minutes on
#                                       2 cores; needs root and /dev/fuse
#   make swift-lab SWIFT_LAB_FIXED=10000   the dying disk takes 10 s on every read instead
#   make swift-lab SWIFT_LAB_QUICK=1    three designs (05, 11 per disk, nginx aio threads), 3 s of
#                                       load, the table on stdout (tests/swift-lab.bats runs it)
# Not part of `make test` (which runs only the quick mode): it measures, which tests never assert.
.PHONY: swift-lab

swift-lab: all peers
	@scripts/need util-linux
	@SWIFT_LAB_QUICK=$(SWIFT_LAB_QUICK) scripts/swift-lab.sh $(if $(SWIFT_LAB_FIXED),--fixed $(SWIFT_LAB_FIXED))
