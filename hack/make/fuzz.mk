# Fuzzing (issue 17): every Fuzz target of the module, one after another.
# FUZZTIME is per target. `make test` runs the smoke (FUZZ_SMOKE_TIME per
# target); `make fuzz` runs longer.
FUZZTIME        ?= 60s
FUZZ_SMOKE_TIME ?= 30s

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 60s)
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: fuzz-smoke
fuzz-smoke: ## Run every fuzz target for FUZZ_SMOKE_TIME each (default 30s); part of make test
	FUZZTIME=$(FUZZ_SMOKE_TIME) hack/fuzz.sh
