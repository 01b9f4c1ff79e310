# make bench            measure every chapter side by side and write bench/REPORT.md (the latest
#                       full run took 3 min 5 s: see bench/REPORT.md's opening line)
# make bench BENCH_QUICK=1   fewer, shorter runs, into bench/REPORT-quick.md
# Not part of `make test`: it measures speed, which tests never assert. nginx and wrk (Debian
# packages) are installed here when missing; see bench/README.md.
.PHONY: bench install-bench-deps

# nginx and wrk are the reference server and load generator; ss (iproute2) finds nginx a port.
install-bench-deps:
	@scripts/need nginx wrk iproute2 curl

bench: all install-bench-deps
	BENCH_COMMAND="make bench$(if $(BENCH_QUICK), BENCH_QUICK=$(BENCH_QUICK))" \
		BENCH_QUICK=$(BENCH_QUICK) scripts/bench.sh
