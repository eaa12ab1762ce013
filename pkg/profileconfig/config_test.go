package profileconfig

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return c
}

func TestParseFormats(t *testing.T) {
	for name, in := range map[string]string{
		"yaml":   "sla:\n  isl: 3000\n  ttft: 200\n",
		"json":   `{"sla": {"isl": 3000, "ttft": 200}}`,
		"python": `{'sla': {'isl': 3000, 'ttft': 200}, 'sweep': {'use_ai_configurator': True}}`,
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, in)
			isl, ok, err := c.Int(KeySLAISL)
			if err != nil || !ok || isl != 3000 {
				t.Fatalf("isl = %d %v %v", isl, ok, err)
			}
		})
	}
	if _, err := Parse([]byte("[1, 2]")); err == nil || !strings.Contains(err.Error(), "Failed to parse config string") {
		t.Fatalf("a list must be refused with the profiler's message, got %v", err)
	}
}

// Integers stay integers through a round trip: the planner gets --ttft=200.
func TestNumbersKeepTheirText(t *testing.T) {
	c := mustParse(t, `{"sla": {"ttft": 200, "itl": 20.5}}`)
	j, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(j.Raw); got != `{"sla":{"itl":20.5,"ttft":200}}` {
		t.Fatalf("round trip = %s", got)
	}
}

func TestLookupCamelFirst(t *testing.T) {
	c := mustParse(t, "hardware:\n  maxNumGpusPerEngine: 4\n  max_num_gpus_per_engine: 8\n")
	v, spelled, ok := c.Lookup(KeyHardwareMaxGPUs)
	if !ok || spelled != "maxNumGpusPerEngine" || v.(json.Number) != "4" {
		t.Fatalf("lookup = %v %q %v", v, spelled, ok)
	}
	errs := c.SpellingConflicts()
	if len(errs) != 1 || errs[0].Field != "spec.profilingConfig.config.hardware.max_num_gpus_per_engine" ||
		!strings.Contains(errs[0].Detail, "hardware.maxNumGpusPerEngine") {
		t.Fatalf("conflict errors = %v", errs)
	}
	same := mustParse(t, "hardware:\n  maxNumGpusPerEngine: 4\n  max_num_gpus_per_engine: 4.0\n")
	if errs := same.SpellingConflicts(); len(errs) != 0 {
		t.Fatalf("equal values are not a conflict: %v", errs)
	}
}

func TestSetKeepsSpelling(t *testing.T) {
	cases := map[string]struct {
		in, want string
	}{
		"existing snake key is updated":  {`{"hardware": {"max_num_gpus_per_engine": 8}}`, `{"hardware":{"max_num_gpus_per_engine":4}}`},
		"existing camel key is updated":  {`{"hardware": {"maxNumGpusPerEngine": 8}}`, `{"hardware":{"maxNumGpusPerEngine":4}}`},
		"section style: camel":           {`{"hardware": {"numGpusPerNode": 8}}`, `{"hardware":{"maxNumGpusPerEngine":4,"numGpusPerNode":8}}`},
		"document style: camel":          {`{"sweep": {"useAiConfigurator": true}}`, `{"hardware":{"maxNumGpusPerEngine":4},"sweep":{"useAiConfigurator":true}}`},
		"document style: snake":          {`{"sweep": {"use_ai_configurator": true}}`, `{"hardware":{"max_num_gpus_per_engine":4},"sweep":{"use_ai_configurator":true}}`},
		"nothing to go by: snake (docs)": {`{}`, `{"hardware":{"max_num_gpus_per_engine":4}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, tc.in)
			if err := c.Set(KeyHardwareMaxGPUs, json.Number("4")); err != nil {
				t.Fatal(err)
			}
			j, _ := c.JSON()
			if string(j.Raw) != tc.want {
				t.Fatalf("got %s, want %s", j.Raw, tc.want)
			}
		})
	}
	c := mustParse(t, `{"hardware": "8 GPUs"}`)
	if err := c.Set(KeyHardwareMaxGPUs, 4); err == nil || !strings.Contains(err.Error(), "profilingConfig.config.hardware must be an object, got string") {
		t.Fatalf("setting into a non-object must fail with the upstream message, got %v", err)
	}
}

func TestTypedErrors(t *testing.T) {
	c := mustParse(t, `{"sla": {"isl": "3000", "osl": 150.5, "ttft": "fast", "itl": true}, "sweep": {"use_ai_configurator": "true"}}`)
	cases := []struct {
		get        func() *field.Error
		path, want string
	}{
		{func() *field.Error { _, _, e := c.Int(KeySLAISL); return e }, "spec.profilingConfig.config.sla.isl", "not a string; remove the quotes (isl: 3000)"},
		{func() *field.Error { _, _, e := c.Int(KeySLAOSL); return e }, "spec.profilingConfig.config.sla.osl", "must be an integer"},
		{func() *field.Error { _, _, e := c.Float(KeySLATTFT); return e }, "spec.profilingConfig.config.sla.ttft", "must be a number, not a string"},
		{func() *field.Error { _, _, e := c.Float(KeySLAITL); return e }, "spec.profilingConfig.config.sla.itl", "must be a number, got boolean"},
		{func() *field.Error { _, _, e := c.Bool(KeySweepUseAIC); return e }, "spec.profilingConfig.config.sweep.use_ai_configurator", "remove the quotes (use_ai_configurator: true)"},
	}
	for _, tc := range cases {
		err := tc.get()
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %s: ...%s, got %v", tc.path, tc.want, err)
		}
	}
}

func TestSettingsDefaultsAndAliases(t *testing.T) {
	c := mustParse(t, `
sla: {isl: 4000, osl: 500, ttft: 300.0, itl: 10.0}
sweep: {use_ai_configurator: true}
aic: {system: H200_SXM, model_name: QWEN3_32B, backend_version: "0.20.0"}
deployment: {model: Qwen/Qwen3-32B, modelCache: {pvcName: cache}}
planner: {planner_min_endpoint: 2}
`)
	s, errs := c.Settings()
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if s.System != "h200_sxm" || s.AICModelName != "QWEN3_32B" || s.AICBackendVersion != "0.20.0" || !s.UseAIC {
		t.Errorf("aliases: %+v", s)
	}
	if s.PrefillGranularity != 16 || s.DecodeGranularity != 6 || s.OutputDir != "profiling_results" || s.DeployTimeoutS != 1800 {
		t.Errorf("defaults: %+v", s)
	}
	if s.SLA != (SLA{ISL: 4000, OSL: 500, TTFT: 300, ITL: 10}) || s.ModelID() != "Qwen/Qwen3-32B" {
		t.Errorf("sla/model: %+v %s", s.SLA, s.ModelID())
	}
	if s.ModelCache.PVCName != "cache" || s.ModelCache.MountPath != "/opt/model-cache" || s.Planner["planner_min_endpoint"] == nil {
		t.Errorf("modelCache/planner: %+v %v", s.ModelCache, s.Planner)
	}
	bad := mustParse(t, `{"sla": [1], "hardware": {"num_gpus_per_node": "8"}}`)
	_, errs = bad.Settings()
	if len(errs) != 2 || !strings.Contains(errs.ToAggregate().Error(), "profilingConfig.config.sla must be an object, got list") {
		t.Fatalf("want 2 errors incl. the sla section, got %v", errs)
	}
}

func TestCaseConversions(t *testing.T) {
	for in, want := range map[string]string{
		"max_num_gpus_per_engine": "maxNumGpusPerEngine", "isl": "isl", "a__b_": "aB", "_x": "X", "x_1": "x1", "useAiConfigurator": "useAiConfigurator",
	} {
		if got := SnakeToCamel(in); got != want {
			t.Errorf("SnakeToCamel(%q) = %q, want %q", in, got, want)
		}
	}
	if got := CamelToSnake("minEndpoint-count"); got != "min_endpoint_count" {
		t.Error(got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"sla: {isl: 1}", `{"a": [1, {"b": null}]}`, "{'x': True}", "- 1", "", "hardware: 3",
		`{"s": "a<b>&\"\\ é \u2028 \u0001", "n": [1e999, -0.5e-3, 0], "k\u00e9": {"z": 1, "a": [true, false, null]}}`, "x: 1e5\ny: .5\nz: 0x10"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_, _ = c.Settings()
		_ = c.SpellingConflicts()
		_ = c.DeepCopy().Set(KeyHardwareMaxGPUs, 4)
		got, err := c.JSON()
		if err != nil {
			t.Fatalf("a parsed config must encode: %v", err)
		}
		// The fast encoder writes exactly what encoding/json writes.
		if want, err := json.Marshal(c.Root); err != nil || !bytes.Equal(got.Raw, want) {
			t.Fatalf("JSON() = %s, encoding/json = %s (%v)", got.Raw, want, err)
		}
	})
}

// A mixed document spells a new key by the majority style, whatever the
// map order.
func TestNewKeySpellingIsDeterministic(t *testing.T) {
	for i := 0; i < 50; i++ {
		c := mustParse(t, "sweep: {useAiConfigurator: true, aicSystem: h200_sxm}\naic: {model_name: X}\nsla: {isl: 1}\n")
		if err := c.Set(KeyHardwareMaxGPUs, 8); err != nil {
			t.Fatal(err)
		}
		if _, sp, _ := c.Lookup(KeyHardwareMaxGPUs); sp != "maxNumGpusPerEngine" {
			t.Fatalf("run %d: new key spelled %q, want the majority camelCase", i, sp)
		}
		tie := mustParse(t, "sweep: {useAiConfigurator: true}\naic: {model_name: X}\n")
		_ = tie.Set(KeyHardwareMaxGPUs, 8)
		if _, sp, _ := tie.Lookup(KeyHardwareMaxGPUs); sp != "max_num_gpus_per_engine" {
			t.Fatalf("run %d: tie spelled %q, want snake_case", i, sp)
		}
	}
}

// A latency written with a unit gets a fix that works when followed.
func TestNumberFix(t *testing.T) {
	for in, want := range map[string]string{
		"200":     "remove the quotes (ttft: 200)",
		" 200ms":  "write the number of milliseconds without the unit (ttft: 200)",
		"0.2 s":   "write it in milliseconds without the unit (ttft: 200)",
		"200 sec": `write a plain number without the unit "sec" (ttft: 200)`,
		"fast":    "write a plain number, e.g. ttft: 200",
	} {
		if got := numberFix("ttft", in); got != want {
			t.Errorf("numberFix(%q) = %q, want %q", in, got, want)
		}
	}
}
