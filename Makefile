# kubectl-dgdr: build, test and release.
# Area-specific targets live in hack/make/*.mk and are included at the end.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

MODULE      := github.com/kubectl-dgdr/kubectl-dgdr
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE  ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS     := -s -w -X $(MODULE)/pkg/version.version=$(VERSION) -X $(MODULE)/pkg/version.commit=$(COMMIT) -X $(MODULE)/pkg/version.buildDate=$(BUILD_DATE)
BIN         := bin

# The offline control plane for tests (see hack/make/testbin.mk).
K8S_VERSION := v1.37.2
TESTBIN     := $(BIN)/k8s/$(K8S_VERSION)
export KUBEBUILDER_ASSETS := $(abspath $(TESTBIN))
# The kubectl built by `make testbin` serves plugin-discovery tests on a
# machine without one of its own.
export PATH := $(PATH):$(abspath $(TESTBIN))

GO_TEST_FLAGS ?= -count=1 -timeout 40m
# Tests that need ../shared data fail instead of skipping without it.
export CI ?= true
# Two cores: keep package-level parallelism modest.
GO_TEST_P     ?= 2

.PHONY: build
build: ## Build kubectl-dgdr and webhook into bin/
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-dgdr ./cmd/kubectl-dgdr
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/webhook ./cmd/webhook

.PHONY: test
test: lint testbin ensure-numpy ensure-chromium ## Run every check: lint, unit, control-plane e2e, the fuzz smoke, then the release check
	go test $(GO_TEST_FLAGS) -p $(GO_TEST_P) ./...
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory release-check

.PHONY: ensure-numpy
ensure-numpy: # numpy reads our npz files in a test, as the SLA planner does
	@hack/ensure-numpy.sh

.PHONY: ensure-chromium
ensure-chromium: # headless chromium renders and screenshots report.html in a test
	@hack/ensure-chromium.sh

.PHONY: bench
bench: bench-estimator bench-profile bench-webhook ## Every benchmark with a budget (figures in README)

# One DGDR CRD from both API versions: v1alpha1 (served, deprecated) and
# v1beta1 (served, storage). Floats are upstream's schema (sla, workload).
DGDR_CRD_GEN := crd:allowDangerousTypes=true paths=./pkg/api/v1alpha1/... paths=./pkg/api/v1beta1/...

.PHONY: generate
generate: ## Regenerate DeepCopy code and the CRDs (DGDR v1alpha1 + v1beta1, test DGD) with controller-gen
	go tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./pkg/api/...
	go tool controller-gen $(DGDR_CRD_GEN) output:crd:artifacts:config=manifests/crd
	go tool controller-gen crd paths=./pkg/api/dgd/... output:crd:artifacts:config=manifests/test/dgd-crd

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (staticcheck.conf), and a check that the generated CRDs are up to date
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt wants to rewrite:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	go tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./pkg/api/... output:object:artifacts:config=$$tmp/obj >/dev/null; \
	go tool controller-gen $(DGDR_CRD_GEN) output:crd:artifacts:config=$$tmp/crd; \
	go tool controller-gen crd paths=./pkg/api/dgd/... output:crd:artifacts:config=$$tmp/dgd; \
	diff -u manifests/crd/nvidia.com_dynamographdeploymentrequests.yaml $$tmp/crd/nvidia.com_dynamographdeploymentrequests.yaml && \
	diff -u manifests/test/dgd-crd/nvidia.com_dynamographdeployments.yaml $$tmp/dgd/nvidia.com_dynamographdeployments.yaml || \
	{ echo "generated CRDs are stale: run 'make generate' and commit the result"; exit 1; }

.PHONY: clean
clean: ## Remove build outputs (the cached control plane under bin/k8s stays; see clean-testbin)
	rm -rf $(BIN)/kubectl-dgdr $(BIN)/webhook dist

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

include $(wildcard hack/make/*.mk)
