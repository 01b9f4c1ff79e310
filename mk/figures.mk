# Pictures, the comparison table and the talk (issue 6). Nothing here is part of `make test`:
# every target below starts real servers and takes a minute or more.
#   make figures   slides/figures/NN-SCENARIO[-VARIANT].svg for every chapter, and the figures
#                  of a chapter's own lesson (chapters/NN-name/figures.conf), from fresh runs;
#                  `scripts/figures.sh slides/figures NN-name` redraws one chapter's lesson
#                  figures alone (seconds), and tests/figures.bats checks what each one claims
#   make compare   every chapter under the shared and the dying-disk scenarios: bench/compare.md
#   make slides    slides/deck.html, the 30-minute talk as one self-contained offline file, and
#                  slides/lightning.html, its 10-minute path (slides/README.md)
#   make slides-pdf   slides/deck.pdf and slides/lightning.pdf, one page per slide, printed by
#                  headless Chromium; make slides-check  the browser's check of both decks
#   make slides-notes slides/deck-notes.pdf and slides/lightning-notes.pdf, the speaker's
#                  handout: one A4 page per slide, the slide and its notes (mk/talk.mk: the rest
#                  of what giving the talk needs)
#   make figures-png  PNG copies of the figures in $(BIN_DIR)/figures-png/, for a quick look
# The tools they use only for viewing or building the deck are installed here when missing.
.PHONY: figures compare slides slides-pdf slides-notes slides-check figures-png

# The SVG renderer is built with everything else, so the normal build keeps it compiling.
all: $(BIN_DIR)/timeline-svg

TIMELINE_SRC := tools/timeline-svg.c tools/timeline.c tools/timeline-draw.c tools/trace.c
$(BIN_DIR)/timeline-svg: $(TIMELINE_SRC) tools/timeline.h tools/trace.h $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TIMELINE_SRC) -lm

# The lesson figures are checked once drawn: a fresh run that no longer shows what a caption
# claims fails here, not later in make test.
figures: all
	@scripts/compare.sh --figures slides/figures
	@scripts/figures.sh slides/figures
	@out=$$(scripts/figures.sh --check slides/figures) || { echo "$$out" | grep -v '^ok '; exit 1; }

compare: all
	@scripts/compare.sh --markdown bench/compare.md

# The deck embeds Debian's remark.js (libjs-remark-slide), every figure and every chart, so it
# opens offline. It needs the figures: `make figures slides` makes fresh ones (and fresh
# slides/data/, mk/charts.mk); alone it makes any missing. Its numbers come from bench/REPORT.md,
# bench/compare.md and slides/data/ as they are: `make bench compare figures slides` refreshes all.
slides: all $(filter figures,$(MAKECMDGOALS))
	@scripts/need libjs-remark-slide
	@slides/build.sh
	@slides/build.sh --lightning

# The same browser as tests/slides.bats (Debian's chromium, headless) prints one page per slide.
slides-pdf: slides
	@scripts/need chromium fonts-dejavu-core
	@slides/browser.sh pdf slides/deck.html slides/deck.pdf
	@slides/browser.sh pdf slides/lightning.html slides/lightning.pdf

# The same browser again, the speaker's handout: each slide with its notes under it.
slides-notes: slides
	@scripts/need chromium fonts-dejavu-core
	@slides/browser.sh notes slides/deck.html slides/deck-notes.pdf
	@slides/browser.sh notes slides/lightning.html slides/lightning-notes.pdf

slides-check: slides
	@scripts/need chromium fonts-dejavu-core
	@slides/browser.sh check slides/deck.html
	@slides/browser.sh check slides/lightning.html lightning

# PNG copies of the figures, to look at them without a browser (librsvg2-bin's rsvg-convert).
figures-png:
	@scripts/need librsvg2-bin
	@mkdir -p $(BIN_DIR)/figures-png
	@for f in slides/figures/*.svg; do rsvg-convert "$$f" -o $(BIN_DIR)/figures-png/$$(basename "$${f%.svg}").png; done
	@echo "PNG figures in $(BIN_DIR)/figures-png/"
