package admission

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// exampleNames are the three DGDRs of examples/ (the seed's complete examples).
var exampleNames = []string{"vllm-dense-online", "trtllm-aic-offline", "sglang-moe"}

func loadExample(t testing.TB, name string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name+".yaml"))
	if err != nil {
		t.Fatalf("read example %s: %v", name, err)
	}
	return decodeDGDR(t, b)
}

func decodeDGDR(t testing.TB, b []byte) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("decode DGDR: %v", err)
	}
	if d.Namespace == "" {
		d.Namespace = "team-a"
	}
	return &d
}
