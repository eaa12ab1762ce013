package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// unknownKeys is an sla block holding n unknown keys besides the four real ones.
func unknownKeys(n int) string {
	var b strings.Builder
	b.WriteString(`json:{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20`)
	for i := range n {
		fmt.Fprintf(&b, `,"k%d":1`, i)
	}
	b.WriteString(`}}`)
	return b.String()
}

// nested is a config whose planner holds depth nested lists.
func nested(depth int) string {
	return `json:{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{"x":` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`
}

// TestCapsExactMessages: each cap refuses with its field path and exact
// message, from Validate and from Default alike.
func TestCapsExactMessages(t *testing.T) {
	bigPlanner := `json:{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{"x":"` + strings.Repeat("a", MaxConfigBytes) + `"}}`
	cases := []struct {
		name, config, want string
	}{
		{"bytes", bigPlanner, `spec.profilingConfig.config: Invalid value: "<65605 bytes>": the config is 65605 bytes, above the limit of 65536; ` +
			`keep only the sections the profiler reads (sla, hardware, sweep, planner, deployment, engine)`},
		{"keys", unknownKeys(MaxConfigKeys), `spec.profilingConfig.config.sla: Invalid value: "<object>": more than 256 keys in one object; ` +
			`the profiler reads a handful per section: remove the keys it does not know`},
		{"depth", nested(MaxConfigDepth), `spec.profilingConfig.config.planner.x[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: ` +
			`Invalid value: "<nested>": nested more than 32 levels deep; a DGDR needs a handful`},
		{"duplicate key", `json:{"sla":{"isl":3000,"osl":150,"ttft":"abc","itl":20,"ttft":200}}`,
			`spec.profilingConfig.config.sla.ttft: Duplicate value: "ttft": the key is given twice in the same object and only one value can be used; keep one of them`},
		{"duplicate section", `json:{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{},"planner":{}}`,
			`spec.profilingConfig.config.planner: Duplicate value: "planner": the key is given twice in the same object and only one value can be used; keep one of them`},
		{"float overflow", `json:{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{"l":[1,-1e400]}}`,
			`spec.profilingConfig.config.planner.l[1]: Invalid value: "-1e400": must be a finite number: this one is beyond the range of a 64-bit float; write a number such as 200`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := mk(t, tc.config)
			_, errs := Validate(d)
			if len(errs) != 1 || errs[0].Error() != tc.want {
				t.Fatalf("Validate: got %v\nwant [%s]", errs, tc.want)
			}
			_, err := Default(d.DeepCopy())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Default: got %v\nwant it to contain %s", err, tc.want)
			}
		})
	}
	// One below each cap is fine.
	for _, cfg := range []string{unknownKeys(MaxConfigKeys - 4 - 1), nested(MaxConfigDepth - 2)} {
		_, errs := Validate(mk(t, cfg))
		for _, e := range errs {
			if strings.Contains(e.Detail, "more than") {
				t.Errorf("refused below the cap: %v", e)
			}
		}
	}
}

// TestSpecStringCaps: control characters, long models and too many labels.
func TestSpecStringCaps(t *testing.T) {
	d := mk(t, baseConfig)
	d.Spec.Model = "Qwen/Qwen3-0.6B\x1b]0;PWNED\x07\x1b[2J"
	requireError(t, errsOf(d), "spec.model", `spec.model: Invalid value: "Qwen/Qwen3-0.6B\x1b]0;PWNED\a\x1b[2J": spec.model must not contain control or formatting characters (found U+001B); set it to a Hugging Face id such as Qwen/Qwen3-0.6B`)

	d.Spec.Model = "Qwen/\x00"
	requireError(t, errsOf(d), "spec.model", "(found U+0000)")
	d.Spec.Model = "Qwen/\u202eB6.0"
	requireError(t, errsOf(d), "spec.model", "(found U+202E)")

	d.Spec.Model = strings.Repeat("q", MaxModelLen+1)
	requireError(t, errsOf(d), "spec.model", "spec.model: Too long: may not be more than 256 bytes")

	d = mk(t, baseConfig)
	d.Spec.ProfilingConfig.ProfilerImage = "img\x1b[2J"
	requireError(t, errsOf(d), "spec.profilingConfig.profilerImage", "must be an image reference without spaces")

	d = mk(t, baseConfig)
	labels := map[string]string{}
	for i := range 2000 {
		labels[fmt.Sprintf("bad label %d", i)] = "x"
	}
	d.Spec.DeploymentOverrides = overridesWithLabels(labels)
	errs := errsOf(d)
	requireError(t, errs, "spec.deploymentOverrides.labels", "spec.deploymentOverrides.labels: Too many: 2000: must have at most 64 items")
	if len(errs) != 1 {
		t.Fatalf("2,000 bad labels gave %d errors; want the one cap error", len(errs))
	}
}

func overridesWithLabels(l map[string]string) *v1alpha1.DeploymentOverridesSpec {
	return &v1alpha1.DeploymentOverridesSpec{Labels: l}
}

func errsOf(d *v1alpha1.DynamoGraphDeploymentRequest) field.ErrorList {
	_, errs := Validate(d)
	return errs
}

// TestLocateJSONError names the field of NaN, Infinity and duplicate keys
// in a whole object, for the webhook's answer to an object that does not decode.
func TestLocateJSONError(t *testing.T) {
	cases := []struct{ raw, want string }{
		{`{"spec":{"profilingConfig":{"config":{"sla":{"ttft":NaN}}}}}`,
			`spec.profilingConfig.config.sla.ttft: Invalid value: "NaN": must be a finite number: NaN and Infinity are not numbers in JSON; write a number such as 200`},
		{`{"spec":{"profilingConfig":{"config":{"sla":{"itl": -Infinity}}}}}`,
			`spec.profilingConfig.config.sla.itl: Invalid value: "-Infinity": must be a finite number`},
		{`{"spec":{"model":"a","model":"b"}}`, `spec.model: Duplicate value: "model"`},
		{`{"spec":{"x":[1,2,{"y":NaN}]}}`, `spec.x[2].y: Invalid value: "NaN"`},
		{`{"spec":{"model":"a"`, `spec.model: Invalid value: "": failed to parse the object: unexpected EOF`},
		{`{"spec":{"autoApply":tru}}`, `spec.autoApply: Invalid value: "tru}}": failed to parse the object: invalid character '}' in literal true (expecting 'e')`},
		{`{"spec":{"model" "a"}}`, `spec.model: Invalid value: "\"a\"}}": failed to parse the object: invalid character '"' after object key`},
		{`{"spec":{}} {}`, `<root>: Invalid value: "{}": failed to parse the object: invalid character '{' after top-level value`},
		{`{"spec":{"x":[1,-]}}`, `spec.x[1]: Invalid value: "-]}}": failed to parse the object: invalid character ']' in numeric literal`},
		{"{\"spec\":{\"m\":\"a\x01\"}}", `spec.m: Invalid value: "\"a\x01\"}}": failed to parse the object: invalid character '\x01' in string literal`},
	}
	for _, tc := range cases {
		e := LocateJSONError([]byte(tc.raw))
		if e == nil || !strings.HasPrefix(e.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.raw, e, tc.want)
		}
	}
	if e := LocateJSONError([]byte(`{"spec":{"a":[{"b":1},{"b":2}],"c":{}}}`)); e != nil {
		t.Errorf("valid JSON refused: %v", e)
	}
}

// TestInvalidErrorCapped: 256 unknown keys are 252 errors; the answer
// lists 20 and counts the rest, so its size does not grow with the input.
func TestInvalidErrorCapped(t *testing.T) {
	d := mk(t, unknownKeys(MaxConfigKeys-4))
	_, errs := Validate(d)
	if len(errs) != MaxConfigKeys-4 {
		t.Fatalf("want one error per unknown key (252), got %d", len(errs))
	}
	err := InvalidError("qwen", errs)
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("not a StatusError: %T", err)
	}
	msg := se.ErrStatus.Message
	if !strings.HasSuffix(msg, ", and 232 more errors]") {
		t.Errorf("message does not end with the count: ...%s", msg[max(0, len(msg)-80):])
	}
	if n := strings.Count(msg, "unknown key"); n != MaxReportedErrors {
		t.Errorf("message lists %d errors, want %d", n, MaxReportedErrors)
	}
	if c := se.ErrStatus.Details.Causes; len(c) != MaxReportedErrors+1 || c[MaxReportedErrors].Message != "and 232 more errors" {
		t.Errorf("causes: %d, last %+v", len(c), c[len(c)-1])
	}
	if len(msg) > 6<<10 {
		t.Errorf("message is %d bytes", len(msg))
	}
	// Twenty or fewer are listed whole, as before.
	if m := InvalidError("q", errs[:MaxReportedErrors]).Error(); strings.Contains(m, "more errors") {
		t.Errorf("20 errors were truncated: %s", m)
	}
}

// TestHostileConfigBoundedWork: 100,000 unknown keys (1.5 MB) are refused by
// the size cap before anything is decoded. The work is asserted, not timed:
// one error, a short message, and a fixed handful of allocations however
// large the input (BenchmarkHostileConfig times it).
func TestHostileConfigBoundedWork(t *testing.T) {
	d := mk(t, unknownKeys(100_000))
	if n := len(d.Spec.ProfilingConfig.Config.Raw); n < 1_000_000 {
		t.Fatalf("config is only %d bytes", n)
	}
	var errs field.ErrorList
	allocs := testing.AllocsPerRun(5, func() { _, errs = Validate(d) })
	if len(errs) != 1 || !strings.Contains(errs[0].Detail, "above the limit of 65536") {
		t.Fatalf("want the size cap alone, got %d errors: %v", len(errs), errs)
	}
	if msg := InvalidError("qwen", errs).Error(); len(msg) > 512 {
		t.Errorf("message is %d bytes: %s", len(msg), msg)
	}
	if allocs > 100 {
		t.Errorf("Validate made %.0f allocations for a refused 1.5 MB config; want a fixed handful", allocs)
	}
}

// TestHeadsRuleValidatorAlone: in AI Configurator mode a minimum above every
// TP the heads allow is refused by the validating step alone, as the
// mutate-then-validate chain refuses it.
func TestHeadsRuleValidatorAlone(t *testing.T) {
	d := mk(t, aicQwen+"hardware: {min_num_gpus_per_engine: 8}\n")
	requireError(t, errsOf(d), hwP+".min_num_gpus_per_engine",
		"num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4; set spec.profilingConfig.config.hardware.min_num_gpus_per_engine to 1 and hardware.max_num_gpus_per_engine to 4")
	// A minimum the heads allow, with no maximum, is left to Default.
	if errs := errsOf(mk(t, aicQwen+"hardware: {min_num_gpus_per_engine: 2}\n")); len(errs) != 0 {
		t.Fatalf("min 2 without max refused: %v", errs)
	}
}

func BenchmarkHostileConfig(b *testing.B) {
	for _, n := range []int{250, 8_000, 100_000} {
		d := mk(b, unknownKeys(n))
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, errs := Validate(d)
				_ = InvalidError("qwen", errs).Error()
			}
		})
	}
}

// FuzzLocateJSONError: the walk never panics, and it refuses exactly the
// documents encoding/json refuses, plus duplicate keys, float overflow and
// nesting beyond its depth cap; every refusal names a field.
func FuzzLocateJSONError(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":NaN}`, `{"a":{"b":[1,{"c":2}]},"a":3}`, `[1e999]`, `{"a":`, `"x"`, `{}`, `[[[]]]`, `{"a":1}{"b":2}`,
		`{"\u0061":1,"a":2}`, `[-0.5e+3, 1E-2, 0, -0]`, `["\ud83d\ude00\n"]`, `{"a" : [ true , false , null ] }`, `01`, `[1.]`, `"\x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := LocateJSONError(raw)
		if e != nil && e.Field == "" {
			t.Fatalf("error without a field: %v", e)
		}
		var v any
		if e == nil && len(bytes.TrimSpace(raw)) > 0 && json.Unmarshal(raw, &v) != nil {
			t.Fatalf("JSON encoding/json cannot read accepted: %q", raw)
		}
		if e == nil && hasDuplicateKey(raw) {
			t.Fatalf("duplicate key accepted: %q", raw)
		}
		if e != nil && json.Valid(raw) && e.Type != field.ErrorTypeDuplicate && !strings.Contains(e.Detail, "64-bit float") &&
			!strings.Contains(e.Detail, "levels deep") {
			t.Fatalf("valid JSON refused: %q: %v", raw, e)
		}
		if e != nil && e.Type == field.ErrorTypeDuplicate && !hasDuplicateKey(raw) {
			t.Fatalf("no duplicate key in %q: %v", raw, e)
		}
	})
}

// hasDuplicateKey reports whether some object of raw repeats a key, as
// encoding/json's tokens read it.
func hasDuplicateKey(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type obj struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &obj{keys: map[string]bool{}, wantKey: true})
			case '[':
				stack = append(stack, nil)
			default:
				stack = stack[:len(stack)-1]
				if n := len(stack); n > 0 && stack[n-1] != nil {
					stack[n-1].wantKey = true
				}
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1] != nil {
			o := stack[n-1]
			if o.wantKey {
				k := tok.(string)
				if o.keys[k] {
					return true
				}
				o.keys[k], o.wantKey = true, false
			} else {
				o.wantKey = true
			}
		}
	}
}
