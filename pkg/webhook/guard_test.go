package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
)

// guarded returns both handlers behind the envelope guard, as the server
// registers them.
func guarded() (mutate, validate http.Handler) {
	m, v := handlers()
	return guard(m, nil), guard(v, nil)
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
		`{"a":"\"}","apiVersion":"v"}`, `{}`, `{"kind":1}`, `{"kind":"a","Kind":"b"}`, ` {"x":{"y":{}} , "kind" : "z" } `,
		`{"request":{"x":[{"uid":1}],"uid":"u-1"}}`, `{"request":{"uid":{"a":[1,2]} }}`, `{"request":[{"uid":"u"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// valueAt finds what encoding/json finds, where keys are unique.
		if at, ok := valueAt(b, "request", "uid"); ok && json.Valid(b) {
			var std struct {
				Request map[string]json.RawMessage `json:"request"`
			}
			if err := json.Unmarshal(b, &std); err == nil && !hasDuplicateKey(b) {
				var want, got any
				if json.Unmarshal(std.Request["uid"], &want) != nil || json.Unmarshal(at, &got) != nil || !reflect.DeepEqual(want, got) {
					t.Fatalf("%q: valueAt request.uid %q, encoding/json %q", b, at, std.Request["uid"])
				}
			}
		}
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

// hasDuplicateKey reports whether some object in b repeats a key.
func hasDuplicateKey(b []byte) bool {
	return admission.LocateJSONError(b) != nil
}

// A review whose config is over the size cap (8,000 unknown keys, 180 kB)
// or that nests past the depth bound is refused from its bytes, before the
// three decodes that made it cost milliseconds of the pod's one CPU: the
// answer names the field and echoes the uid (the API server drops an
// answer without it), and the work is a fixed handful of allocations.
func TestHostileReviewRefusedBeforeDecoding(t *testing.T) {
	bodies := hostileBodies(t)
	mutate, validate := guarded()
	for name, want := range map[string]string{
		"8000-keys":   `spec.profilingConfig.config: Invalid value: \"\u003c`,
		"100k-nested": `nested more than 512 levels deep`,
	} {
		for _, h := range []http.Handler{mutate, validate} {
			code, reply := postRaw(h, bodies[name])
			if code != http.StatusOK || strings.Contains(reply, `"allowed":true`) || !strings.Contains(reply, want) ||
				!strings.Contains(reply, `"uid":"uid-CREATE"`) {
				t.Errorf("%s: %d %.600s\nwant refused with %q and the uid", name, code, reply, want)
			}
		}
	}
	allocs := testing.AllocsPerRun(5, func() { postRaw(validate, bodies["8000-keys"]) })
	if allocs > 100 {
		t.Errorf("refusing the 8,000-key review made %.0f allocations; decoding it makes about 200", allocs)
	}
}

func TestValueAt(t *testing.T) {
	b := []byte(` {"kind":"AdmissionReview", "request" : {"uid":"u-1","object":{"spec":{"profilingConfig":{"config": {"sla":{"isl":1}} }}}}}`)
	for _, tc := range []struct {
		keys []string
		want string
		ok   bool
	}{
		{[]string{"request", "uid"}, `"u-1"`, true},
		{[]string{"request", "object", "spec", "profilingConfig", "config"}, `{"sla":{"isl":1}}`, true},
		{[]string{"request", "oldObject"}, "", false},
		{[]string{"kind", "x"}, "", false},
	} {
		got, ok := valueAt(b, tc.keys...)
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("valueAt(%v) = %q, %v; want %q, %v", tc.keys, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := valueAt([]byte(`{"requ\u0065st":{"uid":"u"}}`), "request", "uid"); ok {
		t.Error("an escaped key was read as plain: the decoder must decide")
	}
}

// TestLargeReviewBudget: reviews over LargeReviewBytes draw on a shared
// byte budget and get 429 with Retry-After once it is spent, whether the
// body's length is declared or sent chunked; small reviews never do.
func TestLargeReviewBudget(t *testing.T) {
	var d map[string]any
	if err := json.Unmarshal(exampleJSON(t, "vllm-dense-online", "team-a"), &d); err != nil {
		t.Fatal(err)
	}
	d["metadata"].(map[string]any)["annotations"] = map[string]any{"note": strings.Repeat("n", 200<<10)}
	obj, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	large, small := review(t, admissionv1.Create, obj, nil), review(t, admissionv1.Create, exampleJSON(t, "vllm-dense-online", "team-a"), nil)
	m, v := handlers()
	budget := NewLargeReviewBudget()
	mutate, validate := guard(m, budget), guard(v, budget)
	post := func(h http.Handler, body []byte, chunked bool) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if chunked {
			req.ContentLength = -1
		}
		h.ServeHTTP(rec, req)
		return rec
	}
	// The burst is one full-size review: five of ~205 kB fit, the sixth not.
	passed := 0
	for i := range 8 {
		rec := post([]http.Handler{mutate, validate}[i%2], large, i%3 == 2)
		switch rec.Code {
		case http.StatusOK:
			if !strings.Contains(rec.Body.String(), `"allowed":true`) {
				t.Fatalf("review %d within the budget: %s", i, rec.Body.String())
			}
			passed++
		case http.StatusTooManyRequests:
			if got := rec.Header().Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
			want := fmt.Sprintf("the AdmissionReview is %d bytes: reviews over 65536 bytes share a budget of 131072 bytes/s, spent now", len(large))
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("429 body %q, want it to contain %q", rec.Body.String(), want)
			}
		default:
			t.Fatalf("review %d: status %d: %s", i, rec.Code, rec.Body.String())
		}
	}
	if want := MaxReviewBytes / len(large); passed != want {
		t.Errorf("%d large reviews passed at once, want %d (the burst)", passed, want)
	}
	for _, h := range []http.Handler{mutate, validate} {
		if rec := post(h, small, false); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"allowed":true`) {
			t.Errorf("small review after the budget is spent: %d %s", rec.Code, rec.Body.String())
		}
	}
}
