# Admission webhook: loopback latency/throughput benchmark (issue 5).
# BENCH_RATE (reviews/s, default 2000), BENCH_SECONDS (per handler and
# repeat, default 10), BENCH_REPEATS (default 3) and BENCH_BLOCK_MS tune it.
# With two or more CPUs the server runs pinned to CPU 1 (GOMAXPROCS=1, like
# the Deployment's 1-CPU limit) and the load generator to CPU 0.

WEBHOOK_BENCH_BIN := bin/webhook.bench

.PHONY: bench-webhook
bench-webhook: ## Benchmark admission latency on loopback TLS against no-op handlers
	@mkdir -p bin
	go test -c -o $(WEBHOOK_BENCH_BIN) ./pkg/webhook/
	cd pkg/webhook && if [ "$$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then \
	  BENCH_SERVER_CPU=1 taskset -c 0 ../../$(WEBHOOK_BENCH_BIN) -test.run '^$$' -test.bench BenchmarkAdmissionLoopback -test.benchtime 1x; \
	else \
	  echo "fewer than 2 CPUs or no taskset: server and load generator share the CPUs"; \
	  ../../$(WEBHOOK_BENCH_BIN) -test.run '^$$' -test.bench BenchmarkAdmissionLoopback -test.benchtime 1x; \
	fi
	go test -run '^$$' -bench 'BenchmarkHandlers|BenchmarkMutatingPatch|BenchmarkRules' -benchtime 2s -count 1 ./pkg/webhook/

.PHONY: fuzz-webhook
fuzz-webhook: ## Fuzz raw AdmissionReview bodies through both handlers (FUZZTIME, default 60s)
	go test -run '^$$' -fuzz FuzzAdmissionReview -fuzztime $${FUZZTIME:-60s} ./pkg/webhook/

# The abuse load test and the soak of issue 17 (not part of `make test`).
# Both run the server like the Deployment: pinned to one CPU, GOMAXPROCS=1,
# GOMEMLIMIT at 90 % of its 128 MiB memory limit. The load generator runs on
# CPU 0; the attacker on CPU 2 where there are four CPUs, else beside it.
# BENCH_SECONDS, BENCH_BLOCK_MS, BENCH_HOSTILE (a comma list, or none) and
# BENCH_HOSTILE_RATE (default 40/s) tune the abuse test.
.PHONY: bench-webhook-abuse
bench-webhook-abuse: ## Hostile reviews against 2,000 valid reviews/s: RSS, p99, errors (BENCH_SECONDS, default 20)
	@mkdir -p bin
	go test -c -o $(WEBHOOK_BENCH_BIN) ./pkg/webhook/
	cd pkg/webhook && if [ "$$(nproc)" -ge 4 ]; then export BENCH_ATTACKER_CPU=2; fi; \
	  BENCH_SERVER_CPU=1 taskset -c 0 ../../$(WEBHOOK_BENCH_BIN) -test.run '^$$' -test.bench BenchmarkAdmissionAbuse -test.benchtime 1x

.PHONY: bench-webhook-soak
bench-webhook-soak: ## 2,000 valid reviews/s for BENCH_SOAK_SECONDS (default 600): p99 and RSS per window
	@mkdir -p bin
	go test -c -o $(WEBHOOK_BENCH_BIN) ./pkg/webhook/
	cd pkg/webhook && BENCH_SERVER_CPU=1 taskset -c 0 ../../$(WEBHOOK_BENCH_BIN) -test.run '^$$' -test.bench BenchmarkAdmissionSoak -test.benchtime 1x -test.timeout 0
