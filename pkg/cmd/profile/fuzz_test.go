package profile_test

import (
	"os"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/profile"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// FuzzDecodeDGDR feeds arbitrary input of either version through everything
// `profile -f` does before measuring: decode, admission defaulting, the
// profiling defaults, validation and the typed settings. Nothing may panic.
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
	if b, err := os.ReadFile(examples + "v1beta1/qwen3-32b-sglang-thorough.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("apiVersion: nvidia.com/v1beta1\nkind: DynamoGraphDeploymentRequest\nspec: {model: m, sla: {e2eLatency: 1}, workload: {isl: -3}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := profile.DecodeRequest(data)
		if err != nil {
			return
		}
		d := req.DGDR
		if _, err := admission.Default(d); err != nil {
			return
		}
		if _, err := admission.ForProfiling(d, admission.ProfilingOptions{SLA: admission.V1beta1SLADefaults, Local: true}); err != nil {
			return
		}
		_, _ = admission.ValidateAs(d, req.Hub)
		c, err := profileconfig.FromJSON(d.Spec.ProfilingConfig.Config)
		if err != nil {
			return
		}
		_, _ = c.Settings()
	})
}
