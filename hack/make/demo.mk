# The README's main job: build the plugin and profile the AI Configurator
# example locally (no cluster, no GPU), then list what was written.

DEMO_DGDR ?= examples/trtllm-aic-offline.yaml
DEMO_OUT  ?= out/demo

.PHONY: demo
demo: ## Build kubectl-dgdr and profile examples/trtllm-aic-offline.yaml locally into ./out/demo
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-dgdr ./cmd/kubectl-dgdr
	@rm -rf $(DEMO_OUT)
	@start=$$(date +%s.%N); \
	$(BIN)/kubectl-dgdr profile --local -f $(DEMO_DGDR) --output-dir $(DEMO_OUT); \
	end=$$(date +%s.%N); \
	echo; awk -v s=$$start -v e=$$end 'BEGIN { printf "profile --local took %.3f s (wall); open $(DEMO_OUT)/report.html\n", e - s }'

# Whole-process cost of one local profile (plots and npz included), and the Go
# benchmark of the same run in-process. Budget: <= 0.5 s wall, <= 60 MB RSS.
BENCH_RUNS ?= 5

.PHONY: bench-profile
bench-profile: ## Measure `profile --local` of the AIC example: /usr/bin/time -v and the Go benchmark
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-dgdr ./cmd/kubectl-dgdr
	@for i in $$(seq $(BENCH_RUNS)); do \
	  rm -rf out/bench; \
	  /usr/bin/time -v $(BIN)/kubectl-dgdr profile --local -f $(DEMO_DGDR) --output-dir out/bench --quiet 2>&1 >/dev/null \
	    | grep -E 'Elapsed \(wall clock\)|Maximum resident set size'; \
	done
	go test -run '^$$' -bench BenchmarkProfileLocal -benchmem -count 3 ./pkg/cmd/profile/
