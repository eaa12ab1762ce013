package webhook

import (
	"encoding/json"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	sigsjson "sigs.k8s.io/json"
)

// FuzzAdmissionReview posts arbitrary bodies to both handlers with panic
// recovery off. Every reply must be an AdmissionReview with a response, and
// when the request decoded, the response must carry its UID; the mutating
// handler's patch must give the object the stock WithDefaulter gives. The seed corpus
// (examples, invalid inputs, updates) also runs in every plain `go test`.
// Run: go test ./pkg/webhook -run '^$' -fuzz FuzzAdmissionReview -fuzztime 60s
func FuzzAdmissionReview(f *testing.F) {
	for _, n := range exampleNames {
		obj := exampleJSON(f, n, "team-a")
		f.Add(review(f, admissionv1.Create, obj, nil))
		f.Add(review(f, admissionv1.Update, obj, obj))
	}
	for _, cfg := range []string{
		`{"sla":{"isl":"3000","osl":-1,"ttft":1e999,"itl":true,"tftt":1}}`,
		`{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"hardware":{"max_num_gpus_per_engine":8,"maxNumGpusPerEngine":4},"sweep":{"use_ai_configurator":true,"aic_system":"h200_sxm"}}`,
		`{"deployment":5,"engine":[],"hardware":"x","sweep":true,"planner":{"min_endpoint":"2"}}`,
		`[1,2,3]`, `"str"`, `null`, `{}`,
	} {
		obj := []byte(`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeploymentRequest","metadata":{"name":"f","namespace":"n"},` +
			`"spec":{"model":"Qwen/Qwen3-0.6B","backend":"vllm","profilingConfig":{"profilerImage":"i","config":` + cfg + `}}}`)
		f.Add(review(f, admissionv1.Create, obj, nil))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"request":{"uid":"u","operation":"CREATE","object":{"spec":{"profilingConfig":{"config":{"sla":[]}}}}}}`))
	f.Add([]byte(`not json`))

	mutate, validate := handlers()
	gm, gv := guarded()
	stock := stockMutating()
	f.Fuzz(func(t *testing.T, body []byte) {
		var in admissionv1.AdmissionReview
		// Case-sensitive, like the apiserver's codec ("Uid" is not "uid").
		decoded := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &in) == nil && in.Request != nil
		for _, wh := range []http.Handler{mutate, validate} {
			resp := post(t, wh, body)
			if decoded && resp.Result != nil && resp.Result.Code == 400 {
				continue // the object or review itself did not decode; no UID to echo
			}
			if decoded && resp.UID != in.Request.UID {
				t.Fatalf("response UID %q, request UID %q", resp.UID, in.Request.UID)
			}
		}
		// Behind the guard: a plain HTTP error, or an AdmissionReview that
		// allows only what the bare handler allows.
		for i, h := range []http.Handler{gm, gv} {
			code, reply := postRaw(h, body)
			if code != http.StatusOK {
				continue
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal([]byte(reply), &out); err != nil || out.Response == nil {
				t.Fatalf("guarded handler %d: malformed reply %d %s", i, code, reply)
			}
			if out.Response.Allowed && !post(t, []http.Handler{mutate, validate}[i], body).Allowed {
				t.Fatalf("guarded handler %d allowed what the bare one refused: %s", i, body)
			}
		}
		// The config patch must leave the object as the stock handler does.
		samePatchedObject(t, body, post(t, mutate, body), post(t, stock, body))
	})
}
