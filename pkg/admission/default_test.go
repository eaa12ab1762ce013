package admission

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

func configOf(t *testing.T, d *v1alpha1.DynamoGraphDeploymentRequest) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(d.Spec.ProfilingConfig.Config.Raw, &m); err != nil {
		t.Fatalf("config: %v", err)
	}
	return m
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func TestDefaultInjects(t *testing.T) {
	d := mk(t, `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, deployment: {model: other/model}, engine: {backend: sglang}}`)
	d.Spec.ProfilingConfig.ConfigMapRef = &v1alpha1.ConfigMapKeySelector{Name: "base"}
	d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{WorkersImage: "example.com/worker:1"}
	ws, err := Default(d)
	if err != nil {
		t.Fatal(err)
	}
	c := configOf(t, d)
	for _, tc := range []struct {
		path []string
		want any
	}{
		{[]string{"deployment", "model"}, "Qwen/Qwen3-0.6B"},
		{[]string{"deployment", "namespace"}, "team-a"},
		{[]string{"deployment", "dgd_image"}, "example.com/worker:1"},
		{[]string{"engine", "backend"}, "vllm"},
		{[]string{"engine", "config"}, "/config/disagg.yaml"},
		{[]string{"sla", "isl"}, float64(3000)},
	} {
		if got := get(c, tc.path...); got != tc.want {
			t.Errorf("%s = %v, want %v", strings.Join(tc.path, "."), got, tc.want)
		}
	}
	if d.Spec.ProfilingConfig.ConfigMapRef.Key != "disagg.yaml" {
		t.Errorf("configMapRef.key = %q, want disagg.yaml", d.Spec.ProfilingConfig.ConfigMapRef.Key)
	}
	want := []string{
		"spec.profilingConfig.config.engine.backend (sglang) will be overwritten by spec.backend (vllm)",
		"spec.profilingConfig.config.deployment.model (other/model) will be overwritten by spec.model (Qwen/Qwen3-0.6B)",
	}
	if strings.Join(ws, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%q\nwant:\n%q", ws, want)
	}
}

func TestDefaultIdempotent(t *testing.T) {
	for _, n := range exampleNames {
		d := loadExample(t, n)
		if _, err := Default(d); err != nil {
			t.Fatal(err)
		}
		first := string(d.Spec.ProfilingConfig.Config.Raw)
		ws, err := Default(d)
		if err != nil || len(ws) != 0 {
			t.Fatalf("%s: second Default: warnings %q, err %v", n, ws, err)
		}
		if got := string(d.Spec.ProfilingConfig.Config.Raw); got != first {
			t.Errorf("%s: second Default changed the config:\n%s\n%s", n, first, got)
		}
	}
}

func TestDefaultKeepsNamespaceAndSpelling(t *testing.T) {
	d := mk(t, `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, deployment: {namespace: profiling, dgdImage: old}, hardware: {numGpusPerNode: 8}, sweep: {useAiConfigurator: true, aicSystem: h100_sxm}}`)
	d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{WorkersImage: "new"}
	ws, err := Default(d)
	if err != nil {
		t.Fatal(err)
	}
	c := configOf(t, d)
	if got := get(c, "deployment", "namespace"); got != "profiling" {
		t.Errorf("deployment.namespace = %v, want the user's profiling", got)
	}
	if got := get(c, "deployment", "dgdImage"); got != "new" {
		t.Errorf("deployment.dgdImage = %v, want new", got)
	}
	if get(c, "deployment", "dgd_image") != nil || get(c, "hardware", "max_num_gpus_per_engine") != nil {
		t.Errorf("a second spelling was created: %v", c)
	}
	if got := get(c, "hardware", "maxNumGpusPerEngine"); got != float64(4) {
		t.Errorf("hardware.maxNumGpusPerEngine = %v, want 4 (Qwen3-0.6B: 16 heads / 4)", got)
	}
	joined := strings.Join(ws, "\n")
	for _, w := range []string{
		"deployment.dgd_image (old) will be overwritten by spec.deploymentOverrides.workersImage (new)",
		"hardware.maxNumGpusPerEngine was not set; set it to 4, the largest power of two AI Configurator allows for Qwen/Qwen3-0.6B (16 attention heads",
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q lack %q", ws, w)
		}
	}
}

func TestDefaultAICMax(t *testing.T) {
	for _, tc := range []struct {
		model  string
		config string
		want   any
	}{
		{"Qwen/Qwen3-0.6B", aicQwen, float64(4)},                                              // 16 heads
		{"Qwen/Qwen3-32B", aicQwen, float64(8)},                                               // 64 heads, capped at one node
		{"Qwen/Qwen3-14B", aicQwen, float64(8)},                                               // 40 heads: 40/8 = 5
		{"Qwen/Qwen2.5-7B", aicQwen, float64(4)},                                              // 28 heads: 28/4 = 7, 28/8 not whole
		{"Qwen/Qwen3-0.6B", aicQwen + "hardware: {max_num_gpus_per_engine: 2}\n", float64(2)}, // user value kept
		{"Qwen/Qwen3-0.6B", baseConfig, float64(8)},                                           // online mode: untouched
	} {
		d := mk(t, tc.config)
		d.Spec.Model = tc.model
		if _, err := Default(d); err != nil {
			t.Fatal(err)
		}
		if got := get(configOf(t, d), "hardware", "max_num_gpus_per_engine"); got != tc.want {
			t.Errorf("%s %q: max_num_gpus_per_engine = %v, want %v", tc.model, tc.config, got, tc.want)
		}
		if _, errs := Validate(d); len(errs) > 0 {
			t.Errorf("%s: defaulted object refused: %v", tc.model, errs)
		}
	}
}

func TestDefaultErrorLeavesObject(t *testing.T) {
	d := mk(t, `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, deployment: "x"}`)
	before := string(d.Spec.ProfilingConfig.Config.Raw)
	_, err := Default(d)
	if err == nil || !strings.Contains(err.Error(), "spec.profilingConfig.config.deployment: Invalid value: \"x\": profilingConfig.config.deployment must be an object, got string") {
		t.Fatalf("err = %v", err)
	}
	if string(d.Spec.ProfilingConfig.Config.Raw) != before {
		t.Errorf("object changed on error")
	}
	d.Spec.ProfilingConfig.Config = nil
	if ws, err := Default(d); err != nil || ws != nil || d.Spec.ProfilingConfig.Config != nil {
		t.Errorf("nil config: ws %v err %v config %v; want it left for validation", ws, err, d.Spec.ProfilingConfig.Config)
	}
	if ws, err := Default(nil); ws != nil || err != nil {
		t.Errorf("Default(nil) = %v, %v", ws, err)
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		mod    func(*v1alpha1.DynamoGraphDeploymentRequest)
		want   string
	}{
		{"W3 discovery", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { b := true; d.Spec.EnableGpuDiscovery = &b },
			"spec.enableGpuDiscovery is deprecated and will be removed in v1beta1. GPU discovery is now always attempted automatically. This field has no effect."},
		{"W5 gpu_type", baseConfig + "sweep: {min_num_gpus: 2}\n", nil,
			"spec.profilingConfig.config.sweep.min_num_gpus is not read by the profiler and has no effect"},
		{"W7 engine range", baseConfig + "engine: {maxNumGpusPerEngine: 4}\n", nil,
			"spec.profilingConfig.config.engine.maxNumGpusPerEngine is not read by the profiler; use hardware.maxNumGpusPerEngine"},
		{"W8 long name", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Name = "a-very-long-deployment-request-name" },
			`DynamoGraphDeployment name "a-very-long-deployment-request-name" (35 chars) may exceed the 45-character limit`},
		{"W9 dense above a node", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {max_num_gpus_per_engine: 16}}`, nil,
			"hardware.max_num_gpus_per_engine (16) is above one node (8 GPUs) for a dense model"},
		{"W9 MoE above four nodes", `{sla: {isl: 2048, osl: 512, ttft: 300, itl: 25}, hardware: {num_gpus_per_node: 8, max_num_gpus_per_engine: 64}}`,
			func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Model = "deepseek-ai/DeepSeek-R1" },
			"hardware.max_num_gpus_per_engine (64) is above four nodes (32 GPUs at 8 per node) for a MoE model"},
		{"W10 ITL unreachable", `{sla: {isl: 4000, osl: 500, ttft: 300, itl: 0.5}, sweep: {use_ai_configurator: true}, aic: {system: h200_sxm}}`,
			func(d *v1alpha1.DynamoGraphDeploymentRequest) {
				d.Spec.Model = "Qwen/Qwen3-32B"
				d.Spec.Backend = "trtllm"
			},
			"SLA cannot be met: the best ITL the estimator finds for Qwen/Qwen3-32B on h200_sxm with trtllm"},
		{"W10 TTFT unreachable", `{sla: {isl: 30000, osl: 500, ttft: 1, itl: 50}, hardware: {system: h100_sxm}}`,
			func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Model = "Qwen/Qwen3-32B" },
			"SLA cannot be met: the best TTFT the estimator finds for Qwen/Qwen3-32B on h100_sxm with vllm"},
		{"unknown hardware.system", baseConfig + "aic: {system: tpu_v5}\n", nil,
			`aic.system "tpu_v5" is not a system the estimator knows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mk(t, tc.config)
			if tc.mod != nil {
				tc.mod(d)
			}
			dws, err := Default(d)
			if err != nil {
				t.Fatal(err)
			}
			ws, errs := Validate(d)
			if len(errs) > 0 {
				t.Fatalf("a warning case was refused: %v", errs)
			}
			all := strings.Join(append(dws, ws...), "\n")
			if !strings.Contains(all, tc.want) {
				t.Fatalf("warnings:\n%s\nwant one containing %q", all, tc.want)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	old := loadExample(t, "vllm-dense-online")
	if _, err := Default(old); err != nil {
		t.Fatal(err)
	}
	for _, state := range []v1alpha1.State{v1alpha1.StateProfiling, v1alpha1.StateDeploying, v1alpha1.StateReady} {
		old.Status.State = state
		edited := old.DeepCopy()
		edited.Spec.AutoApply = false
		_, errs := ValidateUpdate(old, edited)
		requireError(t, errs, "spec", `updates are forbidden while the resource is in state "`+string(state)+`"; delete and recreate the resource to change its spec`)

		relabelled := old.DeepCopy()
		relabelled.Labels = map[string]string{"team": "a"}
		relabelled.Status.State = v1alpha1.StateFailed
		if _, errs := ValidateUpdate(old, relabelled); len(errs) > 0 {
			t.Errorf("%s: metadata/status change refused: %v", state, errs)
		}
		// The same config with other key order and spacing is no spec change.
		reordered := old.DeepCopy()
		setRaw(reordered, " "+string(old.Spec.ProfilingConfig.Config.Raw))
		if _, errs := ValidateUpdate(old, reordered); len(errs) > 0 {
			t.Errorf("%s: byte-level config change refused: %v", state, errs)
		}
		deleting := edited.DeepCopy()
		deleting.DeletionTimestamp = &metav1.Time{}
		if _, errs := ValidateUpdate(old, deleting); len(errs) > 0 {
			t.Errorf("%s: update of a deleting object refused: %v", state, errs)
		}
	}
	for _, state := range []v1alpha1.State{"", v1alpha1.StatePending, v1alpha1.StateFailed} {
		old.Status.State = state
		edited := old.DeepCopy()
		edited.Spec.AutoApply = false
		if _, errs := ValidateUpdate(old, edited); len(errs) > 0 {
			t.Errorf("state %q: spec edit refused: %v", state, errs)
		}
		bad := edited.DeepCopy()
		bad.Spec.Model = ""
		_, errs := ValidateUpdate(old, bad)
		requireError(t, errs, "spec.model", "model is required")
	}
}

func TestNilAndEmpty(t *testing.T) {
	_, errs := Validate(nil)
	requireError(t, errs, "spec", "the DynamoGraphDeploymentRequest is empty")
	_, errs = Validate(&v1alpha1.DynamoGraphDeploymentRequest{})
	for _, p := range []string{"spec.model", "spec.backend", "spec.profilingConfig.profilerImage", "spec.profilingConfig.config"} {
		requireError(t, errs, p, "required")
	}
	if InvalidError("x", nil) != nil {
		t.Error("InvalidError with no errors must be nil")
	}
}

// TestDefaultRefusesLongModel: a model name past MaxModelLen is refused by
// the mutating step too, before it is copied into the config.
func TestDefaultRefusesLongModel(t *testing.T) {
	d := mk(t, `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}}`)
	d.Spec.Model = strings.Repeat("q", MaxModelLen+1)
	before := string(d.Spec.ProfilingConfig.Config.Raw)
	_, err := Default(d)
	if err == nil || !strings.Contains(err.Error(), "spec.model: Too long: may not be more than 256 bytes") {
		t.Fatalf("err = %v", err)
	}
	if string(d.Spec.ProfilingConfig.Config.Raw) != before {
		t.Errorf("object changed on error")
	}
}
