# The offline control plane: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and etcd from the tools module in hack/tools/k8s, and kwok.
# Each binary is rebuilt only when missing; the version is in the path, so a
# version bump rebuilds.

K8S_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean
KWOK_VERSION := v0.8.0
TESTBIN_FILES := $(addprefix $(TESTBIN)/,kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

.PHONY: testbin
testbin: $(TESTBIN_FILES) ## Build the test control plane into bin/k8s/<version> (only what is missing)

$(TESTBIN)/kube-apiserver $(TESTBIN)/kube-controller-manager $(TESTBIN)/kube-scheduler $(TESTBIN)/kubectl:
	@mkdir -p $(TESTBIN)
	cd hack/tools/k8s && go build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $(abspath $(TESTBIN))/$(notdir $@) k8s.io/kubernetes/cmd/$(notdir $@)

$(TESTBIN)/etcd:
	@mkdir -p $(TESTBIN)
	cd hack/tools/k8s && go build -trimpath -o $(abspath $@) go.etcd.io/etcd/server/v3

$(TESTBIN)/kwok:
	@mkdir -p $(TESTBIN)
	GOBIN=$(abspath $(TESTBIN)) go install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

.PHONY: clean-testbin
clean-testbin: ## Remove the cached control-plane binaries
	rm -rf $(BIN)/k8s
