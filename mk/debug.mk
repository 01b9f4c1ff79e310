# make debug-5: the loop-lag watchdog demo of appendix A1 (chapters/A1-debugging): chapter 05
# with -W 200 under the dying disk, looked at from outside (wchan, ss) and from inside (the
# watchdog's backtrace, resolved with addr2line).
.PHONY: debug-5 debug-tools
debug-5: all debug-tools
	@scripts/debug-demo.sh 05-blocking-in-loop

# ss (iproute2) and addr2line (binutils), only for this demo; the recipes of A1 also use strace.
debug-tools:
	@scripts/need iproute2 binutils strace
