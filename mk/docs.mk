# The READMEs cannot drift from the tree (scripts/docs-check, scripts/docs-update say how).
#   make docs-check   dangling links and paths, figures quoted from bench/REPORT.md or
#                     bench/compare.md that the file does not hold; well under a second, and
#                     part of make test (tests/docs.bats)
#   make docs         re-run the command of every <!-- docs: COMMAND --> block and paste its
#                     fresh output; minutes, since the commands are the chapters' demos
#   make docs DOCS=chapters/05-blocking-in-loop/README.md   only that file
.PHONY: docs docs-check

docs-check:
	@scripts/docs-check

# The pasted output is the plain build's, whatever SAN says.
docs:
	@$(MAKE) --no-print-directory all SAN= >/dev/null
	@scripts/docs-update $(DOCS)
