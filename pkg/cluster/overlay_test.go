package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/clustertest"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// A user overlay patches the DGD in process; managed labels still win.
func TestOverlay(t *testing.T) {
	d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
	d.Status.State = v1alpha1.StateReady
	d.Status.GeneratedDeployment = rawDGD(t)
	obj, err := BuildDGD(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("kustomization.yaml", "commonLabels:\n  tier: gold\n  dgdr.nvidia.com/name: hijack\npatches:\n- path: replicas.yaml\n")
	write("replicas.yaml", "apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata:\n  name: vllm-dense-online\n  namespace: team\nspec:\n  services:\n    VllmDecodeWorker:\n      replicas: 3\n")
	var r OverlayRenderer
	out, err := r.Render(dir, obj)
	if err != nil {
		t.Fatal(err)
	}
	enforceManaged(out, d)
	rep, _, _ := nestedInt(out.Object, "spec", "services", "VllmDecodeWorker", "replicas")
	if rep != 3 || out.GetLabels()["tier"] != "gold" || out.GetLabels()[v1alpha1.LabelDGDRName] != d.Name {
		t.Fatalf("overlay result: replicas %d labels %v", rep, out.GetLabels())
	}
	if _, err := r.Render(t.TempDir(), obj); err == nil {
		t.Fatal("want an error for a directory without kustomization.yaml")
	}
}
