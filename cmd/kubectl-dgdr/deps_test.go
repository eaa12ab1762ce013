package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kubectl-dgdr/kubectl-dgdr/"

// notInPlugin are packages the plugin binary must not link: the worker
// image's runtime and engine simulator run only inside profiling Jobs, and
// the test harnesses only under go test. The plugin talks to the worker
// through pkg/workerproto alone.
var notInPlugin = []string{
	"cmd/dgdr-worker",
	"internal/worker",
	"pkg/mocker",
	"internal/testenv",
	"internal/kubeletsim",
	"internal/e2e",
}

// The plugin's import graph, as `go list -deps` sees it, holds none of the
// packages above, and does hold the protocol it uses to build Jobs.
func TestPluginDoesNotLinkWorkerRuntime(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[strings.TrimPrefix(p, module)] = true
	}
	for _, want := range []string{"pkg/cmd", "pkg/jobs", "pkg/workerproto"} {
		if !deps[want] {
			t.Fatalf("go list -deps lacks %s%s; the check below would prove nothing:\n%s", module, want, out)
		}
	}
	for _, p := range notInPlugin {
		if deps[p] {
			t.Errorf("the plugin links %s%s; move what it needs into a leaf package (see pkg/workerproto)", module, p)
		}
	}
}
