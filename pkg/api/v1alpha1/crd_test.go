package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	env, err = testenv.Start(ctx, testenv.Options{})
	if err != nil {
		// Fail, never skip: a missing control plane must be visible.
		println("starting the control plane:", err.Error())
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		println("stopping the control plane:", err.Error())
		code = 1
	}
	os.Exit(code)
}

func examples(t *testing.T) map[string][]byte {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want the seed's 3 examples under examples/, got %v (%v)", files, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func dgdrClient(t *testing.T, ns string) dynamic.ResourceInterface {
	t.Helper()
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dc.Resource(v1alpha1.DGDRGVR).Namespace(ns)
}

// The examples go into a real apiserver, are stored as v1beta1 (through the
// conversion webhook) and come back as v1alpha1 with every field, the
// free-form config included, unchanged. The v1alpha1 defaults are false
// booleans, which v1alpha1 omits: they may come back absent.
func TestExamplesRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := dgdrClient(t, "default")
	for name, data := range examples(t) {
		t.Run(name, func(t *testing.T) {
			var in unstructured.Unstructured
			if err := yaml.Unmarshal(data, &in.Object); err != nil {
				t.Fatal(err)
			}
			created, err := c.Create(ctx, &in, metav1.CreateOptions{FieldValidation: "Strict"})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			got, err := c.Get(ctx, created.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantSpec := in.Object["spec"].(map[string]any)
			gotSpec := got.Object["spec"].(map[string]any)
			// The schema's defaults are the only additions allowed.
			for k, def := range map[string]any{"autoApply": false, "useMocker": false} {
				if _, ok := wantSpec[k]; !ok {
					if v, ok := gotSpec[k]; ok && v != def {
						t.Errorf("spec.%s: want the default %v or nothing, got %v", k, def, v)
					}
					delete(gotSpec, k)
				}
			}
			if !reflect.DeepEqual(normalise(t, wantSpec), normalise(t, gotSpec)) {
				t.Errorf("spec changed in the round trip:\nwant %s\ngot  %s", mustJSON(t, wantSpec), mustJSON(t, gotSpec))
			}
			// The typed view decodes the same object.
			var typed v1alpha1.DynamoGraphDeploymentRequest
			if err := json.Unmarshal(mustJSON(t, got.Object), &typed); err != nil {
				t.Fatalf("typed decode: %v", err)
			}
			if typed.Spec.Model != wantSpec["model"] || typed.Spec.ProfilingConfig.Config == nil {
				t.Errorf("typed decode lost fields: %+v", typed.Spec)
			}
		})
	}
}

// normalise re-encodes through JSON so numbers compare alike (YAML 200.0 and
// JSON 200 are the same number).
func normalise(t *testing.T, v any) any {
	var out any
	if err := json.Unmarshal(mustJSON(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// `kubectl get dgdr` renders the server-side Table; ask for it the same way.
func TestPrinterColumns(t *testing.T) {
	ctx := context.Background()
	c := dgdrClient(t, "default")
	obj := validDGDR("columns")
	if _, err := c.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, _ = c.Get(ctx, "columns", metav1.GetOptions{})
	_ = unstructured.SetNestedField(obj.Object, "Ready", "status", "state")
	_ = unstructured.SetNestedField(obj.Object, "vllm", "status", "backend")
	_ = unstructured.SetNestedField(obj.Object, "successful", "status", "deployment", "state")
	if _, err := c.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rc := env.Client.CoreV1().RESTClient()
	raw, err := rc.Get().AbsPath("/apis/nvidia.com/v1alpha1/namespaces/default/dynamographdeploymentrequests/columns").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "Name,Model,Backend,State,DGD-State,Age"; got != want {
		t.Fatalf("columns = %s, want %s", got, want)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("want 1 row, got %d", len(table.Rows))
	}
	cells := table.Rows[0].Cells
	for i, want := range []any{"columns", "Qwen/Qwen3-0.6B", "vllm", "Ready", "successful"} {
		if cells[i] != want {
			t.Errorf("cell %s = %v, want %v", names[i], cells[i], want)
		}
	}

	// And as a user sees it, through the short name.
	// kubectl asks for the preferred version, v1beta1, and its columns.
	out, err := env.Kubectl(ctx, "get", "dgdr", "columns", "-n", "default")
	if err != nil {
		t.Fatalf("kubectl get dgdr: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME MODEL BACKEND PHASE PROFILING REASON MESSAGE DGD AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "columns Qwen/Qwen3-0.6B vllm Ready ") {
		t.Fatalf("kubectl get dgdr printed:\n%s", out)
	}
	// The v1alpha1 columns read status.backend and status.deployment.state,
	// which a v1alpha1 status write keeps although v1beta1 has no such fields.
	out, err = env.Kubectl(ctx, "get", "dynamographdeploymentrequests.v1alpha1.nvidia.com", "columns", "-n", "default")
	if err != nil {
		t.Fatalf("kubectl get dgdr (v1alpha1): %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "Warning: nvidia.com/v1alpha1 DynamoGraphDeploymentRequest is deprecated; use nvidia.com/v1beta1") {
		t.Errorf("kubectl printed no deprecation warning for v1alpha1:\n%s", out)
	}
	out = out[strings.Index(out, "\n")+1:]
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME MODEL BACKEND STATE DGD-STATE AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "columns Qwen/Qwen3-0.6B vllm Ready successful ") {
		t.Fatalf("kubectl get dgdr (v1alpha1) printed:\n%s", out)
	}
}

func validDGDR(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "nvidia.com/v1alpha1",
		"kind":       "DynamoGraphDeploymentRequest",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"model":   "Qwen/Qwen3-0.6B",
			"backend": "vllm",
			"profilingConfig": map[string]any{
				"profilerImage": "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1",
				"config":        map[string]any{"sla": map[string]any{"isl": int64(3000), "osl": int64(150), "ttft": int64(200), "itl": int64(20)}},
			},
		},
	}}
}

// The schema rejects what it can see, naming the field.
func TestSchemaRejects(t *testing.T) {
	ctx := context.Background()
	c := dgdrClient(t, "default")
	cases := map[string]struct {
		edit     func(spec map[string]any)
		wantPath string
		wantMsg  string
	}{
		"invalid backend": {
			edit:     func(s map[string]any) { s["backend"] = "tensorrt" },
			wantPath: "spec.backend", wantMsg: `Unsupported value: "tensorrt"`,
		},
		"missing profilerImage": {
			edit:     func(s map[string]any) { delete(s["profilingConfig"].(map[string]any), "profilerImage") },
			wantPath: "spec.profilingConfig.profilerImage", wantMsg: "Required value",
		},
		"empty model": {
			edit:     func(s map[string]any) { s["model"] = "" },
			wantPath: "spec.model", wantMsg: "should be at least 1 chars long",
		},
		"config not an object": {
			edit:     func(s map[string]any) { s["profilingConfig"].(map[string]any)["config"] = "sla: {}" },
			wantPath: "spec.profilingConfig.config", wantMsg: "must be of type object",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := validDGDR("bad")
			tc.edit(obj.Object["spec"].(map[string]any))
			_, err := c.Create(ctx, obj, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want Invalid, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.wantPath) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q lacks %q / %q", err, tc.wantPath, tc.wantMsg)
			}
		})
	}
}

// The CRD serves both versions, stores v1beta1 and deprecates v1alpha1,
// exactly like upstream's since Dynamo 1.0.
func TestBothVersionsServed(t *testing.T) {
	ext, err := apiextensionsclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(context.Background(), "dynamographdeploymentrequests.nvidia.com", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range crd.Spec.Versions {
		got[v.Name] = fmt.Sprintf("served=%v storage=%v deprecated=%v", v.Served, v.Storage, v.Deprecated)
	}
	want := map[string]string{"v1alpha1": "served=true storage=false deprecated=true", "v1beta1": "served=true storage=true deprecated=false"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("versions = %v, want %v", got, want)
	}
	if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.WebhookConverter {
		t.Errorf("conversion = %+v, want a webhook", crd.Spec.Conversion)
	}
	if got := crd.Status.StoredVersions; !reflect.DeepEqual(got, []string{"v1beta1"}) {
		t.Errorf("storedVersions = %v, want [v1beta1]", got)
	}
}

func clientFor(t *testing.T, gvr schema.GroupVersionResource) dynamic.ResourceInterface {
	t.Helper()
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dc.Resource(gvr).Namespace("default")
}

// Each seed example, created as v1alpha1, reads back as v1beta1 with its
// SLA, workload, hardware and search depth in typed fields, through the
// conversion webhook over TLS.
func TestV1alpha1ReadAsV1beta1(t *testing.T) {
	ctx := context.Background()
	alpha, beta := clientFor(t, v1alpha1.DGDRGVR), clientFor(t, v1beta1.DGDRGVR)
	want := map[string]struct {
		search          v1beta1.SearchStrategy
		isl, osl        int32
		ttft, itl       float64
		sku             v1beta1.GPUSKU
		gpusPerNode     int32
		autoApply       bool
		workersImageAnn bool
	}{
		"trtllm-aic-offline.yaml": {search: "rapid", isl: 4000, osl: 500, ttft: 300, itl: 10, sku: "h200_sxm", autoApply: true, workersImageAnn: true},
		"sglang-moe.yaml":         {search: "thorough", isl: 2048, osl: 512, ttft: 300, itl: 25, gpusPerNode: 8, autoApply: true, workersImageAnn: true},
		"vllm-dense-online.yaml":  {search: "thorough", isl: 3000, osl: 150, ttft: 200, itl: 20, autoApply: true, workersImageAnn: true},
	}
	for name, data := range examples(t) {
		t.Run(name, func(t *testing.T) {
			var in unstructured.Unstructured
			if err := yaml.Unmarshal(data, &in.Object); err != nil {
				t.Fatal(err)
			}
			in.SetName("x-" + in.GetName())
			if _, err := alpha.Create(ctx, &in, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			u, err := beta.Get(ctx, in.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var b v1beta1.DynamoGraphDeploymentRequest
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
				t.Fatal(err)
			}
			w := want[name]
			s := b.Spec
			if b.APIVersion != "nvidia.com/v1beta1" || s.SearchStrategy != w.search || s.Workload == nil || *s.Workload.ISL != w.isl ||
				*s.Workload.OSL != w.osl || s.SLA == nil || *s.SLA.TTFT != w.ttft || *s.SLA.ITL != w.itl || s.AutoApply == nil || *s.AutoApply != w.autoApply {
				t.Errorf("v1beta1 view:\n%s", mustJSON(t, u.Object))
			}
			if w.sku != "" && (s.Hardware == nil || s.Hardware.GPUSKU != w.sku) {
				t.Errorf("hardware.gpuSku: %s, want %s", mustJSON(t, s.Hardware), w.sku)
			}
			if w.gpusPerNode != 0 && (s.Hardware == nil || s.Hardware.NumGPUsPerNode == nil || *s.Hardware.NumGPUsPerNode != w.gpusPerNode) {
				t.Errorf("hardware.numGpusPerNode: %s, want %d", mustJSON(t, s.Hardware), w.gpusPerNode)
			}
			_, ann := b.Annotations[v1alpha1.AnnotationV1alpha1Fields]
			if ann != w.workersImageAnn {
				t.Errorf("annotation %s present=%v, want %v (deploymentOverrides.workersImage has no v1beta1 field)", v1alpha1.AnnotationV1alpha1Fields, ann, w.workersImageAnn)
			}
		})
	}
}

// A v1beta1 object reads back as v1alpha1 with its typed fields in the
// profiler config, and edits made in one version show in the other; what
// only one version has survives an edit made through the other.
func TestV1beta1ReadAsV1alpha1(t *testing.T) {
	ctx := context.Background()
	alpha, beta := clientFor(t, v1alpha1.DGDRGVR), clientFor(t, v1beta1.DGDRGVR)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: nvidia.com/v1beta1
kind: DynamoGraphDeploymentRequest
metadata: {name: beta-qwen}
spec:
  model: Qwen/Qwen3-32B
  backend: vllm
  image: nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0
  workload: {isl: 3000, osl: 150}
  sla: {ttft: 200, itl: 20}
  hardware: {gpuSku: h100_sxm, numGpusPerNode: 8}
  searchStrategy: rapid
  features:
    planner: {adjustment_interval: 60}
  overrides:
    dgd:
      apiVersion: nvidia.com/v1alpha1
      kind: DynamoGraphDeployment
      metadata: {name: qwen-prod}
      spec: {envs: [{name: LOG_LEVEL, value: debug}]}
`), &obj.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := beta.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatal(err)
	}
	u, err := alpha.Get(ctx, "beta-qwen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var a v1alpha1.DynamoGraphDeploymentRequest
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &a); err != nil {
		t.Fatal(err)
	}
	wantCfg := `{"hardware":{"deviceType":"cuda","numGpusPerNode":8,"system":"h100_sxm"},"planner":{"adjustment_interval":60},` +
		`"sla":{"isl":3000,"itl":20,"osl":150,"ttft":200},"sweep":{"useAiConfigurator":true}}`
	if a.Spec.ProfilingConfig.Config == nil || !reflect.DeepEqual(normalise(t, json.RawMessage(a.Spec.ProfilingConfig.Config.Raw)), normalise(t, json.RawMessage(wantCfg))) {
		t.Errorf("v1alpha1 config = %s\nwant             %s", a.Spec.ProfilingConfig.Config, wantCfg)
	}
	if a.Spec.ProfilingConfig.ProfilerImage != "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0" || !a.Spec.AutoApply ||
		a.Spec.DeploymentOverrides == nil || a.Spec.DeploymentOverrides.Name != "qwen-prod" {
		t.Errorf("v1alpha1 spec = %s", mustJSON(t, a.Spec))
	}

	// A v1alpha1 client edits the SLA and adds a configMapRef (v1alpha1 only).
	cfg := map[string]any{}
	if err := json.Unmarshal(a.Spec.ProfilingConfig.Config.Raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["sla"].(map[string]any)["ttft"] = 150
	_ = unstructured.SetNestedField(u.Object, normalise(t, cfg), "spec", "profilingConfig", "config")
	_ = unstructured.SetNestedField(u.Object, map[string]any{"name": "recipe"}, "spec", "profilingConfig", "configMapRef")
	if _, err := alpha.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The v1beta1 view has the new TTFT and still the overrides.dgd spec
	// that v1alpha1 cannot hold.
	bu, err := beta.Get(ctx, "beta-qwen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ttft, _, _ := unstructured.NestedFieldNoCopy(bu.Object, "spec", "sla", "ttft"); fmt.Sprint(ttft) != "150" {
		t.Errorf("v1beta1 spec.sla.ttft = %v after the v1alpha1 edit, want 150", ttft)
	}
	if envs, _, _ := unstructured.NestedSlice(bu.Object, "spec", "overrides", "dgd", "spec", "envs"); len(envs) != 1 {
		t.Errorf("overrides.dgd.spec.envs lost in the v1alpha1 edit: %s", mustJSON(t, bu.Object["spec"]))
	}
	// A v1beta1 client edits the ITL; the v1alpha1-only configMapRef survives.
	_ = unstructured.SetNestedField(bu.Object, int64(15), "spec", "sla", "itl")
	if _, err := beta.Update(ctx, bu, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err = alpha.Get(ctx, "beta-qwen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if name, _, _ := unstructured.NestedString(u.Object, "spec", "profilingConfig", "configMapRef", "name"); name != "recipe" {
		t.Errorf("configMapRef lost in the v1beta1 edit: %s", mustJSON(t, u.Object["spec"]))
	}
	if itl, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "profilingConfig", "config", "sla", "itl"); fmt.Sprint(itl) != "15" {
		t.Errorf("v1alpha1 sla.itl = %v after the v1beta1 edit, want 15", itl)
	}
}

// v1beta1.SetDefaults, which conversion relies on, applies exactly the
// defaults the API server applies from the generated schema.
func TestSetDefaultsMatchesTheServer(t *testing.T) {
	ctx := context.Background()
	beta := clientFor(t, v1beta1.DGDRGVR)
	in := &v1beta1.DynamoGraphDeploymentRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "nvidia.com/v1beta1", Kind: "DynamoGraphDeploymentRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
		Spec: v1beta1.DynamoGraphDeploymentRequestSpec{Model: "m", Workload: &v1beta1.WorkloadSpec{},
			ModelCache: &v1beta1.ModelCacheSpec{PVCName: "cache"}, Hardware: &v1beta1.HardwareSpec{}},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(in)
	if err != nil {
		t.Fatal(err)
	}
	created, err := beta.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := in.DeepCopy()
	v1beta1.SetDefaults(want)
	wantSpec, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
	if !reflect.DeepEqual(normalise(t, wantSpec["spec"]), normalise(t, created.Object["spec"])) {
		t.Errorf("server defaults %s\nSetDefaults    %s", mustJSON(t, created.Object["spec"]), mustJSON(t, wantSpec["spec"]))
	}
}
