# make bench            measure every chapter side by side and write bench/REPORT.md (~5-10 min)
# make bench BENCH_QUICK=1   a smoke run of a minute or two, into bench/REPORT-quick.md
# Not part of `make test`: it measures speed, which tests never assert. nginx and wrk (Debian
# packages) are installed here when missing; see bench/README.md.
.PHONY: bench install-bench-deps

install-bench-deps:
	@missing=; for p in nginx wrk; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages) for make bench"; \
		apt-get update -qq -o DPkg::Lock::Timeout=300 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
			--no-install-recommends $$missing >/dev/null || exit 1; \
	fi

bench: all install-bench-deps
	BENCH_COMMAND="make bench$(if $(BENCH_QUICK), BENCH_QUICK=$(BENCH_QUICK))" \
		BENCH_QUICK=$(BENCH_QUICK) scripts/bench.sh
