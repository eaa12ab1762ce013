package profile_test

import (
	"os"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/profile"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// FuzzDecodeDGDR feeds arbitrary input through everything `profile -f`
// does before measuring: decode, admission defaulting and validation, and
// the typed settings. Nothing may panic.
func FuzzDecodeDGDR(f *testing.F) {
	for _, name := range []string{"trtllm-aic-offline", "vllm-dense-online", "sglang-moe"} {
		b, err := os.ReadFile(examples + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeploymentRequest\nspec:\n  profilingConfig:\n    config: {sla: [1], hardware: 3}\n"))
	f.Add([]byte("{'sla': {'isl': True}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := profile.DecodeDGDR(data)
		if err != nil {
			return
		}
		if _, err := admission.Default(d); err != nil {
			return
		}
		_, _ = admission.Validate(d)
		c, err := profileconfig.FromJSON(d.Spec.ProfilingConfig.Config)
		if err != nil {
			return
		}
		_, _ = c.Settings()
	})
}
