package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
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
	if e := CheckConfigSize(len(raw)); e != nil {
		return e
	}
	return walkJSON(raw, pc.BasePath, "spec.profilingConfig.config", MaxConfigKeys, MaxConfigDepth)
}

// CheckConfigSize refuses a config of n bytes above MaxConfigBytes; the
// webhook asks it before decoding a review, from the bytes alone.
func CheckConfigSize(n int) *field.Error {
	if n <= MaxConfigBytes {
		return nil
	}
	return field.Invalid(pc.BasePath, fmt.Sprintf("<%d bytes>", n), fmt.Sprintf(
		"the config is %d bytes, above the limit of %d; keep only the sections the profiler reads (sla, hardware, sweep, planner, deployment, engine)",
		n, MaxConfigBytes))
}

// LocateJSONError finds what makes an object's JSON unreadable or
// ambiguous (a syntax error such as NaN, a duplicate key) and names its
// field, for the answer to a review whose object did not decode. It returns
// nil when it finds nothing.
func LocateJSONError(raw []byte) *field.Error {
	return walkJSON(raw, nil, "the object", 0, MaxObjectDepth)
}

// MaxObjectDepth bounds LocateJSONError's walk and the webhook's nesting
// of a whole review: the API machinery's decoders stop at 10,000 levels,
// and no DGDR comes near 100.
const MaxObjectDepth = 512

// segment is one step of the path being walked: a key or a list index.
type segment struct {
	key   string
	index int // -1 for a key, -2 before the first member
}

// walkJSON checks raw in one pass over its bytes, building nothing: the
// JSON grammar, the key and depth caps (maxKeys 0: no cap; maxDepth must
// be set), duplicate keys and numbers a float64 cannot hold. Under base
// (nil: the object's root) the path of an error is the key or index where
// the walk stopped. A whole document is one value: trailing data is an
// error, an empty one is not.
func walkJSON(raw []byte, base *field.Path, doc string, maxKeys, maxDepth int) *field.Error {
	w := &walker{raw: raw, base: base, doc: doc, maxKeys: maxKeys, maxDepth: maxDepth}
	if w.space(); w.i == len(raw) {
		return nil
	}
	if e := w.value(); e != nil {
		return e
	}
	if w.space(); w.i < len(raw) {
		return w.syntax(w.i, "after top-level value")
	}
	return nil
}

// walker is walkJSON's state: the input, the read offset and the path.
type walker struct {
	raw               []byte
	i                 int
	base              *field.Path
	doc               string
	maxKeys, maxDepth int
	path              []segment
}

func (w *walker) at() *field.Path { return joinPath(w.base, w.path) }

func (w *walker) space() {
	for w.i < len(w.raw) {
		switch w.raw[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// syntax reports the byte at off, in encoding/json's words ("invalid
// character 'x' <context>"), or an unexpected end.
func (w *walker) syntax(off int, context string) *field.Error { return w.syntaxIn(off, off, context) }

// syntaxIn is syntax for a value that began at from: NaN and Infinity are
// recognised from there.
func (w *walker) syntaxIn(from, off int, context string) *field.Error {
	err := io.ErrUnexpectedEOF
	if off < len(w.raw) {
		err = fmt.Errorf("invalid character %s %s", quoteChar(w.raw[off]), context)
	}
	return syntaxError(w.at(), w.doc, w.raw, from, err)
}

// quoteChar is encoding/json's rendering of an unexpected byte.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

func (w *walker) value() *field.Error {
	if w.space(); w.i == len(w.raw) {
		return w.syntax(w.i, "")
	}
	switch c := w.raw[w.i]; {
	case c == '{' || c == '[':
		return w.container(c == '{')
	case c == '"':
		_, e := w.str()
		return e
	case c == '-' || ('0' <= c && c <= '9'):
		return w.number()
	case c == 't':
		return w.literal("true")
	case c == 'f':
		return w.literal("false")
	case c == 'n':
		return w.literal("null")
	}
	return w.syntax(w.i, "looking for beginning of value")
}

func (w *walker) literal(word string) *field.Error {
	for k := range len(word) {
		if w.i+k >= len(w.raw) || w.raw[w.i+k] != word[k] {
			return w.syntaxIn(w.i, w.i+k, "in literal "+word+" (expecting "+quoteChar(word[k])+")")
		}
	}
	w.i += len(word)
	return nil
}

// container walks an object or a list; w.i is at its opening brace.
func (w *walker) container(object bool) *field.Error {
	if len(w.path) >= w.maxDepth {
		return field.Invalid(w.at(), "<nested>", fmt.Sprintf("nested more than %d levels deep; a DGDR needs a handful", w.maxDepth))
	}
	end := byte(']')
	if object {
		end = '}'
	}
	k := len(w.path)
	w.path = append(w.path, segment{index: -2})
	defer func() { w.path = w.path[:k] }()
	w.i++
	if w.space(); w.i < len(w.raw) && w.raw[w.i] == end {
		w.i++
		return nil
	}
	var keys keySet
	for n := 0; ; n++ {
		if object {
			if w.space(); w.i == len(w.raw) || w.raw[w.i] != '"' {
				return w.syntax(w.i, "looking for beginning of object key string")
			}
			key, e := w.str()
			if e != nil {
				return e
			}
			w.path[k] = segment{key: key, index: -1}
			if w.maxKeys > 0 && n >= w.maxKeys {
				return field.Invalid(joinPath(w.base, w.path[:k]), "<object>", fmt.Sprintf(
					"more than %d keys in one object; the profiler reads a handful per section: remove the keys it does not know", w.maxKeys))
			}
			if keys.add(key) {
				e := field.Duplicate(w.at(), key)
				e.Detail = "the key is given twice in the same object and only one value can be used; keep one of them"
				return e
			}
			if w.space(); w.i == len(w.raw) || w.raw[w.i] != ':' {
				return w.syntax(w.i, "after object key")
			}
			w.i++
		} else {
			w.path[k].index = n
		}
		if e := w.value(); e != nil {
			return e
		}
		w.space()
		switch {
		case w.i < len(w.raw) && w.raw[w.i] == ',':
			w.i++
		case w.i < len(w.raw) && w.raw[w.i] == end:
			w.i++
			return nil
		case object:
			return w.syntax(w.i, "after object key:value pair")
		default:
			return w.syntax(w.i, "after array element")
		}
	}
}

// keySet holds an object's keys: a list while short, a map beyond, so a
// huge object costs linear time.
type keySet struct {
	list []string
	set  map[string]struct{}
}

// add records key and reports whether it was there already.
func (s *keySet) add(key string) bool {
	if s.set == nil && len(s.list) < 16 {
		if slices.Contains(s.list, key) {
			return true
		}
		s.list = append(s.list, key)
		return false
	}
	if s.set == nil {
		s.set = make(map[string]struct{}, 32)
		for _, k := range s.list {
			s.set[k] = struct{}{}
		}
	}
	if _, dup := s.set[key]; dup {
		return true
	}
	s.set[key] = struct{}{}
	return false
}

// str reads a string; w.i is at its opening quote. It returns the text
// (decoded only when it holds escapes).
func (w *walker) str() (string, *field.Error) {
	start := w.i + 1
	escaped := false
	for j := start; j < len(w.raw); j++ {
		switch c := w.raw[j]; {
		case c == '"':
			w.i = j + 1
			if !escaped {
				return string(w.raw[start:j]), nil
			}
			var s string
			_ = json.Unmarshal(w.raw[start-1:j+1], &s) // checked above: cannot fail
			return s, nil
		case c == '\\':
			escaped = true
			j++
			if j == len(w.raw) {
				return "", w.syntaxIn(start-1, j, "")
			}
			switch w.raw[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for h := 1; h <= 4; h++ {
					if j+h == len(w.raw) || !isHex(w.raw[j+h]) {
						return "", w.syntaxIn(start-1, j+h, "in \\u hexadecimal character escape")
					}
				}
				j += 4
			default:
				return "", w.syntaxIn(start-1, j, "in string escape code")
			}
		case c < 0x20:
			return "", w.syntaxIn(start-1, j, "in string literal")
		}
	}
	return "", w.syntaxIn(start-1, len(w.raw), "")
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and refuses
// one beyond float64's range (only an exponent or 300 digits can be).
func (w *walker) number() *field.Error {
	start, j := w.i, w.i
	digits := func() bool {
		k := j
		for j < len(w.raw) && isDigit(w.raw[j]) {
			j++
		}
		return j > k
	}
	bad := func(context string) *field.Error { return w.syntaxIn(start, j, context) }
	if w.raw[j] == '-' {
		j++
	}
	switch {
	case j < len(w.raw) && w.raw[j] == '0':
		j++
	case !digits():
		return bad("in numeric literal")
	}
	exp := false
	if j < len(w.raw) && w.raw[j] == '.' {
		j++
		if !digits() {
			return bad("after decimal point in numeric literal")
		}
	}
	if j < len(w.raw) && (w.raw[j] == 'e' || w.raw[j] == 'E') {
		exp = true
		j++
		if j < len(w.raw) && (w.raw[j] == '+' || w.raw[j] == '-') {
			j++
		}
		if !digits() {
			return bad("in exponent of numeric literal")
		}
	}
	w.i = j
	if lit := string(w.raw[start:j]); exp || len(lit) > 300 {
		if f, err := strconv.ParseFloat(lit, 64); err != nil || math.IsInf(f, 0) {
			return field.Invalid(w.at(), lit, "must be a finite number: this one is beyond the range of a 64-bit float; write a number such as 200")
		}
	}
	return nil
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

// syntaxError explains a value the walk refused; the usual one in a
// hand-written document is NaN or Infinity from YAML's .nan and .inf. The
// value began at off.
func syntaxError(at *field.Path, doc string, raw []byte, off int, err error) *field.Error {
	rest := bytes.TrimLeft(raw[min(max(off, 0), len(raw)):], " \t\r\n:,")
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
