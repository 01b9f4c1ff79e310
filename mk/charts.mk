# The deck's charts and the data behind them (slides/README.md).
#   bin/chart-svg   tools/chart-svg.c: a tab-separated table as a bar chart in SVG; slides/build.sh
#                   draws each chart of the deck with it, from a table a run wrote
#   make deck-data  the runs the deck quotes beyond bench/ and the figures: chapter 11's four
#                   designs (slides/data/11-designs.md) and the watchdog demo's output
#                   (slides/data/debug-5.txt), by scripts/deck-data.sh; make figures runs it too
.PHONY: deck-data

all: $(BIN_DIR)/chart-svg
$(BIN_DIR)/chart-svg: tools/chart-svg.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tools/chart-svg.c -lm

deck-data: all debug-tools
	@scripts/deck-data.sh slides/data

# Fresh figures come with fresh data for the deck: the same sitting, the same machine.
figures: deck-data

# tests/slides.bats opens the built deck in headless Chromium (about 100 MB from Debian, once).
install-test-deps: deck-test-deps
.PHONY: deck-test-deps
deck-test-deps:
	@scripts/need libjs-remark-slide chromium fonts-dejavu-core
