# The deck's charts and the data behind them (slides/README.md).
#   bin/chart-svg   tools/chart-svg.c: a tab-separated table as a bar chart in SVG; slides/build.sh
#                   draws each chart of the deck with it, from a table a run wrote
#   make deck-data  the runs the deck quotes beyond bench/ and the figures, by scripts/deck-data.sh:
#                   chapter 11's four designs (slides/data/11-designs.md), chapter 12's iou-wrk
#                   threads (12-iou-wrk.md), loopwatch's demo output (debug-5.txt), what epoll
#                   and poll say of a regular file (epoll-file.txt), in about 20 s; make figures
#                   runs it too. scripts/deck-data.sh slides/data NAME... runs only those.
.PHONY: deck-data

all: $(BIN_DIR)/chart-svg
$(BIN_DIR)/chart-svg: tools/chart-svg.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tools/chart-svg.c -lm

deck-data: all debug-tools
	@scripts/deck-data.sh slides/data

# Fresh figures come with fresh data for the deck: the same sitting, the same machine.
figures: deck-data

# tests/slides.bats opens the built deck in headless Chromium (about 110 MB from Debian, once;
# 12 s to install on this 2-core machine).
install-test-deps: deck-test-deps
.PHONY: deck-test-deps
deck-test-deps:
	@scripts/need libjs-remark-slide chromium fonts-dejavu-core
