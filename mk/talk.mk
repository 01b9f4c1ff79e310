# Giving the talk (slides/RUNBOOK.md): its live moments, and the check to run the day before.
#   make talk-demo [MOMENT=bug|fix|loopwatch|epoll-file]   one live moment of the talk
#                  (slides/live.sh), or without MOMENT all four in the talk's order: a rehearsal
#   make talk-preflight   on the laptop that will give the talk: FUSE mounts and unmounts,
#                  everything builds, both decks pass the browser's check at 1024 x 768, the
#                  decks and the speaker's handouts print, each live moment runs once and shows
#                  what the runbook promises, and the slides show the repository's address
#                  (slides/preflight.sh, about two minutes)
.PHONY: talk-demo talk-preflight

talk-demo: all debug-tools
	@slides/live.sh $(or $(MOMENT),all)

talk-preflight:
	@slides/preflight.sh
