# make bench            measure every chapter side by side and write bench/REPORT.md (its opening
#                       line says how long the run took)
# make bench BENCH_QUICK=1   fewer, shorter runs, into bench/REPORT-quick.md
# make bench BENCH_SECTIONS="zero_delay syscalls"   only those sections (see scripts/bench.sh)
# Not part of `make test`: it measures speed, which tests never assert. The tools it needs
# (Debian packages) are installed here when missing; see bench/README.md.
.PHONY: bench install-bench-deps

# nginx and wrk are the reference server and load generator; ss (iproute2) finds nginx a port;
# taskset and fincore (util-linux) pin servers and clients apart and check the page cache; perf
# (linux-perf) and strace say where a server's CPU goes.
install-bench-deps:
	@scripts/need nginx wrk iproute2 curl util-linux linux-perf strace

bench: all $(BIN_DIR)/wait-cost install-bench-deps
	BENCH_COMMAND="make bench$(if $(BENCH_QUICK), BENCH_QUICK=$(BENCH_QUICK))" \
		BENCH_QUICK=$(BENCH_QUICK) BENCH_SECTIONS="$(BENCH_SECTIONS)" scripts/bench.sh
