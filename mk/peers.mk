# make peers: the real systems beside the chapters (peers/README.md), installed from Debian's
# packages when missing, and nothing else: eventlet (python3-eventlet, the seed's own baseline,
# run by Debian's /usr/bin/python3, which is the interpreter that package is built for) and nginx
# (built with thread pools: aio threads). asyncio comes with python3. tests/peers.bats runs them.
.PHONY: peers

peers:
	@scripts/need python3-eventlet nginx
