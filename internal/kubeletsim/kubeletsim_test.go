package kubeletsim

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The e2e of this harness is pkg/online/e2e_test.go (real control plane,
// kwok nodes, Jobs run to completion); these cover the pure parts.

func TestRewriteMountedPaths(t *testing.T) {
	m := map[string]string{"/engine-logs": "/tmp/p/volumes/engine-logs", "/": "/nope"}
	for in, want := range map[string]string{
		"--log-file=/engine-logs/engine.log":  "--log-file=/tmp/p/volumes/engine-logs/engine.log",
		"/engine-logs/engine.log":             "/tmp/p/volumes/engine-logs/engine.log",
		"--engine-log=/engine-logs":           "--engine-log=/tmp/p/volumes/engine-logs",
		"--log-file=/engine-logsX/engine.log": "--log-file=/engine-logsX/engine.log",
		"/usr/local/bin/worker":               "/usr/local/bin/worker",
		"http://127.0.0.1:8000/engine-logs/x": "http://127.0.0.1:8000/engine-logs/x",
	} {
		if got := rewrite(in, m); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExpandAndFieldPath(t *testing.T) {
	env := map[string]string{"RANK": "3"}
	if got := expand("--rank=$(RANK) $$(RANK) $(MISSING)", env); got != "--rank=3 $(RANK) $(MISSING)" {
		t.Fatalf("expand = %q", got)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns",
		Annotations: map[string]string{"batch.kubernetes.io/job-completion-index": "1"}}}
	for path, want := range map[string]string{"metadata.namespace": "ns", "metadata.name": "p",
		"metadata.annotations['batch.kubernetes.io/job-completion-index']": "1"} {
		if got, err := fieldPath(p, path); err != nil || got != want {
			t.Errorf("fieldPath(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := fieldPath(p, "status.bogus"); err == nil {
		t.Error("an unsupported fieldRef must be an error")
	}
}
