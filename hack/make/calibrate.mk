# The analytic estimator: refit its coefficients and benchmark it.

.PHONY: calibrate
calibrate: ## Refit pkg/estimator coefficients on ../shared/data/groundtruth; rewrites zz_generated_coefficients.go and ACCURACY.md
	go run ./hack/calibrate

# The profiler's whole grid (4 TPs × 20 ISLs of prefill, 4 × 36 decode
# points, KV capacity) must answer in under 50 ms (spec/estimator.md §1.2).
ESTIMATOR_GRID_BUDGET_NS ?= 50000000

.PHONY: bench-estimator
bench-estimator: ## Benchmark the estimator on the full profiler grid; fails above the 50 ms budget
	@out=$$(go test -run '^$$' -bench . -benchmem -count 3 ./pkg/estimator/); echo "$$out"; \
	echo "$$out" | awk -v budget=$(ESTIMATOR_GRID_BUDGET_NS) '/^BenchmarkProfilerGrid/ { n++; if ($$3 > budget) { bad++; print "over budget: " $$1 " " $$3 " ns/op > " budget } } \
	  END { if (n == 0) { print "no grid benchmark ran"; exit 1 } exit bad > 0 }'
