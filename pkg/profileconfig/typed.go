package profileconfig

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Int reads an integer. A number written as a string, or a fraction, is an
// error that says how to write it.
func (c *Config) Int(k Key) (int64, bool, *field.Error) {
	v, s, ok := c.Lookup(k)
	if !ok {
		return 0, false, nil
	}
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, true, nil
		}
		if f, err := t.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true, nil
		}
		return 0, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be an integer; write a whole number such as %s: %d", k.String(), s, int64(roundOr0(t))))
	case string:
		return 0, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be an integer, not a string; %s", k.String(), numberFix(s, t)))
	}
	return 0, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be an integer, got %s", k.String(), typeName(v)))
}

// numberFix says how to write a number that came as a string: without the
// quotes when it is one, without the unit when it has one (latencies are
// milliseconds, seconds are converted), else as a plain number.
func numberFix(key, text string) string {
	t := strings.TrimSpace(text)
	if _, err := strconv.ParseFloat(t, 64); err == nil {
		return fmt.Sprintf("remove the quotes (%s: %s)", key, t)
	}
	num := strings.TrimRightFunc(t, func(r rune) bool { return r == ' ' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	unit := strings.ToLower(strings.TrimSpace(t[len(num):]))
	f, err := strconv.ParseFloat(num, 64)
	switch {
	case err != nil || unit == "":
		return fmt.Sprintf("write a plain number, e.g. %s: 200", key)
	case unit == "ms":
		return fmt.Sprintf("write the number of milliseconds without the unit (%s: %s)", key, num)
	case unit == "s":
		return fmt.Sprintf("write it in milliseconds without the unit (%s: %s)", key, strconv.FormatFloat(f*1000, 'f', -1, 64))
	}
	return fmt.Sprintf("write a plain number without the unit %q (%s: %s)", unit, key, num)
}

func roundOr0(n json.Number) float64 {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f)
}

// Float reads a finite number.
func (c *Config) Float(k Key) (float64, bool, *field.Error) {
	v, s, ok := c.Lookup(k)
	if !ok {
		return 0, false, nil
	}
	switch t := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be a finite number", k.String()))
		}
		return f, true, nil
	case string:
		return 0, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be a number, not a string; %s", k.String(), numberFix(s, t)))
	}
	return 0, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be a number, got %s", k.String(), typeName(v)))
}

// Bool reads a boolean; "true" in quotes is an error with the fix.
func (c *Config) Bool(k Key) (bool, bool, *field.Error) {
	v, s, ok := c.Lookup(k)
	if !ok {
		return false, false, nil
	}
	if b, isBool := v.(bool); isBool {
		return b, true, nil
	}
	hint := ""
	if str, isStr := v.(string); isStr {
		hint = fmt.Sprintf("; remove the quotes (%s: %s)", s, strings.ToLower(strings.TrimSpace(str)))
	}
	return false, true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be a boolean (true or false), got %s%s", k.String(), typeName(v), hint))
}

// String reads a string; a number is accepted and turned into its text,
// since YAML users often write versions such as 0.20 unquoted.
func (c *Config) String(k Key) (string, bool, *field.Error) {
	v, s, ok := c.Lookup(k)
	if !ok {
		return "", false, nil
	}
	switch t := v.(type) {
	case string:
		return t, true, nil
	case json.Number:
		return string(t), true, nil
	}
	return "", true, field.Invalid(k.Path(s), v, fmt.Sprintf("%s must be a string, got %s", k.String(), typeName(v)))
}

// SpellingConflicts reports keys given in both camelCase and snake_case with
// different values, anywhere in the document.
func (c *Config) SpellingConflicts() field.ErrorList {
	var errs field.ErrorList
	// Admission walks every config, so the walk allocates only for a
	// conflict; the errors are sorted by path at the end.
	var buf [64]byte
	var walk func(m map[string]any, at []string)
	walk = func(m map[string]any, at []string) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(sub, append(at, k)) // at is only read below this level
			}
			if v == nil || !strings.Contains(k, "_") {
				continue
			}
			camel := appendCamel(buf[:0], k)
			other, found := m[string(camel)]
			if !found || string(camel) == k || other == nil || reflect.DeepEqual(normalise(other), normalise(v)) {
				continue
			}
			p := BasePath
			for _, a := range at {
				p = p.Child(a)
			}
			errs = append(errs, field.Invalid(p.Child(k), v, fmt.Sprintf(
				"conflicts with %s (%s): the same setting is given in camelCase and snake_case with different values; keep one of them",
				p.Child(string(camel)).String(), render(other))))
		}
	}
	walk(c.Root, nil)
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

func normalise(v any) any {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	return v
}

func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// SnakeToCamel turns max_num_gpus_per_engine into maxNumGpusPerEngine.
func SnakeToCamel(s string) string {
	return string(appendCamel(make([]byte, 0, len(s)), s))
}

// appendCamel appends the camelCase form of s: underscores dropped, the
// ASCII letter after one upper-cased.
func appendCamel(b []byte, s string) []byte {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			upper = true
		case upper && 'a' <= c && c <= 'z':
			b = append(b, c-'a'+'A')
			upper = false
		default:
			b = append(b, c)
			upper = false
		}
	}
	return b
}

// CamelToSnake turns maxNumGpusPerEngine into max_num_gpus_per_engine and
// dashes into underscores, as the profiler does for planner keys.
func CamelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '-':
			b.WriteByte('_')
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
