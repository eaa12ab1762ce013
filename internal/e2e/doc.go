// Package e2e runs the built kubectl-dgdr binary, as a user would, against a
// real control plane: the DGDR and test DGD CRDs, this project's admission
// webhook served over TLS from the test process, kube-controller-manager
// (garbage collector), the scheduler and kwok with fake GPU nodes. The tests
// live in e2e_test.go; this package has no non-test code.
package e2e
