package profile_test

import (
	"encoding/json"
	"flag"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"codeberg.org/sbinet/npyio/npz"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const examples = "../../../examples/"

// run executes the real root command.
func run(t testing.TB, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	root := cmd.NewRootCmd(cmd.Options{IOStreams: streams, Clock: clk})
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestGoldenSummaries(t *testing.T) {
	for _, name := range []string{"trtllm-aic-offline", "vllm-dense-online", "sglang-moe"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := run(t, "", "profile", "--local", "-f", examples+name+".yaml", "--output-dir", dir, "--quiet", "--no-plots")
			if err != nil {
				t.Fatalf("profile: %v\nstderr:\n%s", err, stderr)
			}
			got := strings.ReplaceAll(stdout, dir, "OUT")
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("summary differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
			// The seed's lines close the summary table, in this order.
			if !strings.Contains(got, "\nSuggested prefill ") || !strings.Contains(got, "\nSuggested decode ") ||
				strings.Index(got, "Suggested prefill") < strings.Index(got, "Decode sweep") {
				t.Errorf("suggested lines missing or misplaced:\n%s", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "results.json")); err != nil {
				t.Errorf("results.json not written: %v", err)
			}
		})
	}
}

func TestMoEExampleSuggestsTEPAndDEP(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := run(t, "", "profile", "-f", examples+"sglang-moe.yaml", "--output-dir", dir, "--quiet", "--no-plots")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "Suggested prefill TEP:") || !strings.Contains(stdout, "Suggested decode DEP:") {
		t.Errorf("MoE summary:\n%s", stdout)
	}
}

func TestBadInput(t *testing.T) {
	aic, err := os.ReadFile(examples + "trtllm-aic-offline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		stdin string
		args  []string
		want  []string
	}{
		"SLA typo": {stdin: strings.Replace(string(aic), "ttft: 300.0", "tftt: 300.0", 1), args: []string{"-f", "-"}, want: []string{"sla.tftt", "did you mean ttft"}},
		"negative ITL": {args: []string{"-f", examples + "trtllm-aic-offline.yaml", "--itl", "-5"},
			want: []string{"sla.itl", "-5"}},
		"unknown model": {args: []string{"--model", "acme/NoSuchModel-7B", "--backend", "vllm", "--isl", "1000", "--osl", "100", "--ttft", "100", "--itl", "10"},
			want: []string{"acme/NoSuchModel-7B", "--model-config"}},
		"impossible SLA": {args: []string{"-f", examples + "trtllm-aic-offline.yaml", "--isl", "100000"},
			want: []string{"isl", "40960"}},
		"ttft below 0.01 ms": {args: []string{"-f", examples + "trtllm-aic-offline.yaml", "--ttft", "0.001"},
			want: []string{"sla.ttft"}},
		"not a DGDR":                {stdin: "kind: Pod\napiVersion: v1\n", args: []string{"-f", "-"}, want: []string{"DynamoGraphDeploymentRequest"}},
		"cluster mode, no cluster":  {args: []string{"my-dgdr", "--server", "https://127.0.0.1:1"}, want: []string{"cannot reach the Kubernetes API server", "--local -f"}},
		"cluster mode, local flags": {args: []string{"my-dgdr", "--isl", "100"}, want: []string{"--isl applies to local profiling only"}},
		"from without SLA":          {args: []string{"--from", "x.json"}, want: []string{"--ttft"}},
		"bad -o":                    {args: []string{"-f", examples + "sglang-moe.yaml", "-o", "wide"}, want: []string{`--output "wide" is not supported`, "json, yaml"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			args := append([]string{"profile", "--quiet", "--output-dir", dir}, c.args...)
			stdout, _, err := run(t, c.stdin, args...)
			if err == nil {
				t.Fatalf("no error; stdout:\n%s", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
				t.Errorf("output directory exists after a failed run (stat: %v)", serr)
			}
			entries, _ := os.ReadDir(filepath.Dir(dir))
			if len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

func TestDryRunPrintsPlanAndWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	stdout, _, err := run(t, "", "profile", "-f", examples+"sglang-moe.yaml", "--dry-run", "--output-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Prefill mappings: TEP=", "Decode mappings:  DEP=", "GPU-hours", "nothing was measured"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dry run wrote %s", dir)
	}
}

func TestJSONOutputAndWhatIf(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "out")
	stdout, stderr, err := run(t, "", "profile", "-f", examples+"trtllm-aic-offline.yaml", "--output-dir", dir, "-o", "json", "--no-plots")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var r results.Results
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("-o json is not results.json: %v\n%s", err, stdout)
	}
	if r.Selection.Prefill == nil || len(r.Prefill) == 0 || len(r.PrefillGrids) == 0 {
		t.Fatalf("results lack points or grids: %+v", r.Selection)
	}
	// Line mode on a non-TTY stderr: one line per step.
	if !strings.Contains(stderr, "[1/") || strings.Contains(stderr, "\r") {
		t.Errorf("progress is not in line mode:\n%q", stderr)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r2 results.Results
	if err := json.Unmarshal(onDisk, &r2); err != nil || len(r2.Decode) != len(r.Decode) {
		t.Fatalf("results.json on disk: %v", err)
	}

	// A tight TTFT moves the prefill choice to more GPUs; nothing is measured.
	what := filepath.Join(base, "whatif")
	out2, stderr2, err := run(t, "", "profile", "--from", filepath.Join(dir, "results.json"), "--ttft", "120", "--itl", "12", "--output-dir", what, "--no-plots")
	if err != nil {
		t.Fatalf("what-if: %v\n%s", err, stderr2)
	}
	if !strings.Contains(out2, "SLA TTFT 120 ms, ITL 12 ms") {
		t.Errorf("what-if summary:\n%s", out2)
	}
	var r3 results.Results
	b, _ := os.ReadFile(filepath.Join(what, "results.json"))
	if err := json.Unmarshal(b, &r3); err != nil {
		t.Fatal(err)
	}
	if r3.Selection.Prefill.Mapping == r.Selection.Prefill.Mapping {
		t.Errorf("what-if kept prefill %s; TTFT 120 should need more GPUs", r3.Selection.Prefill.Mapping.Label())
	}
	if r3.PrefillInterpolation == nil || len(r3.Prefill) != len(r.Prefill) {
		t.Errorf("what-if lost points or grid")
	}
	if r3.Selection.Prefill.LatencyMs > 120 {
		t.Errorf("what-if prefill TTFT %.2f > 120", r3.Selection.Prefill.LatencyMs)
	}
}

func TestHelpHasExamples(t *testing.T) {
	stdout, _, err := run(t, "", "profile", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl dgdr profile --local -f examples/trtllm-aic-offline.yaml", "--from", "--dry-run", "--model-config"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}

}

// TestEveryOutputOfTheAICExample checks the files of a full run: every named
// PNG decodes and is not blank, and both npz files read back with the seed's
// array names, shapes and dtypes.
func TestEveryOutputOfTheAICExample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if _, stderr, err := run(t, "", "profile", "-f", examples+"trtllm-aic-offline.yaml", "--output-dir", dir, "--quiet"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, name := range []string{"prefill_performance.png", "decode_performance.png",
		"selected_prefill_interpolation/prefill_ttft_interpolation.png", "selected_prefill_interpolation/prefill_throughput_interpolation.png",
		"selected_decode_interpolation/decode_itl_interplation.png", "selected_decode_interpolation/decode_itl_interpolation.png", "selected_decode_interpolation/decode_throughput_interpolation.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		colours := map[color.RGBA]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y && len(colours) < 3; y += 7 {
			for x := b.Min.X; x < b.Max.X; x += 7 {
				r, g, bl, a := img.At(x, y).RGBA()
				colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
			}
		}
		if len(colours) < 3 {
			t.Errorf("%s looks blank (%d colours)", name, len(colours))
		}
	}
	var r results.Results
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	pre := readNPZ(t, filepath.Join(dir, "selected_prefill_interpolation/raw_data.npz"))
	// Upstream's grid from 100 in steps of 2521, plus the SLA's ISL (4000),
	// ascending for the planner's spline.
	isl, ok := pre["prefill_isl"].([]int64)
	if !ok || len(isl) < 16 || isl[0] != 100 || isl[1]-isl[0] != 2521 || !slices.Contains(isl, 4000) || !slices.IsSorted(isl) {
		t.Errorf("prefill_isl = %#v", pre["prefill_isl"])
	}
	ttft, _ := pre["prefill_ttft"].([]float64)
	if len(ttft) != len(isl) || ttft[0] != r.PrefillInterpolation.TTFTMs[0] {
		t.Errorf("prefill_ttft = %v", ttft)
	}
	dec := readNPZ(t, filepath.Join(dir, "selected_decode_interpolation/raw_data.npz"))
	if kv, _ := dec["max_kv_tokens"].([]int64); len(kv) != 1 || int(kv[0]) != r.DecodeInterpolation.MaxKVTokens {
		t.Errorf("max_kv_tokens = %#v", dec["max_kv_tokens"])
	}
	for _, n := range []string{"x_kv_usage", "y_context_length", "z_itl", "z_thpt_per_gpu"} {
		if v, _ := dec[n].([]float64); len(v) != len(r.DecodeInterpolation.ITLMs) || len(v) == 0 {
			t.Errorf("%s = %d values", n, len(v))
		}
	}
}

func readNPZ(t *testing.T, path string) map[string]any {
	t.Helper()
	f, err := npz.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	out := map[string]any{}
	for _, k := range f.Keys() {
		h := f.Header(k)
		switch strings.Trim(h.Descr.Type, `'"`) {
		case "<i8":
			var v []int64
			if err := f.Read(k, &v); err != nil {
				t.Fatalf("%s %s: %v", path, k, err)
			}
			out[strings.TrimSuffix(k, ".npy")] = v
		case "<f8":
			var v []float64
			if err := f.Read(k, &v); err != nil {
				t.Fatalf("%s %s: %v", path, k, err)
			}
			out[strings.TrimSuffix(k, ".npy")] = v
		default:
			t.Errorf("%s %s: dtype %s", path, k, h.Descr.Type)
		}
	}
	return out
}

// An unknown model profiles once its config.json is given with --model-config.
func TestModelConfigForUnknownModel(t *testing.T) {
	base := t.TempDir()
	cfg := filepath.Join(base, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
		"num_hidden_layers": 16, "hidden_size": 2048, "num_attention_heads": 32, "num_key_value_heads": 8,
		"head_dim": 64, "intermediate_size": 8192, "vocab_size": 128256, "max_position_embeddings": 16384,
		"tie_word_embeddings": true, "torch_dtype": "bfloat16"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "out")
	stdout, stderr, err := run(t, "", "profile", "--model", "acme/Tiny-1B", "--backend", "vllm", "--system", "h100_sxm",
		"--isl", "2000", "--osl", "200", "--ttft", "100", "--itl", "10", "--model-config", cfg, "--output-dir", dir, "--quiet", "--no-plots")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "Profiled acme/Tiny-1B (vllm) on h100_sxm") || !strings.Contains(stdout, "Suggested decode TP:") {
		t.Errorf("summary:\n%s", stdout)
	}
}

// A request without an SLA is profiled with upstream's defaults (v1alpha1:
// the profiler's isl 3000, osl 500, ttft 50 ms, itl 10 ms), and says so.
func TestMissingSLAUsesUpstreamDefaults(t *testing.T) {
	aic, err := os.ReadFile(examples + "trtllm-aic-offline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	noSLA := strings.Replace(string(aic), "      sla:\n        isl: 4000\n        osl: 500\n        ttft: 300.0\n        itl: 10.0\n", "", 1)
	if noSLA == string(aic) {
		t.Fatal("could not strip the sla block from the example")
	}
	dir := filepath.Join(t.TempDir(), "out")
	_, stderr, err := run(t, noSLA, "profile", "-f", "-", "--output-dir", dir, "--quiet", "--no-plots")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	want := "Warning: spec.profilingConfig.config.sla: profiling with isl 3000, osl 500, ttft 50 ms, itl 10 ms (the profiler's defaults)"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	var r results.Results
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Input.SLA.ISL != 3000 || r.Input.SLA.OSL != 500 || r.Input.SLA.TTFT != 50 || r.Input.SLA.ITL != 10 {
		t.Errorf("profiled SLA = %+v", r.Input.SLA)
	}
}
