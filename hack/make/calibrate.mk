# The analytic estimator: refit its coefficients and benchmark it.

.PHONY: calibrate
calibrate: ## Refit pkg/estimator coefficients on ../shared/data/groundtruth; rewrites zz_generated_coefficients.go and ACCURACY.md
	go run ./hack/calibrate

.PHONY: bench-estimator
bench-estimator: ## Benchmark the estimator on the full profiler grid
	go test -run '^$$' -bench . -benchmem ./pkg/estimator/
