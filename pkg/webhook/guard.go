package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// MaxReviewBytes caps an AdmissionReview body. A DGDR's config is capped at
// 64 KiB by the rules and its status holds one generated DGD (tens of kB),
// so even an UPDATE, which carries two objects, stays far below; a larger
// body is refused before it is parsed, from Content-Length when the client
// sends one. controller-runtime's own cap is 7 MiB.
const MaxReviewBytes = 1 << 20

// Large reviews. Decoding a review costs the API machinery about 30 ns a
// byte (the body is scanned eight times), so a 1 MiB one holds the
// webhook's one CPU for some 30 ms while the small ones wait. A DGDR review
// is a few kB; those over LargeReviewBytes share a budget of
// LargeReviewRate bytes a second (a burst of one full-size review), so an
// attacker can spend at most ~0.4 % of the CPU; beyond it they get 429
// with Retry-After, for a client that retries.
const (
	LargeReviewBytes = 64 << 10
	LargeReviewRate  = 128 << 10
)

// NewLargeReviewBudget is the budget one server's hooks share.
func NewLargeReviewBudget() *rate.Limiter {
	return rate.NewLimiter(LargeReviewRate, MaxReviewBytes)
}

// overBudget takes n bytes from the budget when n is large, and reports
// whether there were not enough (nil budget: unlimited).
func overBudget(budget *rate.Limiter, n int64) bool {
	return budget != nil && n > LargeReviewBytes && !budget.AllowN(time.Now(), int(n))
}

func refuseOverBudget(w http.ResponseWriter, n int64) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, fmt.Sprintf("the AdmissionReview is %d bytes: reviews over %d bytes share a budget of %d bytes/s, spent now; retry in a second (a DGDR review is a few kB)",
		n, LargeReviewBytes, LargeReviewRate), http.StatusTooManyRequests)
}

// guard wraps an admission hook: the body is capped, large bodies draw on
// budget, and the envelope must be an admission.k8s.io/v1 AdmissionReview
// with a uid, for a DGDR. Other hooks (a conversion webhook) pass through
// unchanged.
func guard(hook http.Handler, budget *rate.Limiter) http.Handler {
	wh, ok := hook.(*ctrladmission.Webhook)
	if !ok {
		return hook
	}
	wh.Handler = requestGuard{wh.Handler}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxReviewBytes {
			http.Error(w, fmt.Sprintf("the AdmissionReview is larger than %d bytes", MaxReviewBytes), http.StatusRequestEntityTooLarge)
			return
		}
		if overBudget(budget, r.ContentLength) {
			refuseOverBudget(w, r.ContentLength)
			return
		}
		// Sized from Content-Length (ReadFrom wants MinRead spare bytes):
		// no regrowing copies of a large body.
		read := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), MaxReviewBytes)+bytes.MinRead))
		_, err := read.ReadFrom(http.MaxBytesReader(w, r.Body, MaxReviewBytes))
		body := read.Bytes()
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("the AdmissionReview is larger than %d bytes", MaxReviewBytes), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the AdmissionReview: "+err.Error(), http.StatusBadRequest)
			return
		}
		if r.ContentLength < 0 && overBudget(budget, int64(len(body))) { // sent chunked
			refuseOverBudget(w, int64(len(body)))
			return
		}
		apiVersion, kind, err := peekTypeMeta(body)
		if errors.Is(err, errTooDeep) {
			if e := admission.LocateJSONError(body); e != nil { // names where
				writeInvalid(w, body, e)
				return
			}
		}
		switch {
		case err != nil:
			http.Error(w, "not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
			return
		case apiVersion != admissionv1.SchemeGroupVersion.String() || kind != "AdmissionReview":
			http.Error(w, fmt.Sprintf("apiVersion %q, kind %q: this webhook takes only apiVersion admission.k8s.io/v1, kind AdmissionReview", apiVersion, kind),
				http.StatusBadRequest)
			return
		}
		// Decoding a review costs the one CPU milliseconds per 100 kB, three
		// times over (envelope, review, object): a config the rules refuse
		// by its size alone is refused from the bytes.
		if e := oversizedConfig(body); e != nil {
			writeInvalid(w, body, e)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// The answer is buffered: when the review itself does not decode
		// (the handler never ran), it is replaced by one naming the field.
		var decoded bool
		buf := &bufferedWriter{ResponseWriter: w}
		wh.ServeHTTP(buf, r.WithContext(context.WithValue(r.Context(), decodedKey{}, &decoded)))
		if !decoded {
			if e := admission.LocateJSONError(body); e != nil {
				writeInvalid(w, body, e)
				return
			}
		}
		buf.flush()
	})
}

// decodedKey marks, in the request's context, that the review decoded.
type decodedKey struct{}

// bufferedWriter holds the answer (a few hundred bytes) until the guard
// knows whether to send it.
type bufferedWriter struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

func (b *bufferedWriter) flush() {
	if b.code != 0 {
		b.ResponseWriter.WriteHeader(b.code)
	}
	_, _ = b.ResponseWriter.Write(b.body.Bytes())
}

// writeInvalid refuses a review before it is decoded, with a 422 Invalid
// status naming the field and the request's uid when the bytes hold one
// (the API server drops an answer without it).
func writeInvalid(w http.ResponseWriter, body []byte, e *field.Error) {
	var se *apierrors.StatusError
	if !errors.As(admission.InvalidError("", field.ErrorList{e}), &se) {
		return
	}
	var uid types.UID
	if v, ok := valueAt(body, "request", "uid"); ok {
		if s, _, ok := plainString(v, 0); ok {
			uid = types.UID(s)
		}
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{UID: uid, Result: &se.ErrStatus},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ar)
}

// requestGuard checks the request inside the review before the handler
// decodes the object, and names the field when the object does not decode.
type requestGuard struct{ inner ctrladmission.Handler }

func (g requestGuard) Handle(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
	if decoded, ok := ctx.Value(decodedKey{}).(*bool); ok {
		*decoded = true
	}
	switch {
	case req.UID == "":
		return ctrladmission.Errored(http.StatusBadRequest, errors.New("request.uid is empty: every AdmissionReview request has a uid"))
	case req.Kind.Group != v1alpha1.GroupVersion.Group || req.Kind.Kind != v1alpha1.DGDRKind:
		return ctrladmission.Errored(http.StatusBadRequest, fmt.Errorf("request.kind %s/%s: this webhook admits only %s/%s",
			req.Kind.Group, req.Kind.Kind, v1alpha1.GroupVersion.Group, v1alpha1.DGDRKind))
	}
	resp := g.inner.Handle(ctx, req)
	if !resp.Allowed && resp.Result != nil && resp.Result.Code == http.StatusBadRequest {
		// The object did not decode; say where (NaN, a duplicate key...).
		for _, raw := range [][]byte{req.Object.Raw, req.OldObject.Raw} {
			if e := admission.LocateJSONError(raw); len(raw) > 0 && e != nil {
				var se *apierrors.StatusError
				if errors.As(admission.InvalidError(req.Name, field.ErrorList{e}), &se) {
					return ctrladmission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Result: &se.ErrStatus}}
				}
			}
		}
	}
	return resp
}

// peekTypeMeta reads the top-level apiVersion and kind of a JSON object
// without decoding the rest: one pass over the bytes, no allocation. Keys
// match case-insensitively, as the API machinery's type sniffing does, so a
// second spelling ("Kind") is a duplicate, and refused; so are escapes in a
// top-level key or in these values, which no API server writes. Whether the
// rest is valid JSON is left to the decoder that follows.
func peekTypeMeta(b []byte) (apiVersion, kind string, err error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", "", errors.New("the body is not a JSON object")
	}
	i++
	var seenV, seenK bool
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return apiVersion, kind, nil
		}
		key, next, ok := plainString(b, i)
		if !ok {
			return "", "", errors.New("a top-level key is not a plain string")
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return "", "", errors.New("malformed JSON object")
		}
		i = skipSpace(b, i+1)
		isV, isK := bytes.EqualFold(key, []byte("apiVersion")), bytes.EqualFold(key, []byte("kind"))
		if isV || isK {
			val, next, ok := plainString(b, i)
			if !ok || !utf8.Valid(val) {
				return "", "", fmt.Errorf("%s is not a plain string", key)
			}
			if (isV && seenV) || (isK && seenK) {
				return "", "", fmt.Errorf("%s is given twice", key)
			}
			if isV {
				apiVersion, seenV = string(val), true
			} else {
				kind, seenK = string(val), true
			}
			i = next
		} else if i, err = skipValue(b, i, admission.MaxObjectDepth-1); err != nil {
			return "", "", err
		}
		i = skipSpace(b, i)
		switch {
		case i < len(b) && b[i] == ',':
			i++
		case i < len(b) && b[i] == '}':
			return apiVersion, kind, nil
		default:
			return "", "", errors.New("malformed JSON object")
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a string without escapes at b[i], returning its
// contents and the index after the closing quote.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	end := bytes.IndexByte(b[i+1:], '"')
	if end < 0 {
		return nil, i, false
	}
	s := b[i+1 : i+1+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, i, false
	}
	return s, i + end + 2, true
}

// errTooDeep: a review nests beyond admission.MaxObjectDepth.
var errTooDeep = fmt.Errorf("nested more than %d levels deep", admission.MaxObjectDepth)

// skipValue steps over one JSON value at b[i]: strings with their escapes,
// and objects and lists by bracket depth, up to maxDepth levels.
func skipValue(b []byte, i, maxDepth int) (int, error) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return i, errMalformed
			}
			i++
		case '{', '[':
			if depth++; depth > maxDepth {
				return i, errTooDeep
			}
			i++
		case '}', ']':
			if depth == 0 {
				return i, nil // the end of the enclosing object
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i, nil
			}
			i++
		default:
			i++
		}
	}
	if depth != 0 {
		return i, errMalformed
	}
	return i, nil
}

var errMalformed = errors.New("malformed JSON value")

// valueAt finds the value at the path of object keys by skipping, not
// decoding; false when a step is missing or not plainly written (the
// decoder then has the last word).
func valueAt(b []byte, keys ...string) ([]byte, bool) {
	i := skipSpace(b, 0)
	for _, key := range keys {
		if i >= len(b) || b[i] != '{' {
			return nil, false
		}
		i++
		for {
			k, next, ok := plainString(b, skipSpace(b, i))
			if !ok {
				return nil, false
			}
			if i = skipSpace(b, next); i >= len(b) || b[i] != ':' {
				return nil, false
			}
			i = skipSpace(b, i+1)
			if string(k) == key {
				break
			}
			var err error
			if i, err = skipValue(b, i, admission.MaxObjectDepth); err != nil {
				return nil, false
			}
			if i = skipSpace(b, i); i >= len(b) || b[i] != ',' {
				return nil, false
			}
			i++
		}
	}
	end, err := skipValue(b, i, admission.MaxObjectDepth)
	if err != nil {
		return nil, false
	}
	return bytes.TrimRight(b[i:end], " \t\r\n"), true
}

// oversizedConfig refuses request.object's config beyond the rules' size
// cap, from the bytes.
func oversizedConfig(body []byte) *field.Error {
	if v, ok := valueAt(body, "request", "object", "spec", "profilingConfig", "config"); ok {
		return admission.CheckConfigSize(len(v))
	}
	return nil
}
