package output

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestGoldenDGD(t *testing.T) {
	cases := []struct {
		name, backend string
		pre, dec      results.Mapping
		config        string
		dgdrName      string
	}{
		{"vllm-tp", "vllm", mapping("TP", 1), mapping("TP", 1), "", "sla-online"},
		{"vllm-dep-multinode", "vllm", mapping("TEP", 8), mapping("DEP", 16), "", "vllm-moe"},
		{"sglang-tep-dep-multinode", "sglang", mapping("TEP", 16), mapping("DEP", 16),
			`{"sla":{"isl":2048,"osl":512,"ttft":300.0,"itl":25.0},"deployment":{"model":"deepseek-ai/DeepSeek-R1","modelCache":{"pvcName":"model-cache","pvcPath":"deepseek-r1"}},"engine":{"backend":"sglang"},"hardware":{"num_gpus_per_node":8},"planner":{"planner_min_endpoint":2,"adjustmentInterval":60,"loadPredictor":"arima"}}`,
			"sglang-moe"},
		{"sglang-tp", "sglang", mapping("TP", 2), mapping("TP", 4), "", "sglang-dense"},
		{"trtllm-tp", "trtllm", mapping("TP", 2), mapping("TP", 4), "", "trtllm-aic"},
		{"trtllm-tep-dep", "trtllm", mapping("TEP", 8), mapping("DEP", 8), "", "trt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := typicalResults(tc.backend, tc.pre, tc.dec)
			in := typicalInputs(tc.backend, tc.config)
			in.DGDR.Name = tc.dgdrName
			r.Input.SLA = in.Settings.SLA
			if in.Settings.Model != "" {
				r.Input.Model, in.DGDR.Spec.Model = in.Settings.Model, in.Settings.Model
			}
			got, err := ConfigWithPlanner(r, in)
			if err != nil {
				t.Fatal(err)
			}
			mock, err := MockerConfigWithPlanner(r, in)
			if err != nil {
				t.Fatal(err)
			}
			got = append(append(got, "# mocker_config_with_planner.yaml\n---\n"...), mock...)
			golden := filepath.Join("testdata", tc.name+".yaml")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/output -run TestGoldenDGD -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the golden file; if intended, rerun with -update.\ngot:\n%s", golden, got)
			}
		})
	}
}

// service finds a service's main container of a generated DGD.
func mainContainer(t *testing.T, svc *dgd.ServiceSpec) container {
	t.Helper()
	var eps extraPodSpec
	if err := yaml.Unmarshal(svc.ExtraPodSpec.Raw, &eps); err != nil || eps.MainContainer == nil {
		t.Fatalf("extraPodSpec: %v", err)
	}
	return *eps.MainContainer
}

func TestGenerateDGDWiring(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	d, err := GenerateDGD(r, typicalInputs("vllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	// §14.2 golden worker edits and dgdr-api §9.4 wiring.
	pre, dec := d.Spec.Services["VllmPrefillWorker"], d.Spec.Services["VllmDecodeWorker"]
	if pre == nil || dec == nil || d.Spec.Services["Frontend"] == nil || d.Spec.Services["Planner"] == nil || len(d.Spec.Services) != 4 {
		t.Fatalf("services: %v", slices.Sorted(mapsKeys(d.Spec.Services)))
	}
	if got := mainContainer(t, pre).Args; !slices.Equal(got, []string{"--model", "Qwen/Qwen3-0.6B", "--is-prefill-worker", "--tensor-parallel-size", "1"}) {
		t.Errorf("prefill args = %q", got)
	}
	if got := mainContainer(t, dec).Args; !slices.Equal(got, []string{"--model", "Qwen/Qwen3-0.6B", "--is-decode-worker", "--tensor-parallel-size", "1"}) {
		t.Errorf("decode args = %q", got)
	}
	if pre.SubComponentType != "prefill" || dec.SubComponentType != "decode" || pre.ComponentType != "worker" || pre.Resources.Limits.GPU != "1" || *pre.Replicas != 1 {
		t.Errorf("prefill worker: %+v", pre)
	}
	pl := mainContainer(t, d.Spec.Services["Planner"])
	if !slices.Equal(pl.Args, []string{"--itl=20", "--ttft=200", "--prefill-engine-num-gpu=1", "--decode-engine-num-gpu=1", "--profile-results-dir=/workspace/profiling_results"}) {
		t.Errorf("planner args = %q (§13 golden)", pl.Args)
	}
	if pl.WorkingDir != "/workspace/components/src/dynamo/planner" || !slices.Equal(pl.Command, []string{"python3", "-m", "dynamo.planner.planner_sla"}) {
		t.Errorf("planner container: %+v", pl)
	}
	if len(pl.VolumeMounts) != 1 || pl.VolumeMounts[0].MountPath != "/workspace/profiling_results" || !pl.VolumeMounts[0].ReadOnly {
		t.Errorf("planner mount: %+v", pl.VolumeMounts)
	}
	if pl.Image != "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.7.1" || mainContainer(t, pre).Image != pl.Image {
		t.Errorf("images: planner %s", pl.Image)
	}
	// Name and labels (dgdr-api §8.6).
	if d.Name != "sla-online" || d.Namespace != "team-a" || d.Spec.BackendFramework != "vllm" {
		t.Errorf("metadata: %s/%s %s", d.Namespace, d.Name, d.Spec.BackendFramework)
	}
	want := map[string]string{v1alpha1.LabelDGDRName: "sla-online", v1alpha1.LabelDGDRNamespace: "team-a", v1alpha1.LabelManagedBy: "dynamo-operator"}
	for k, v := range want {
		if d.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, d.Labels[k], v)
		}
	}
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestOverridesAndManagedLabels(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	in := typicalInputs("vllm", "")
	in.DGDR.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{
		Name: "qwen", Namespace: "prod", WorkersImage: "registry.local/dynamo-frontend:1.2.3",
		Labels:      map[string]string{"team": "a", v1alpha1.LabelDGDRName: "hijack", v1alpha1.LabelManagedBy: "me"},
		Annotations: map[string]string{"note": "x"},
	}
	in.Settings.DGDImage = ""
	d, err := GenerateDGD(r, in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "qwen" || d.Namespace != "prod" || d.Annotations["note"] != "x" || d.Labels["team"] != "a" {
		t.Errorf("overrides not applied: %+v", d.ObjectMeta)
	}
	if d.Labels[v1alpha1.LabelDGDRName] != "sla-online" || d.Labels[v1alpha1.LabelManagedBy] != "dynamo-operator" || d.Labels[v1alpha1.LabelDGDRNamespace] != "team-a" {
		t.Errorf("managed labels must win: %v", d.Labels)
	}
	// TV-14: planner image from a dynamo-frontend image.
	if img := mainContainer(t, d.Spec.Services["Planner"]).Image; img != "registry.local/dynamo-planner:1.2.3" {
		t.Errorf("planner image = %s", img)
	}
	if img := mainContainer(t, d.Spec.Services["VllmDecodeWorker"]).Image; img != "registry.local/dynamo-frontend:1.2.3" {
		t.Errorf("worker image = %s", img)
	}
	// deployment.dgd_image wins over everything.
	in.Settings.DGDImage = "my/img:9"
	d, _ = GenerateDGD(r, in)
	if img := mainContainer(t, d.Spec.Services["Frontend"]).Image; img != "my/img:9" {
		t.Errorf("frontend image = %s", img)
	}
}

func TestNameLengthRule(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	in := typicalInputs("vllm", "")
	in.DGDR.Name = strings.Repeat("a", 29) // + "vllmprefillworker" (17) = 46
	_, err := GenerateDGD(r, in)
	if err == nil || !strings.Contains(err.Error(), `DGD name "`+in.DGDR.Name+`" + service "VllmPrefillWorker" exceeds 45 characters`) || !strings.Contains(err.Error(), "at most 28") {
		t.Fatalf("want the 45-character error, got %v", err)
	}
	in.DGDR.Name = strings.Repeat("a", 28)
	if _, err := GenerateDGD(r, in); err != nil {
		t.Fatalf("28 characters must fit: %v", err)
	}
	// Multinode services also need room for "-ldr".
	r = typicalResults("sglang", mapping("TEP", 16), mapping("DEP", 16))
	in = typicalInputs("sglang", "")
	in.DGDR.Name = strings.Repeat("b", 30)
	if _, err := GenerateDGD(r, in); err == nil || !strings.Contains(err.Error(), "exceeds 45") {
		t.Fatalf("multinode name rule: %v", err)
	}
	in.DGDR.Name = "Bad_Name"
	if _, err := GenerateDGD(r, in); err == nil || !strings.Contains(err.Error(), "deploymentOverrides.name") {
		t.Fatalf("invalid name: %v", err)
	}
}

func TestMultinodeResources(t *testing.T) {
	r := typicalResults("sglang", mapping("TEP", 16), mapping("DEP", 4))
	d, err := GenerateDGD(r, typicalInputs("sglang", ""))
	if err != nil {
		t.Fatal(err)
	}
	pre, dec := d.Spec.Services["prefill"], d.Spec.Services["decode"]
	if pre.Resources.Limits.GPU != "8" || pre.Multinode == nil || pre.Multinode.NodeCount != 2 {
		t.Errorf("TEP16 on 8-GPU nodes: gpu %s multinode %+v", pre.Resources.Limits.GPU, pre.Multinode)
	}
	if dec.Resources.Limits.GPU != "4" || dec.Multinode != nil {
		t.Errorf("DEP4: gpu %s multinode %+v", dec.Resources.Limits.GPU, dec.Multinode)
	}
	args := mainContainer(t, dec).Args
	for _, want := range [][]string{{"--tp", "4"}, {"--dp", "4"}, {"--ep", "4"}} {
		if i := slices.Index(args, want[0]); i < 0 || args[i+1] != want[1] {
			t.Errorf("DEP4 sglang args %q lack %v", args, want)
		}
	}
	if !slices.Contains(args, "--enable-dp-attention") {
		t.Errorf("DEP sglang needs --enable-dp-attention: %q", args)
	}
	// TP cannot span nodes.
	r = typicalResults("vllm", mapping("TP", 16), mapping("TP", 1))
	if _, err := GenerateDGD(r, typicalInputs("vllm", "")); err == nil || !strings.Contains(err.Error(), "TP cannot span nodes") {
		t.Errorf("TP16 on 8-GPU nodes: %v", err)
	}
}

func TestTRTLLMOverrideArgs(t *testing.T) {
	r := typicalResults("trtllm", mapping("TEP", 8), mapping("DEP", 8))
	d, err := GenerateDGD(r, typicalInputs("trtllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	args := mainContainer(t, d.Spec.Services["TRTLLMDecodeWorker"]).Args
	i := slices.Index(args, "--override-engine-args")
	if i < 0 || args[i+1] != `{"enable_attention_dp":true,"moe_expert_parallel_size":8,"moe_tensor_parallel_size":1,"tensor_parallel_size":8}` {
		t.Errorf("DEP8 trtllm args = %q", args)
	}
	args = mainContainer(t, d.Spec.Services["TRTLLMPrefillWorker"]).Args
	i = slices.Index(args, "--override-engine-args")
	if i < 0 || !strings.Contains(args[i+1], `"enable_attention_dp":false`) || slices.Index(args, "--model-path") < 0 || slices.Index(args, "--served-model-name") < 0 {
		t.Errorf("TEP8 trtllm args = %q", args)
	}
	// An existing override is merged, not duplicated.
	merged, err := parallelismArgs("trtllm", []string{"--override-engine-args", `{"max_batch_size":4}`}, mapping("TP", 2))
	if err != nil || len(merged) != 2 || merged[1] != `{"max_batch_size":4,"tensor_parallel_size":2}` {
		t.Errorf("merge: %q %v", merged, err)
	}
}

func TestModelCachePVC(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	in := typicalInputs("vllm", `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"deployment":{"modelCache":{"pvcName":"model-cache","pvcPath":"/qwen/","mountPath":"/models/"}}}`)
	d, err := GenerateDGD(r, in)
	if err != nil {
		t.Fatal(err)
	}
	// One join rule, no doubled path (§19 P18).
	if args := mainContainer(t, d.Spec.Services["VllmPrefillWorker"]).Args; args[1] != "/models/qwen/" || !slices.Contains(args, "--served-model-name") {
		t.Errorf("worker args = %q", args)
	}
	fe := mainContainer(t, d.Spec.Services["Frontend"])
	if !slices.Equal(fe.Args, []string{"--model-name", "Qwen/Qwen3-0.6B", "--model-path", "/models/qwen/"}) {
		t.Errorf("frontend args = %q", fe.Args)
	}
	if len(d.Spec.PVCs) != 1 || string(d.Spec.PVCs[0].Raw) != `{"create":false,"name":"model-cache"}` {
		t.Errorf("pvcs = %v", d.Spec.PVCs)
	}
	if vm := d.Spec.Services["VllmDecodeWorker"].VolumeMounts; len(vm) != 1 || vm[0].MountPoint != "/models/" {
		t.Errorf("volumeMounts = %+v", vm)
	}
}

func TestRenamePlannerConfigMap(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	d, err := GenerateDGD(r, typicalInputs("vllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := RenamePlannerConfigMap(d, "planner-profile-data-sla-online")
	if err != nil || !ok {
		t.Fatalf("rename: %v %v", ok, err)
	}
	y, _ := DGDYAML(d)
	if !strings.Contains(string(y), "name: planner-profile-data-sla-online") || !strings.Contains(string(y), "- mountPath: /workspace/profiling_results\n            name: planner-profile-data\n") {
		t.Errorf("volume not renamed (the mount keeps its volume name):\n%s", y)
	}
	if _, err := RenamePlannerConfigMap(d, "Bad Name"); err == nil {
		t.Error("invalid name accepted")
	}
}
