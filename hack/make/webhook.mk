# Admission webhook: loopback latency/throughput benchmark (issue 5).
# BENCH_RATE (reviews/s, default 2000), BENCH_SECONDS and BENCH_ROUNDS tune it.

.PHONY: bench-webhook
bench-webhook: ## Benchmark admission latency on loopback TLS against a no-op handler
	go test -run '^$$' -bench 'BenchmarkAdmissionLoopback' -benchtime 1x -count 1 ./pkg/webhook/
	go test -run '^$$' -bench 'BenchmarkHandlers|BenchmarkRules' -benchtime 2s -count 1 ./pkg/webhook/

.PHONY: fuzz-webhook
fuzz-webhook: ## Fuzz raw AdmissionReview bodies through both handlers (FUZZTIME, default 60s)
	go test -run '^$$' -fuzz FuzzAdmissionReview -fuzztime $${FUZZTIME:-60s} ./pkg/webhook/
