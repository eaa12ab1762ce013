package v1alpha1_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
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

// The examples go into a real apiserver and come back with every field,
// the free-form config included, unchanged; only defaults are added.
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
					if gotSpec[k] != def {
						t.Errorf("spec.%s: default %v not applied, got %v", k, def, gotSpec[k])
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
	out, err := env.Kubectl(ctx, "get", "dgdr", "columns", "-n", "default")
	if err != nil {
		t.Fatalf("kubectl get dgdr: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME MODEL BACKEND STATE DGD-STATE AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "columns Qwen/Qwen3-0.6B vllm Ready successful ") {
		t.Fatalf("kubectl get dgdr printed:\n%s", out)
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
