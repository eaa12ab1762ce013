package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// The cost bound of one review. A real config is a few hundred bytes with a
// dozen keys per section; these limits are far above that and far below what
// makes admission slow: the raw config is checked against them in one pass
// before anything is decoded, so a hostile body costs at most one linear scan.
const (
	MaxConfigBytes    = 64 << 10 // spec.profilingConfig.config, as JSON
	MaxConfigKeys     = 256      // keys in any one object of the config
	MaxConfigDepth    = 32       // nesting of objects and lists in the config
	MaxLabels         = 64       // spec.deploymentOverrides.labels
	MaxModelLen       = 256      // spec.model (Hugging Face ids are under 100)
	MaxReportedErrors = 20       // field errors listed in one answer; the rest are counted
)

// InvalidError turns field errors into the API's 422 Invalid status, so kubectl
// prints one line per field and clients can read the causes. At most
// MaxReportedErrors are listed, then "and N more errors": the message and
// the answer stay small and cost linear time whatever the input.
func InvalidError(name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) <= MaxReportedErrors {
		return apierrors.NewInvalid(groupKind, name, errs)
	}
	more := len(errs) - MaxReportedErrors
	se := apierrors.NewInvalid(groupKind, name, errs[:MaxReportedErrors])
	note := fmt.Sprintf("and %d more errors", more)
	se.ErrStatus.Message = strings.TrimSuffix(se.ErrStatus.Message, "]") + ", " + note + "]"
	se.ErrStatus.Details.Causes = append(se.ErrStatus.Details.Causes,
		metav1.StatusCause{Type: metav1.CauseType(field.ErrorTypeTooMany), Message: note, Field: specPath.String()})
	return se
}

// checkConfigJSON is the first rule on the config: size, keys per object,
// depth, duplicate keys and numbers a float64 cannot hold, each named by
// its field path. The rest of Validate and Default run only when it passes.
func checkConfigJSON(raw []byte) *field.Error {
	if len(raw) > MaxConfigBytes {
		return field.Invalid(pc.BasePath, fmt.Sprintf("<%d bytes>", len(raw)), fmt.Sprintf(
			"the config is %d bytes, above the limit of %d; keep only the sections the profiler reads (sla, hardware, sweep, planner, deployment, engine)",
			len(raw), MaxConfigBytes))
	}
	return walkJSON(raw, pc.BasePath, "spec.profilingConfig.config", MaxConfigKeys, MaxConfigDepth)
}

// LocateJSONError finds what makes an object's JSON unreadable or
// ambiguous (a syntax error such as NaN, a duplicate key) and names its
// field, for the answer to a review whose object did not decode. It returns
// nil when it finds nothing.
func LocateJSONError(raw []byte) *field.Error {
	return walkJSON(raw, nil, "the object", 0, maxObjectDepth)
}

// maxObjectDepth bounds LocateJSONError's walk: the API machinery's
// decoders stop at 10,000 levels, and no DGDR comes near 100.
const maxObjectDepth = 512

// segment is one step of the path being walked: a key or a list index.
type segment struct {
	key   string
	index int // -1 for a key, -2 before the first member
}

// frame is one open object or list.
type frame struct {
	object  bool
	wantKey bool                // an object's next token is a key (or its end)
	keys    map[string]struct{} // an object's keys, for duplicates
	n       int                 // members seen
}

// walkJSON reads raw token by token without building it. maxKeys and
// maxDepth of 0 mean no limit. Under base (nil: the object's root) the path
// of an error is the key or index where the walk stopped.
func walkJSON(raw []byte, base *field.Path, doc string, maxKeys, maxDepth int) *field.Error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var stack []frame
	var path []segment
	at := func() *field.Path { return joinPath(base, path) }
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) && len(stack) == 0 {
			return nil
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return syntaxError(at(), doc, raw, dec.InputOffset(), err)
		}
		if t, ok := tok.(json.Delim); ok && (t == '}' || t == ']') {
			stack, path = stack[:len(stack)-1], path[:len(path)-1]
			continue
		}
		if n := len(stack); n > 0 {
			f := &stack[n-1]
			switch {
			case f.object && f.wantKey: // the decoder returns keys as strings
				key, _ := tok.(string)
				f.wantKey = false
				f.n++
				path[n-1] = segment{key: key, index: -1}
				if maxKeys > 0 && f.n > maxKeys {
					return field.Invalid(joinPath(base, path[:n-1]), "<object>", fmt.Sprintf(
						"more than %d keys in one object; the profiler reads a handful per section: remove the keys it does not know", maxKeys))
				}
				if f.keys == nil {
					f.keys = make(map[string]struct{}, 8)
				}
				if _, dup := f.keys[key]; dup {
					e := field.Duplicate(at(), key)
					e.Detail = "the key is given twice in the same object and only one value can be used; keep one of them"
					return e
				}
				f.keys[key] = struct{}{}
				continue
			case f.object:
				f.wantKey = true // this token starts the value
			default:
				path[n-1].index = f.n
				f.n++
			}
		}
		switch t := tok.(type) {
		case json.Delim: // '{' or '['
			if maxDepth > 0 && len(stack) >= maxDepth {
				return field.Invalid(at(), "<nested>", fmt.Sprintf(
					"nested more than %d levels deep; a DGDR needs a handful", maxDepth))
			}
			stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
			path = append(path, segment{index: -2})
		case json.Number:
			if f, err := strconv.ParseFloat(string(t), 64); err != nil || math.IsInf(f, 0) {
				return field.Invalid(at(), string(t), "must be a finite number: this one is beyond the range of a 64-bit float; write a number such as 200")
			}
		}
	}
}

// joinPath appends the walked segments to base; with no base the first
// key is the root (spec, metadata, ...).
func joinPath(base *field.Path, segs []segment) *field.Path {
	p := base
	for _, s := range segs {
		switch {
		case s.index == -2:
		case s.index >= 0 && p != nil:
			p = p.Index(s.index)
		case s.index >= 0:
			p = field.NewPath(fmt.Sprintf("[%d]", s.index))
		case p != nil:
			p = p.Child(s.key)
		case s.key != "":
			p = field.NewPath(s.key)
		}
	}
	if p == nil {
		return field.NewPath("<root>")
	}
	return p
}

// syntaxError explains a token the decoder refused; the usual one in a
// hand-written document is NaN or Infinity from YAML's .nan and .inf. The
// decoder stopped after the last good token, at off.
func syntaxError(at *field.Path, doc string, raw []byte, off int64, err error) *field.Error {
	rest := bytes.TrimLeft(raw[min(max(int(off), 0), len(raw)):], " \t\r\n:,")
	for _, w := range []string{"NaN", "Infinity", "-Infinity", "+Infinity", ".nan", ".inf", "-.inf"} {
		if bytes.HasPrefix(rest, []byte(w)) {
			return field.Invalid(at, w, "must be a finite number: NaN and Infinity are not numbers in JSON; write a number such as 200")
		}
	}
	return field.Invalid(at, string(rest[:min(len(rest), 20)]), fmt.Sprintf("failed to parse %s: %v", doc, err))
}

// badRune reports the first control or invisible formatting character
// (an escape sequence, NUL, a bidirectional override) in s.
func badRune(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return r, true
		}
	}
	return 0, false
}
