package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

var exampleNames = []string{"vllm-dense-online", "trtllm-aic-offline", "sglang-moe"}

// exampleJSON is an examples/ DGDR as the apiserver would send it.
func exampleJSON(t testing.TB, name, namespace string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatal(err)
	}
	d.Namespace = namespace
	j, err := json.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// review builds an AdmissionReview body.
func review(t testing.TB, op admissionv1.Operation, obj, old []byte) []byte {
	t.Helper()
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("uid-" + string(op)),
			Kind:      metav1.GroupVersionKind{Group: "nvidia.com", Version: "v1alpha1", Kind: "DynamoGraphDeploymentRequest"},
			Resource:  metav1.GroupVersionResource{Group: "nvidia.com", Version: "v1alpha1", Resource: "dynamographdeploymentrequests"},
			Name:      "x",
			Namespace: "team-a",
			Operation: op,
			Object:    runtime.RawExtension{Raw: obj},
			OldObject: runtime.RawExtension{Raw: old},
		},
	}
	b, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends a body through the handler's ServeHTTP and decodes the reply;
// it fails the test unless the reply is a well-formed AdmissionReview.
func post(t testing.TB, wh http.Handler, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	wh.ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("malformed response (%v): %s", err, rec.Body.String())
	}
	return out.Response
}

func handlers() (mutate, validate *ctrladmission.Webhook) {
	s := NewScheme()
	return NewMutatingWebhook(s).WithRecoverPanic(false), NewValidatingWebhook(s).WithRecoverPanic(false)
}

func TestMutatingInjectsAndWarns(t *testing.T) {
	mutate, _ := handlers()
	for _, n := range exampleNames {
		resp := post(t, mutate, review(t, admissionv1.Create, exampleJSON(t, n, ""), nil))
		if !resp.Allowed || resp.UID != "uid-CREATE" {
			t.Fatalf("%s: not allowed or wrong UID: %+v", n, resp)
		}
		var ops []map[string]any
		if err := json.Unmarshal(resp.Patch, &ops); err != nil {
			t.Fatalf("%s: patch: %v", n, err)
		}
		// The config is re-encoded: one replace of the whole value or
		// per-key adds; either way the injected model must be in it.
		if !bytes.Contains(resp.Patch, []byte(`/spec/profilingConfig/config/deployment`)) {
			t.Errorf("%s: patch does not inject into deployment: %s", n, resp.Patch)
		}
		if !bytes.Contains(resp.Patch, []byte(`team-a`)) {
			t.Errorf("%s: namespace from the request not injected: %s", n, resp.Patch)
		}
		if n == "trtllm-aic-offline" && (len(resp.Warnings) != 1 || !bytes.Contains([]byte(resp.Warnings[0]), []byte("max_num_gpus_per_engine was not set; set it to 8"))) {
			t.Errorf("%s: warnings %q, want the AI Configurator max warning", n, resp.Warnings)
		}
	}
	// W1/W2 from the mutating step reach the response.
	obj := []byte(`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeploymentRequest","metadata":{"name":"x","namespace":"team-a"},
	  "spec":{"model":"Qwen/Qwen3-0.6B","backend":"vllm","profilingConfig":{"profilerImage":"i","config":{"deployment":{"model":"m2"},"sla":{"isl":1,"osl":1,"ttft":1,"itl":1}}}}}`)
	resp := post(t, mutate, review(t, admissionv1.Create, obj, nil))
	if len(resp.Warnings) != 1 || resp.Warnings[0] != "spec.profilingConfig.config.deployment.model (m2) will be overwritten by spec.model (Qwen/Qwen3-0.6B)" {
		t.Errorf("warnings = %q", resp.Warnings)
	}
	// An injection error leaves the object to the validator: allowed, no patch.
	bad := bytes.Replace(obj, []byte(`{"model":"m2"}`), []byte(`"flat"`), 1)
	resp = post(t, mutate, review(t, admissionv1.Create, bad, nil))
	if !resp.Allowed || len(resp.Patch) != 0 {
		t.Errorf("bad deployment section: %+v", resp)
	}
}

func TestMutatingSkipsFrozenUpdate(t *testing.T) {
	mutate, _ := handlers()
	obj := exampleJSON(t, "vllm-dense-online", "team-a")
	old := bytes.Replace(obj, []byte(`"status":{}`), []byte(`"status":{"state":"Profiling"}`), 1)
	if bytes.Equal(old, obj) {
		t.Fatal("test setup: no status to replace")
	}
	resp := post(t, mutate, review(t, admissionv1.Update, obj, old))
	if !resp.Allowed || len(resp.Patch) != 0 {
		t.Errorf("frozen update was mutated: %s", resp.Patch)
	}
	resp = post(t, mutate, review(t, admissionv1.Update, obj, obj))
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Errorf("update in Pending was not injected: %+v", resp)
	}
}

func TestValidatingRefusesWithCauses(t *testing.T) {
	_, validate := handlers()
	obj := []byte(`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeploymentRequest","metadata":{"name":"bad","namespace":"team-a"},
	  "spec":{"model":"Qwen/Qwen3-0.6B","backend":"vllm","profilingConfig":{"profilerImage":"i","config":{"sla":{"isl":-1,"osl":150,"ttft":"200"}}}}}`)
	resp := post(t, validate, review(t, admissionv1.Create, obj, nil))
	if resp.Allowed || resp.Result == nil || resp.Result.Code != 422 || resp.Result.Details == nil {
		t.Fatalf("want a 422 Invalid, got %+v", resp)
	}
	want := map[string]string{
		"spec.profilingConfig.config.sla.ttft": `Invalid value: "200": sla.ttft must be a number, not a string; remove the quotes (ttft: 200)`,
		"spec.profilingConfig.config.sla.isl":  "Invalid value: -1: sla.isl must be positive; set it to the average input sequence length in tokens, e.g. 3000",
	}
	for _, c := range resp.Result.Details.Causes {
		if w, ok := want[c.Field]; ok && c.Message == w {
			delete(want, c.Field)
		}
	}
	if len(want) > 0 {
		t.Errorf("causes %+v lack %v", resp.Result.Details.Causes, want)
	}
	if resp.Result.Details.Name != "bad" || resp.Result.Details.Kind != "DynamoGraphDeploymentRequest" {
		t.Errorf("details = %+v", resp.Result.Details)
	}
	// Spec edits in Profiling are refused; metadata edits are not.
	cur := exampleJSON(t, "vllm-dense-online", "team-a")
	frozen := bytes.Replace(cur, []byte(`"status":{}`), []byte(`"status":{"state":"Profiling"}`), 1)
	edited := bytes.Replace(frozen, []byte(`"autoApply":true`), []byte(`"autoApply":false`), 1)
	resp = post(t, validate, review(t, admissionv1.Update, edited, frozen))
	if resp.Allowed || resp.Result == nil || len(resp.Result.Details.Causes) != 1 ||
		resp.Result.Details.Causes[0].Message != `Forbidden: updates are forbidden while the resource is in state "Profiling"; delete and recreate the resource to change its spec` {
		t.Errorf("frozen spec edit: %+v", resp.Result)
	}
	relabelled := bytes.Replace(frozen, []byte(`"name":"vllm-dense-online"`), []byte(`"name":"vllm-dense-online","labels":{"a":"b"}`), 1)
	if resp = post(t, validate, review(t, admissionv1.Update, relabelled, frozen)); !resp.Allowed {
		t.Errorf("label edit in Profiling refused: %+v", resp.Result)
	}
	if resp = post(t, validate, review(t, admissionv1.Delete, nil, frozen)); !resp.Allowed {
		t.Errorf("delete refused: %+v", resp.Result)
	}
}
