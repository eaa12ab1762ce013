package admission

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// mkBeta is a v1beta1 DGDR from YAML, with the CRD's defaults applied as the
// API server does before admission.
func mkBeta(t testing.TB, spec string) *v1beta1.DynamoGraphDeploymentRequest {
	t.Helper()
	b := &v1beta1.DynamoGraphDeploymentRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "nvidia.com/v1beta1", Kind: "DynamoGraphDeploymentRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: "qwen", Namespace: "team-a"},
	}
	if err := yaml.UnmarshalStrict([]byte(spec), &b.Spec); err != nil {
		t.Fatal(err)
	}
	v1beta1.SetDefaults(b)
	return b
}

const betaQwen = `
model: Qwen/Qwen3-0.6B
backend: vllm
image: nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0
workload: {isl: 3000, osl: 150}
sla: {ttft: 200, itl: 20}
hardware: {gpuSku: h100_sxm, numGpusPerNode: 8}
`

func TestValidateV1beta1Accepts(t *testing.T) {
	ws, errs := ValidateV1beta1(mkBeta(t, betaQwen))
	if len(errs) > 0 {
		t.Fatalf("refused: %v", errs.ToAggregate())
	}
	for _, w := range ws {
		if strings.Contains(w, "profilingConfig") {
			t.Errorf("warning names a v1alpha1 field: %s", w)
		}
	}
}

// The shared rules refuse a v1beta1 object at the v1beta1 field the user
// wrote, and the rules of v1beta1-only fields run too.
func TestValidateV1beta1Rejects(t *testing.T) {
	cases := []struct {
		name, spec, path, msg string
	}{
		{"negative ttft", strings.Replace(betaQwen, "ttft: 200", "ttft: -5", 1), "spec.sla.ttft", "sla.ttft must be positive"},
		{"zero isl", strings.Replace(betaQwen, "isl: 3000", "isl: 0", 1), "spec.workload.isl", "workload.isl must be positive"},
		{"context overflow", strings.Replace(betaQwen, "isl: 3000", "isl: 41000", 1), "spec.workload.isl",
			"workload.isl + workload.osl (41000 + 150 = 41150 tokens) exceeds the max context of Qwen/Qwen3-0.6B"},
		{"e2e beside ttft", strings.Replace(betaQwen, "sla: {ttft: 200, itl: 20}", "sla: {ttft: 200, e2eLatency: 5000}", 1), "spec.sla.ttft",
			"sla.ttft and sla.e2eLatency (5000 ms) are alternatives"},
		{"concurrency and request rate", betaQwen + "workload: {isl: 3000, osl: 150, concurrency: 8, requestRate: 2}\n",
			"spec.workload.requestRate", "set either spec.workload.concurrency or spec.workload.requestRate, not both"},
		{"dgd override of another kind", betaQwen + "overrides: {dgd: {apiVersion: v1, kind: ConfigMap}}\n",
			"spec.overrides.dgd.kind", "spec.overrides.dgd must be a DynamoGraphDeployment"},
		{"empty model", strings.Replace(betaQwen, "model: Qwen/Qwen3-0.6B", `model: ""`, 1), "spec.model", "model is required"},
		{"image with a space", strings.Replace(betaQwen, "image: nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0", `image: "x:1 --privileged"`, 1),
			"spec.image", "must be an image reference without spaces"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if strings.Count(spec, "workload:") > 1 { // the second block wins, as in YAML merge by the test
				spec = strings.Replace(spec, "workload: {isl: 3000, osl: 150}\n", "", 1)
			}
			_, errs := ValidateV1beta1(mkBeta(t, spec))
			requireError(t, errs, tc.path, tc.msg)
			for _, e := range errs {
				if strings.Contains(e.Field+e.Detail, "profilingConfig") {
					t.Errorf("error names a v1alpha1 field: %v", e)
				}
			}
		})
	}
}

// What v1beta1 leaves to discovery or defaults is admitted with a warning.
func TestValidateV1beta1Warnings(t *testing.T) {
	cases := []struct{ name, spec, warning string }{
		{"no sla", "model: Qwen/Qwen3-0.6B\nbackend: vllm\nhardware: {gpuSku: h100_sxm}\n",
			"spec.sla is not set: profiling uses v1beta1's defaults (isl 4000, osl 1000, ttft 2000 ms, itl 30 ms)"},
		{"rapid without a GPU", "model: Qwen/Qwen3-0.6B\nbackend: vllm\nworkload: {isl: 3000, osl: 150}\nsla: {ttft: 200, itl: 20}\n",
			"spec.hardware.gpuSku is not set: profiling in the cluster takes the GPU from the nodes"},
		{"unknown model in rapid", strings.Replace(betaQwen, "Qwen/Qwen3-0.6B", "acme/secret-7b", 1),
			`model "acme/secret-7b" is not in the estimator's catalog: rapid profiling needs its architecture`},
		{"thorough and auto", strings.Replace(betaQwen, "backend: vllm", "backend: auto\nsearchStrategy: thorough", 1),
			"spec.backend is auto: profiling uses vllm (no runtime image or engine.backend names one"},
		{"MoE without GPUs per node", "model: deepseek-ai/DeepSeek-R1\nbackend: sglang\nsearchStrategy: thorough\nworkload: {isl: 2048, osl: 512}\nsla: {ttft: 300, itl: 25}\n",
			"spec.hardware.numGpusPerNode is not set for the MoE model deepseek-ai/DeepSeek-R1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, errs := ValidateV1beta1(mkBeta(t, tc.spec))
			if len(errs) > 0 {
				t.Fatalf("refused: %v", errs.ToAggregate())
			}
			for _, w := range ws {
				if strings.Contains(w, tc.warning) {
					return
				}
			}
			t.Errorf("no warning containing %q in:\n  %s", tc.warning, strings.Join(ws, "\n  "))
		})
	}
}

func TestValidateUpdateV1beta1(t *testing.T) {
	old := mkBeta(t, betaQwen+"autoApply: false\n")
	edit := func(phase v1beta1.Phase, mod func(*v1beta1.DynamoGraphDeploymentRequest)) (errMsg string) {
		o := old.DeepCopy()
		o.Status.Phase = phase
		n := o.DeepCopy()
		mod(n)
		_, errs := ValidateUpdateV1beta1(o, n)
		if len(errs) == 0 {
			return ""
		}
		return errs.ToAggregate().Error()
	}
	ttft := func(d *v1beta1.DynamoGraphDeploymentRequest) { v := 100.0; d.Spec.SLA.TTFT = &v }
	on := func(d *v1beta1.DynamoGraphDeploymentRequest) { v := true; d.Spec.AutoApply = &v }
	for _, p := range []v1beta1.Phase{v1beta1.PhaseProfiling, v1beta1.PhaseDeploying, v1beta1.PhaseDeployed, v1beta1.PhaseReady} {
		if msg := edit(p, ttft); !strings.Contains(msg, `updates are forbidden while the resource is in phase "`+string(p)+`"`) {
			t.Errorf("phase %s: spec edit gave %q", p, msg)
		}
	}
	if msg := edit(v1beta1.PhaseReady, on); msg != "" {
		t.Errorf("turning autoApply on in Ready refused: %s", msg)
	}
	if msg := edit(v1beta1.PhaseDeployed, on); msg == "" {
		t.Error("turning autoApply on in Deployed allowed")
	}
	if msg := edit(v1beta1.PhasePending, ttft); msg != "" {
		t.Errorf("edit in Pending refused: %s", msg)
	}
	if msg := edit(v1beta1.PhaseProfiling, func(d *v1beta1.DynamoGraphDeploymentRequest) { d.Labels = map[string]string{"a": "b"} }); msg != "" {
		t.Errorf("metadata edit while profiling refused: %s", msg)
	}
}

func config(t testing.TB, d *v1alpha1.DynamoGraphDeploymentRequest) pc.Settings {
	t.Helper()
	cfg, err := pc.FromJSON(d.Spec.ProfilingConfig.Config)
	if err != nil {
		t.Fatal(err)
	}
	s, errs := cfg.Settings()
	if len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	return s
}

// ForProfiling fills what the request leaves out with its version's
// defaults and says so.
func TestForProfiling(t *testing.T) {
	t.Run("v1alpha1 without sla", func(t *testing.T) {
		d := mk(t, "json:{}")
		ws, err := ForProfiling(d, ProfilingOptions{SLA: V1alpha1SLADefaults, Local: true})
		if err != nil {
			t.Fatal(err)
		}
		if s := config(t, d); s.SLA != (pc.SLA{ISL: 3000, OSL: 500, TTFT: 50, ITL: 10}) {
			t.Errorf("SLA = %+v", s.SLA)
		}
		wantWarning(t, ws, "spec.profilingConfig.config.sla: profiling with isl 3000, osl 500, ttft 50 ms, itl 10 ms (the profiler's defaults)")
	})
	t.Run("v1beta1 without sla", func(t *testing.T) {
		d, err := Internal(mkBeta(t, "model: Qwen/Qwen3-0.6B\nbackend: vllm\nhardware: {gpuSku: h100_sxm}\n"))
		if err != nil {
			t.Fatal(err)
		}
		ws, err := ForProfiling(d, ProfilingOptions{SLA: V1beta1SLADefaults, Local: true, Paths: HubPath})
		if err != nil {
			t.Fatal(err)
		}
		if s := config(t, d); s.SLA != (pc.SLA{ISL: 4000, OSL: 1000, TTFT: 2000, ITL: 30}) {
			t.Errorf("SLA = %+v", s.SLA)
		}
		wantWarning(t, ws, "spec.sla: profiling with isl 4000, osl 1000, ttft 2000 ms, itl 30 ms (v1beta1's defaults)")
	})
	t.Run("e2e latency", func(t *testing.T) {
		d := mk(t, `sla: {isl: 3000, osl: 151, e2eLatency: 8000}`)
		ws, err := ForProfiling(d, ProfilingOptions{SLA: V1alpha1SLADefaults})
		if err != nil {
			t.Fatal(err)
		}
		// ITL = 8000 / (150 + 10) = 50, TTFT = 10 × 50 = 500: 500 + 150 × 50 = 8000.
		if s := config(t, d); s.SLA.ITL != 50 || s.SLA.TTFT != 500 {
			t.Errorf("SLA = %+v, want ttft 500 itl 50", s.SLA)
		}
		wantWarning(t, ws, "sla.e2eLatency 8000 ms: profiling targets ttft 500 ms and itl 50 ms")
	})
	t.Run("throughput", func(t *testing.T) {
		d := mk(t, `sla: {isl: 3000, osl: 150, optimizationType: throughput}`)
		if _, err := ForProfiling(d, ProfilingOptions{SLA: V1alpha1SLADefaults}); err != nil {
			t.Fatal(err)
		}
		if s := config(t, d); s.SLA.TTFT < 1e6 || s.SLA.ITL < 1e6 {
			t.Errorf("throughput targets = %+v, want unbounded", s.SLA)
		}
	})
	t.Run("MoE without GPUs per node, local", func(t *testing.T) {
		d := mk(t, `sla: {isl: 2048, osl: 512, ttft: 300, itl: 25}`)
		d.Spec.Model = "deepseek-ai/DeepSeek-R1"
		ws, err := ForProfiling(d, ProfilingOptions{SLA: V1alpha1SLADefaults, Local: true})
		if err != nil {
			t.Fatal(err)
		}
		if s := config(t, d); s.GPUsPerNode != 8 {
			t.Errorf("GPUs per node = %d, want 8", s.GPUsPerNode)
		}
		wantWarning(t, ws, "no GPU discovery runs: assuming 8 GPUs per node (upstream's default)")
		// In the cluster, discovery fills it: nothing is assumed.
		d2 := mk(t, `sla: {isl: 2048, osl: 512, ttft: 300, itl: 25}`)
		d2.Spec.Model = "deepseek-ai/DeepSeek-R1"
		if _, err := ForProfiling(d2, ProfilingOptions{SLA: V1alpha1SLADefaults}); err != nil {
			t.Fatal(err)
		}
		if s := config(t, d2); s.GPUsPerNode != 0 {
			t.Errorf("cluster mode: GPUs per node = %d, want it left to discovery", s.GPUsPerNode)
		}
	})
	t.Run("backend auto", func(t *testing.T) {
		d := mk(t, baseConfig)
		d.Spec.Backend = "auto"
		d.Spec.ProfilingConfig.ProfilerImage = "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.7.1"
		ws, err := ForProfiling(d, ProfilingOptions{SLA: V1alpha1SLADefaults})
		if err != nil {
			t.Fatal(err)
		}
		if d.Spec.Backend != "trtllm" || config(t, d).Backend != "trtllm" {
			t.Errorf("backend = %q / engine.backend %q, want trtllm", d.Spec.Backend, config(t, d).Backend)
		}
		wantWarning(t, ws, "spec.backend auto: profiling with trtllm (spec.profilingConfig.profilerImage nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.7.1 is the trtllm runtime)")
	})
}

func wantWarning(t *testing.T, ws []string, want string) {
	t.Helper()
	for _, w := range ws {
		if strings.Contains(w, want) {
			return
		}
	}
	t.Errorf("no warning containing %q in:\n  %s", want, strings.Join(ws, "\n  "))
}

var _ = runtime.RawExtension{}
