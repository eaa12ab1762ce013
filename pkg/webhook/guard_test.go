package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// guarded returns both handlers behind the envelope guard, as the server
// registers them.
func guarded() (mutate, validate http.Handler) {
	m, v := handlers()
	return guard(m), guard(v)
}

// postRaw sends body and returns the HTTP status and the reply.
func postRaw(h http.Handler, body []byte) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestEnvelopeChecked: a review that is not an admission.k8s.io/v1
// AdmissionReview for a DGDR with a uid is refused, never allowed.
func TestEnvelopeChecked(t *testing.T) {
	obj := exampleJSON(t, "vllm-dense-online", "team-a")
	good := review(t, admissionv1.Create, obj, nil)
	swap := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }
	mutate, validate := guarded()
	for _, h := range []http.Handler{mutate, validate} {
		if code, body := postRaw(h, good); code != http.StatusOK || !strings.Contains(body, `"allowed":true`) {
			t.Fatalf("a good review: %d %s", code, body)
		}
		for name, tc := range map[string]struct {
			body []byte
			want string
		}{
			"apiVersion v2":     {swap(`"apiVersion":"admission.k8s.io/v1"`, `"apiVersion":"admission.k8s.io/v2"`), `apiVersion "admission.k8s.io/v2", kind "AdmissionReview": this webhook takes only apiVersion admission.k8s.io/v1, kind AdmissionReview`},
			"kind Pod":          {swap(`"kind":"AdmissionReview"`, `"kind":"Pod"`), `kind "Pod"`},
			"kind twice":        {swap(`"kind":"AdmissionReview"`, `"kind":"AdmissionReview","KIND":"AdmissionReview"`), "KIND is given twice"},
			"escaped key":       {swap(`"kind":"AdmissionReview"`, `"ki\u006ed":"AdmissionReview"`), "not a plain string"},
			"not an object":     {[]byte(`[1]`), "not a JSON object"},
			"missing uid":       {swap(`"uid":"uid-CREATE",`, ``), "request.uid is empty"},
			"request kind Pod":  {swap(`"kind":"DynamoGraphDeploymentRequest"}`, `"kind":"Pod"}`), "request.kind nvidia.com/Pod: this webhook admits only nvidia.com/DynamoGraphDeploymentRequest"},
			"request group":     {swap(`"group":"nvidia.com","version":"v1alpha1","kind"`, `"group":"","version":"v1","kind"`), "this webhook admits only"},
			"body over the cap": {append(append([]byte{}, good[:len(good)-1]...), append(bytes.Repeat([]byte(" "), MaxReviewBytes), '}')...), "larger than 1048576 bytes"},
		} {
			code, body := postRaw(h, tc.body)
			if strings.Contains(body, `"allowed":true`) || !strings.Contains(body, tc.want) {
				t.Errorf("%s: %d %s\nwant it refused with %q", name, code, body, tc.want)
			}
		}
	}
}

// TestUndecodableObjectNamed: an object the decoder refuses (NaN from
// YAML's .nan, a duplicate key) is answered with the field, by both steps.
func TestUndecodableObjectNamed(t *testing.T) {
	obj := exampleJSON(t, "vllm-dense-online", "team-a")
	mutate, validate := guarded()
	for _, tc := range []struct {
		old, new, want string
		steps          []http.Handler
	}{
		// The review does not decode: no uid to echo.
		{`"ttft":200`, `"ttft":NaN`, `request.object.spec.profilingConfig.config.sla.ttft: Invalid value: \"NaN\": must be a finite number`, []http.Handler{mutate, validate}},
		// The config keeps its bytes through the typed decode, so the
		// validating step sees the duplicate (the mutating one leaves it).
		{`"ttft":200`, `"ttft":"abc","ttft":200`, `spec.profilingConfig.config.sla.ttft: Duplicate value: \"ttft\"`, []http.Handler{validate}},
	} {
		bad := bytes.Replace(obj, []byte(tc.old), []byte(tc.new), 1)
		if bytes.Equal(bad, obj) {
			t.Fatalf("%s not in the example: %s", tc.old, obj)
		}
		body := review(t, admissionv1.Create, json.RawMessage(`{}`), nil)
		body = bytes.Replace(body, []byte(`"object":{}`), append([]byte(`"object":`), bad...), 1)
		for _, h := range tc.steps {
			code, reply := postRaw(h, body)
			if code != http.StatusOK || strings.Contains(reply, `"allowed":true`) || !strings.Contains(reply, tc.want) {
				t.Errorf("%s: %d %s\nwant %s", tc.new, code, reply, tc.want)
			}
		}
	}
}

// FuzzPeekTypeMeta: the one-pass peek agrees with encoding/json on every
// object it accepts, and never panics.
func FuzzPeekTypeMeta(f *testing.F) {
	for _, s := range []string{`{"apiVersion":"a","kind":"b"}`, `{"request":{"kind":"x","a":[1,"]"]},"kind":"k"}`,
		`{"a":"\"}","apiVersion":"v"}`, `{}`, `{"kind":1}`, `{"kind":"a","Kind":"b"}`, ` {"x":{"y":{}} , "kind" : "z" } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, k, err := peekTypeMeta(b)
		if err != nil || !json.Valid(b) {
			return
		}
		var std struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if json.Unmarshal(b, &std) == nil && (std.APIVersion != v || std.Kind != k) {
			t.Fatalf("%q: peek %q %q, encoding/json %q %q", b, v, k, std.APIVersion, std.Kind)
		}
	})
}
