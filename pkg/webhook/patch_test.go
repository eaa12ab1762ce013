package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/go-logr/logr"
	jsonpatchapply "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"
)

// stockMutating is the mutating handler as controller-runtime's
// WithDefaulter alone builds it: the reference configPatcher must match.
func stockMutating() *ctrladmission.Webhook {
	wh := ctrladmission.WithDefaulter[*DGDR](NewScheme(), Defaulter{})
	return &ctrladmission.Webhook{Handler: withWarnings{inner: wh.Handler}}
}

// samePatchedObject fails unless both replies allow or deny alike, carry
// the same warnings, and their patches turn the request's object into the
// object read through the API types, with the same config document. The
// comparison is of typed objects because the stock handler also adds every
// absent field its structs always marshal ("status": {}, "model": "");
// the config patch leaves those alone. The stock handler also answers 500
// when its whole-object diff cannot parse a number such as 1e999, where the
// config patch lets the validator name the field.
func samePatchedObject(t *testing.T, body []byte, got, want *admissionv1.AdmissionResponse) {
	t.Helper()
	if !want.Allowed && want.Result != nil && want.Result.Code == http.StatusInternalServerError {
		return
	}
	if got.Allowed != want.Allowed || !slices.Equal(got.Warnings, want.Warnings) {
		t.Fatalf("configPatcher allowed=%v warnings=%q; stock allowed=%v warnings=%q", got.Allowed, got.Warnings, want.Allowed, want.Warnings)
	}
	var in admissionv1.AdmissionReview
	if sigsjson.UnmarshalCaseSensitivePreserveInts(body, &in) != nil || in.Request == nil || !want.Allowed || len(in.Request.Object.Raw) == 0 {
		return
	}
	apply := func(r *admissionv1.AdmissionResponse) (*DGDR, any) {
		doc := in.Request.Object.Raw
		if len(r.Patch) > 0 {
			p, err := jsonpatchapply.DecodePatch(r.Patch)
			if err != nil {
				t.Fatalf("patch %s: %v", r.Patch, err)
			}
			if doc, err = p.Apply(doc); err != nil {
				t.Fatalf("apply %s to %s: %v", r.Patch, in.Request.Object.Raw, err)
			}
		}
		var obj DGDR
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(doc, &obj); err != nil {
			t.Fatalf("patched object %s: %v", doc, err)
		}
		var cfg any
		if c := obj.Spec.ProfilingConfig.Config; c != nil {
			dec := json.NewDecoder(bytes.NewReader(c.Raw))
			dec.UseNumber() // 1e999 is a valid JSON number
			if err := dec.Decode(&cfg); err != nil {
				t.Fatalf("patched config %s: %v", c.Raw, err)
			}
		}
		obj.Spec.ProfilingConfig.Config = nil
		return &obj, cfg
	}
	g, gcfg := apply(got)
	w, wcfg := apply(want)
	if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(gcfg, wcfg) {
		t.Fatalf("patched objects differ:\nconfigPatcher %s\nstock         %s\n(object %s)", got.Patch, want.Patch, in.Request.Object.Raw)
	}
}

// patchCases are reviews whose mutation takes every branch: the config
// patch, no change, the stock fallback (namespace or configMapRef.key
// injected), an injection error, a frozen update and a delete.
func patchCases(t testing.TB) [][]byte {
	var out [][]byte
	for _, n := range exampleNames {
		for _, ns := range []string{"team-a", ""} {
			obj := exampleJSON(t, n, ns)
			out = append(out, review(t, admissionv1.Create, obj, nil), review(t, admissionv1.Update, obj, obj))
			frozen := bytes.Replace(obj, []byte(`"status":{}`), []byte(`"status":{"state":"Ready"}`), 1)
			out = append(out, review(t, admissionv1.Update, obj, frozen), review(t, admissionv1.Delete, nil, obj))
		}
	}
	for _, spec := range []string{
		`"profilingConfig":{"profilerImage":"i","config":{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20}}}`,
		`"profilingConfig":{"profilerImage":"i","config":{"deployment":{"model":"other","namespace":"x"},"engine":{"backend":"sglang"}}}`,
		`"profilingConfig":{"profilerImage":"i","config":{"deployment":{"model":"Qwen/Qwen3-0.6B","namespace":"team-a"},"engine":{"backend":"vllm"}}}`,
		`"profilingConfig":{"profilerImage":"i","config":{"sweep":{"useAiConfigurator":true,"aicSystem":"h100_sxm"},"hardware":{"numGpusPerNode":4}}}`,
		`"profilingConfig":{"profilerImage":"i","config":{"sweep":{"use_ai_configurator":true},"aic":{"system":"h200_sxm"},"hardware":{"max_num_gpus_per_engine":2}}}`,
		`"profilingConfig":{"profilerImage":"i","configMapRef":{"name":"cm"},"config":{"engine":{"config":"/x.yaml"}}}`,
		`"profilingConfig":{"profilerImage":"i","configMapRef":{"name":"cm","key":"k.yaml"},"config":{}}`,
		`"profilingConfig":{"profilerImage":"i","config":{"deployment":"flat"}}`,
		`"profilingConfig":{"profilerImage":"i","config":null}`,
		`"profilingConfig":{"profilerImage":"i"},"deploymentOverrides":{"workersImage":"w:1"}`,
		`"profilingConfig":{"profilerImage":"i","config":{"deployment":{"dgdImage":"old"},"unknown":{"nested":[1,"2",{"x":null}]}}},"deploymentOverrides":{"workersImage":"w:1"}`,
	} {
		obj := []byte(`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeploymentRequest","metadata":{"name":"p","namespace":"team-a"},` +
			`"spec":{"model":"Qwen/Qwen3-0.6B","backend":"vllm",` + spec + `}}`)
		out = append(out, review(t, admissionv1.Create, obj, nil))
	}
	return out
}

func TestConfigPatcherMatchesStockDefaulter(t *testing.T) {
	mutate, _ := handlers()
	stock := stockMutating()
	patched := 0
	for _, body := range patchCases(t) {
		got, want := post(t, mutate, body), post(t, stock, body)
		samePatchedObject(t, body, got, want)
		if bytes.Contains(got.Patch, []byte(`"path":"`+configPatchPath+`"`)) {
			patched++
		}
	}
	// The fast path must really be taken, or this test compares the stock
	// handler with itself.
	if patched < 10 {
		t.Errorf("only %d reviews took the config patch", patched)
	}
}

// BenchmarkMutatingPatch compares the two mutating paths on the AI
// Configurator example (decode, Default, patch; no HTTP).
func BenchmarkMutatingPatch(b *testing.B) {
	ctrllog.SetLogger(logr.Discard())
	mutate, _ := handlers()
	for name, wh := range map[string]http.Handler{"config-patch": mutate, "stock-WithDefaulter": stockMutating()} {
		h := wh.(*ctrladmission.Webhook)
		req := ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{UID: "u", Operation: admissionv1.Create, Name: "x", Namespace: "team-a"}}
		req.Object.Raw = exampleJSON(b, "trtllm-aic-offline", "team-a")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if r := h.Handle(b.Context(), req); !r.Allowed || len(r.Patch) == 0 {
					b.Fatal(r.Result)
				}
			}
		})
	}
}
