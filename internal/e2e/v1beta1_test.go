package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// Every v1beta1 sample is accepted by `create --dry-run=server` (the real
// API server, our v1beta1 webhook, nothing stored) and profiled by
// `profile --local`, with the binary users get.
func TestV1beta1Samples(t *testing.T) {
	ns := namespace(t, "v1beta1-samples")
	files, err := filepath.Glob(filepath.Join(s.root, "examples", "v1beta1", "*.yaml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("want at least 10 samples in examples/v1beta1, have %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := mustRun(t, "create", "-f", f, "-n", ns, "--dry-run=server", "-o", "name")
			if !strings.HasPrefix(r.stdout, "dynamographdeploymentrequest.nvidia.com/") {
				t.Fatalf("server dry run: %s", r)
			}
			if strings.Contains(r.stderr, "deprecated") || strings.Contains(r.stderr, "profilingConfig") {
				t.Errorf("a v1beta1 request drew v1alpha1 messages: %s", r.stderr)
			}
			name := strings.TrimPrefix(strings.TrimSpace(r.stdout), "dynamographdeploymentrequest.nvidia.com/")
			var b v1beta1.DynamoGraphDeploymentRequest
			if err := s.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &b); err == nil {
				t.Fatalf("a server dry run stored %s", name)
			}
			r = mustRun(t, "profile", "--local", "-f", f, "--output-dir", filepath.Join(t.TempDir(), "out"), "--quiet", "--no-plots")
			if !strings.Contains(r.stdout, "Suggested prefill") || !strings.Contains(r.stdout, "Suggested decode") {
				t.Fatalf("profile --local: %s", r)
			}
		})
	}
	// A wrong request is refused by the webhook, in v1beta1's terms.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "apiVersion: nvidia.com/v1beta1\nkind: DynamoGraphDeploymentRequest\nmetadata: {name: bad}\n"+
		"spec: {model: Qwen/Qwen3-0.6B, workload: {isl: 3000, osl: 150}, sla: {ttft: 200, e2eLatency: 5000}}\n")
	r := kdgdr(t, "create", "-f", bad, "-n", ns, "--dry-run=server")
	if r.code == 0 || !strings.Contains(r.stderr, "spec.sla.ttft") || !strings.Contains(r.stderr, "are alternatives") {
		t.Fatalf("bad v1beta1 request: %s", r)
	}
}

// A v1beta1 request goes through the cluster flow: the plugin reads and
// writes it as v1beta1 (the stored version), status keeps what v1alpha1
// readers need, and kubectl shows the v1beta1 columns.
func TestV1beta1Flow(t *testing.T) {
	ns := namespace(t, "v1beta1-flow")
	ctx := context.Background()
	mustRun(t, "create", "-f", example("v1beta1/qwen3-0.6b-vllm-rapid.yaml"), "-n", ns)
	const name = "qwen3-0-6b-vllm-rapid"
	profile(t, ns, name)

	var b v1beta1.DynamoGraphDeploymentRequest
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &b); err != nil {
		t.Fatal(err)
	}
	if b.Status.Phase != v1beta1.PhaseReady || b.Status.ProfilingResults == nil || b.Status.ProfilingResults.SelectedConfig == nil ||
		b.Status.V1alpha1 == nil || b.Status.V1alpha1.Backend != "vllm" || b.Status.V1alpha1.ProfilingResults != "configmap/dgdr-output-"+name {
		t.Fatalf("v1beta1 status after profile: %+v", b.Status)
	}
	if !strings.Contains(string(b.Status.ProfilingResults.SelectedConfig.Raw), "vllm-runtime:1.0.0") {
		t.Errorf("the selected DGD's workers do not run the runtime going with image dynamo-frontend:1.0.0: %s", b.Status.ProfilingResults.SelectedConfig.Raw)
	}
	// The same object read as v1alpha1 (through the conversion webhook).
	if d := getDGDR(t, ns, name); d.Status.State != v1alpha1.StateReady || d.Status.Backend != "vllm" || d.Status.GeneratedDeployment == nil {
		t.Errorf("v1alpha1 view: %+v", d.Status)
	}
	r := mustRun(t, "status", name, "-n", ns, "--color=never")
	if !strings.Contains(r.stdout, "Ready") {
		t.Errorf("status: %s", r)
	}
	out, err := s.env.Kubectl(ctx, "get", "dgdr", name, "-n", ns)
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	if fields := strings.Fields(strings.Split(out, "\n")[1]); len(fields) < 4 || fmt.Sprint(fields[:4]) != fmt.Sprint([]string{name, "Qwen/Qwen3-0.6B", "vllm", "Ready"}) {
		t.Errorf("kubectl get dgdr (v1beta1 columns):\n%s", out)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
