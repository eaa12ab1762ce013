package estimate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := NewCmd(streams)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// keys lists an object's field paths, e.g. "parallelism.tp".
func keys(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{prefix}
	}
	var out []string
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, keys(p, sub)...)
	}
	sort.Strings(out)
	return out
}

var wantFields = []string{
	"backend", "decode.concurrency", "decode.contextLength", "decode.itlMs", "decode.throughputPerGpu",
	"memory.fits", "memory.kvBytesPerToken", "memory.maxConcurrency", "memory.maxKvTokens", "memory.weightsGiBPerGpu",
	"model", "parallelism.dep", "parallelism.numGpus", "parallelism.tep", "parallelism.tp", "precision",
	"prefill.isl", "prefill.throughputPerGpu", "prefill.ttftMs", "profile.swept", "system",
}

func TestJSONFieldsExactly(t *testing.T) {
	out, _, err := run(t, "--model", "Qwen/Qwen3-32B", "--system", "h100_sxm", "--backend", "vllm", "--tp", "2",
		"--isl", "4000", "--osl", "500", "--concurrency", "32", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := keys("", v); !reflect.DeepEqual(got, wantFields) {
		t.Fatalf("fields %v\nwant %v", got, wantFields)
	}
	p := v["parallelism"].(map[string]any)
	d := v["decode"].(map[string]any)
	m := v["memory"].(map[string]any)
	pre := v["prefill"].(map[string]any)
	if p["tp"] != 2.0 || p["tep"] != 0.0 || p["dep"] != 0.0 || p["numGpus"] != 2.0 {
		t.Errorf("parallelism %v", p)
	}
	if d["contextLength"] != 4250.0 || d["concurrency"] != 32.0 || !(d["itlMs"].(float64) > 0) {
		t.Errorf("decode %v (context must default to isl + osl/2)", d)
	}
	// throughput/GPU = c·1000/ITL/n, isl·1000/TTFT/n
	if tp := 32 * 1000 / d["itlMs"].(float64) / 2; abs(tp-d["throughputPerGpu"].(float64)) > 1 {
		t.Errorf("decode throughput %v, want ≈ %v", d["throughputPerGpu"], tp)
	}
	if tp := 4000 * 1000 / pre["ttftMs"].(float64) / 2; abs(tp-pre["throughputPerGpu"].(float64)) > 1 {
		t.Errorf("prefill throughput %v, want ≈ %v", pre["throughputPerGpu"], tp)
	}
	if m["fits"] != true || m["maxConcurrency"].(float64) != float64(int(m["maxKvTokens"].(float64))/4500) {
		t.Errorf("memory %v", m)
	}
	if v["model"] != "Qwen/Qwen3-32B" || v["system"] != "h100_sxm" || v["backend"] != "vllm" || v["precision"] != "bf16" {
		t.Errorf("header %v", v)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestYAMLAndDEP(t *testing.T) {
	out, _, err := run(t, "--model", "DEEPSEEK_V3", "--system", "gb200", "--backend", "sglang", "--dep", "8", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if got := keys("", v); !reflect.DeepEqual(got, wantFields) {
		t.Fatalf("yaml fields %v", got)
	}
	p := v["parallelism"].(map[string]any)
	if p["dep"] != 8.0 || p["tp"] != 0.0 || v["system"] != "gb200_sxm" || v["precision"] != "fp8" {
		t.Errorf("DEP8 result %v", v)
	}
}

func TestTableAndWeightsDoNotFit(t *testing.T) {
	out, _, err := run(t, "--model", "meta-llama/Llama-3.1-70B", "--system", "h100_sxm", "--backend", "trtllm", "--tp", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MAPPING", "TTFT(ms)", "TP=1", "false", "the weights do not fit"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	js, _, _ := run(t, "--model", "meta-llama/Llama-3.1-70B", "--tp", "1", "-o", "json")
	if !strings.Contains(js, `"fits": false`) {
		t.Errorf("70B BF16 on one H100 must report fits=false:\n%s", js)
	}
}

func TestSweepAndAICRule(t *testing.T) {
	out, _, err := run(t, "--model", "QWEN3_0_6B", "--system", "h100_sxm", "--sweep")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[0], "TP=") && !strings.HasSuffix(f[0], ":") {
			lines++
		}
	}
	if lines != 4 {
		t.Errorf("sweep printed %d TP rows, want profile's TP 1, 2, 4, 8:\n%s", lines, out)
	}
	if !strings.Contains(out, "TP=8: profile drops it in simulation mode: num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4") ||
		!strings.Contains(out, "online only") {
		t.Errorf("sweep does not report the AIC rule for TP 8:\n%s", out)
	}
	js, errOut, err := run(t, "--model", "Qwen/Qwen3-0.6B", "--tp", "8", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "num_heads 16 should be divisible by tp_size 8") || !json.Valid([]byte(js)) {
		t.Errorf("TP 8 JSON: stderr %q, stdout valid=%v", errOut, json.Valid([]byte(js)))
	}
	sw, _, err := run(t, "--model", "Qwen/Qwen3-0.6B", "--sweep", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(sw), &list); err != nil || len(list) != 4 {
		t.Errorf("sweep JSON: %v, %d entries (want TP 1, 2, 4, 8)", err, len(list))
	}
}

func TestModelConfigFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"architectures":["LlamaForCausalLM"],"num_hidden_layers":32,"hidden_size":4096,"num_attention_heads":32,
"num_key_value_heads":8,"intermediate_size":14336,"vocab_size":128256,"max_position_embeddings":131072}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _, err := run(t, "--model-config", dir, "--tp", "2", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := run(t, "--model", "LLAMA3.1_8B", "--tp", "2", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var va, vb map[string]any
	_ = json.Unmarshal([]byte(a), &va)
	_ = json.Unmarshal([]byte(b), &vb)
	if !reflect.DeepEqual(va["decode"], vb["decode"]) || !reflect.DeepEqual(va["memory"], vb["memory"]) {
		t.Errorf("config.json and catalog Llama-3.1-8B disagree:\n%s\n%s", a, b)
	}
}

func TestErrorsNameFieldValueAndFix(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{}, []string{"--model is required", "--model-config"}},
		{[]string{"--model", "acme/nope"}, []string{"--model", "acme/nope", "--model-config"}},
		{[]string{"--model", "QWEN3_8B", "--system", "tpu"}, []string{"--system", "tpu", "h100_sxm"}},
		{[]string{"--model", "QWEN3_8B", "--tp", "2", "--dep", "2"}, []string{"--tp 2", "--dep 2", "only one"}},
		{[]string{"--model", "QWEN3_8B", "--isl", "0"}, []string{"--isl 0", "1 to 262144"}},
		{[]string{"--model", "QWEN3_8B", "--concurrency", "-1"}, []string{"--concurrency -1"}},
		{[]string{"--model", "QWEN3_8B", "--gpu-memory-utilization", "2"}, []string{"--gpu-memory-utilization 2", "(0, 1]"}},
		{[]string{"--model", "QWEN3_8B", "-o", "xml"}, []string{`--output "xml"`, "json, yaml"}},
		{[]string{"--model", "QWEN3_8B", "--backend", "tgi"}, []string{`--backend "tgi"`, "sglang, trtllm, vllm"}},
		{[]string{"--model", "QWEN3_8B", "--precision", "int2"}, []string{`--precision "int2"`, "bf16, fp8 or fp4"}},
		{[]string{"--model", "QWEN3_8B", "--tp", "3"}, []string{"--tp 3", "not divisible by tp 3"}},
		{[]string{"--model", "QWEN3_8B", "--sweep", "--tp", "2"}, []string{"--sweep", "drop --tp"}},
		{[]string{"--model-config", "/nonexistent/x"}, []string{"--model-config", "/nonexistent/x"}},
	}
	for _, c := range cases {
		_, _, err := run(t, c.args...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.args, err, w)
			}
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	var buf bytes.Buffer
	streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &buf, ErrOut: &buf}
	cmd := NewCmd(streams)
	cmd.SetOut(&buf)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Examples:", "kubectl dgdr estimate --model Qwen/Qwen3-32B", "--sweep", "--gpu-memory-utilization", "--kv-precision", "--tep"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

// Impossible inputs are refused with a fix, and the fix, followed, works.
func TestImpossibleInputsAndTheirFixes(t *testing.T) {
	cases := []struct {
		args, fixed []string
		want        string
	}{
		{[]string{"--model", "Qwen/Qwen3-32B", "--concurrency", "500"}, []string{"--model", "Qwen/Qwen3-32B", "--concurrency", "500", "--tp", "8"},
			"--concurrency 500 is above what TP=1 holds"},
		{[]string{"--model", "Qwen/Qwen3-32B", "--concurrency", "500"}, []string{"--model", "Qwen/Qwen3-32B", "--concurrency", "5"},
			"lower --concurrency to 5"},
		{[]string{"--model", "Qwen/Qwen3-32B", "--isl", "100000"}, []string{"--model", "Qwen/Qwen3-32B", "--isl", "40810", "--tp", "4"},
			"beyond the context of Qwen/Qwen3-32B (40960 tokens): use an --isl of at most 40810"},
		{[]string{"--model", "Qwen/Qwen3-32B", "--tep", "2"}, []string{"--model", "Qwen/Qwen3-32B", "--tp", "2"},
			"--tep 2 needs a mixture-of-experts model: Qwen/Qwen3-32B is dense"},
		{[]string{"--model", "Qwen/Qwen3-32B", "--context", "50000"}, []string{"--model", "Qwen/Qwen3-32B", "--context", "40960"},
			"--context 50000 is beyond the context"},
	}
	for _, c := range cases {
		_, _, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
			continue
		}
		if _, _, err := run(t, c.fixed...); err != nil {
			t.Errorf("the fix %v fails: %v", c.fixed, err)
		}
	}
	// In a table the row says it does not fit, and why.
	out, _, err := run(t, "--model", "Qwen/Qwen3-32B", "--concurrency", "500", "--sweep")
	if err != nil || !strings.Contains(out, "TP=1: --concurrency 500 is above the 5 sequences its KV cache holds") {
		t.Errorf("sweep with too many sequences (%v):\n%s", err, out)
	}
}

// TEP=1 is TP=1; profile's rules decide the PROFILE column, so a mapping
// profile drops is never listed as swept.
func TestOneGPUAndProfileRules(t *testing.T) {
	js, errOut, err := run(t, "--model", "Qwen/Qwen3-30B-A3B", "--tep", "1", "-o", "json")
	if err != nil || !strings.Contains(js, `"tp": 1`) || !strings.Contains(js, `"tep": 0`) || !strings.Contains(errOut, "--tep 1 is TP=1") {
		t.Fatalf("--tep 1 (%v): %s\n%s", err, js, errOut)
	}
	out, _, err := run(t, "--model", "Qwen/Qwen3-30B-A3B", "--sweep")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "TEP=1" || f[0] == "DEP=1") {
			t.Errorf("a one-GPU row named %s:\n%s", f[0], out)
		}
		if len(f) > 0 && f[0] == "TP=8" && f[len(f)-1] != "dropped" {
			t.Errorf("TP=8 of Qwen3-30B-A3B must be dropped as profile drops it: %q", l)
		}
	}
	if !strings.Contains(out, "TP=8: profile drops it: num_kv_heads=4 not divisible by tp_size=8") {
		t.Errorf("no reason for TP=8:\n%s", out)
	}
}
