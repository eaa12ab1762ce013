package profile_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// profileJSON profiles through the real command and returns results.json;
// args "-f -" read a DGDR given as the first argument "stdin:...".
func profileJSON(t *testing.T, args ...string) *results.Results {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	stdin := ""
	if len(args) > 0 && strings.HasPrefix(args[0], "stdin:") {
		stdin, args = strings.TrimPrefix(args[0], "stdin:"), append([]string{"-f", "-"}, args[1:]...)
	}
	args = append([]string{"profile", "--local", "--output-dir", dir, "--quiet", "--no-plots", "-o", "json"}, args...)
	stdout, stderr, err := run(t, stdin, args...)
	if err != nil {
		t.Fatalf("profile %v: %v\n%s", args, err, stderr)
	}
	var r results.Results
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("profile %v: results: %v", args, err)
	}
	return &r
}

// Issue 13's table: the three examples and ten other (model, system,
// backend, SLA) cases. The frontier pick is never worse than upstream's
// rule in throughput per GPU, meets the ITL target whenever any measured
// point does, and the prefill pick (same rule in both) is unchanged.
func TestFrontierPickNeverWorseThanUpstream(t *testing.T) {
	flags := func(model, backend, system string, isl, osl, ttft, itl string) []string {
		return []string{"--model", model, "--backend", backend, "--system", system, "--isl", isl, "--osl", osl, "--ttft", ttft, "--itl", itl}
	}
	// MoE models need the node size, which has no flag.
	moe := func(model, backend, system string, isl, osl, ttft, itl string) []string {
		return []string{"stdin:apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeploymentRequest\nmetadata: {name: moe}\nspec:\n  model: " + model +
			"\n  backend: " + backend + "\n  profilingConfig:\n    profilerImage: img\n    config:\n      sla: {isl: " + isl + ", osl: " + osl + ", ttft: " + ttft + ", itl: " + itl +
			"}\n      hardware: {num_gpus_per_node: 8}\n      sweep: {aicSystem: " + system + "}\n"}
	}
	cases := map[string][]string{
		"example trtllm-aic-offline":  {"-f", examples + "trtllm-aic-offline.yaml"},
		"example vllm-dense-online":   {"-f", examples + "vllm-dense-online.yaml"},
		"example sglang-moe":          {"-f", examples + "sglang-moe.yaml"},
		"Qwen3-8B H100 vLLM":          flags("Qwen/Qwen3-8B", "vllm", "h100_sxm", "2000", "200", "100", "8"),
		"Llama-3.1-70B H200 TRT-LLM":  flags("meta-llama/Llama-3.1-70B", "trtllm", "h200_sxm", "4000", "1000", "500", "20"),
		"Llama-3.1-8B A100 SGLang":    flags("meta-llama/Llama-3.1-8B", "sglang", "a100_sxm", "1000", "500", "50", "15"),
		"Qwen2.5-72B B200 vLLM":       flags("Qwen/Qwen2.5-72B", "vllm", "b200_sxm", "8000", "500", "1000", "30"),
		"Qwen3-30B-A3B H100 SGLang":   moe("Qwen/Qwen3-30B-A3B", "sglang", "h100_sxm", "2048", "256", "200", "12"),
		"gpt-oss-20b H100 TRT-LLM":    moe("openai/gpt-oss-20b", "trtllm", "h100_sxm", "1024", "1024", "80", "5"),
		"Llama-3.1-405B H200 TRT":     flags("meta-llama/Llama-3.1-405B", "trtllm", "h200_sxm", "3000", "500", "600", "50"),
		"Qwen3-0.6B L40S vLLM tight":  flags("Qwen/Qwen3-0.6B", "vllm", "l40s", "500", "100", "30", "2"),
		"Mistral-Nemo GB200 vLLM":     flags("mistralai/Mistral-Nemo-Instruct-2407", "vllm", "gb200_sxm", "6000", "600", "250", "10"),
		"Qwen3-32B H100 SGLang loose": flags("Qwen/Qwen3-32B", "sglang", "h100_sxm", "3000", "300", "800", "60"),
	}
	unmet := 0
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			fr := profileJSON(t, args...)
			up := profileJSON(t, append(args, "--selection=upstream")...)
			f, u := fr.Selection.Decode, up.Selection.Decode
			t.Logf("decode: frontier %s at %d, %.2f ms, %.1f tokens/s/GPU; upstream %s at %d, %.2f ms, %.1f (%.1f×)",
				f.Mapping.Label(), f.Concurrency, f.LatencyMs, f.ThptPerGPU, u.Mapping.Label(), u.Concurrency, u.LatencyMs, u.ThptPerGPU, f.ThptPerGPU/u.ThptPerGPU)
			if fr.Selection.Rule != results.RuleFrontier || up.Selection.Rule != results.RuleUpstream {
				t.Fatalf("rules %q / %q", fr.Selection.Rule, up.Selection.Rule)
			}
			anyMeets := false
			for _, d := range fr.Decode {
				anyMeets = anyMeets || d.ITLMs <= fr.Input.SLA.ITL
			}
			switch {
			case anyMeets && (!f.MeetsSLA || f.LatencyMs > fr.Input.SLA.ITL):
				t.Errorf("some point meets ITL %v ms, the frontier pick does not: %+v", fr.Input.SLA.ITL, f)
			case u.MeetsSLA && f.ThptPerGPU < u.ThptPerGPU:
				t.Errorf("frontier pick %.2f tokens/s/GPU is worse than upstream's %.2f", f.ThptPerGPU, u.ThptPerGPU)
			case !anyMeets:
				unmet++
				if u.MeetsSLA || f.Mapping != u.Mapping || f.LatencyMs != u.LatencyMs {
					t.Errorf("no point meets: both rules fall back to the lowest ITL; frontier %+v, upstream %+v", f, u)
				}
			}
			if fr.Selection.Prefill.Mapping != up.Selection.Prefill.Mapping {
				t.Errorf("prefill picks differ: %s / %s", fr.Selection.Prefill.Mapping.Label(), up.Selection.Prefill.Mapping.Label())
			}
		})
	}
	if unmet == 0 {
		t.Error("no case misses the ITL target everywhere: the fallback is untested")
	}
}

// `make demo`'s example: the decode pick at least 10× the old rule's
// throughput per GPU, within the ITL target, and its summary lines.
func TestDemoDecodePickTenTimesTheOldRule(t *testing.T) {
	fr := profileJSON(t, "-f", examples+"trtllm-aic-offline.yaml")
	up := profileJSON(t, "-f", examples+"trtllm-aic-offline.yaml", "--selection=upstream")
	f, u := fr.Selection.Decode, up.Selection.Decode
	if !f.MeetsSLA || f.LatencyMs > fr.Input.SLA.ITL || f.ThptPerGPU < 10*u.ThptPerGPU {
		t.Errorf("decode %s at %d: %.2f ms, %.2f tokens/s/GPU; the old rule's %s at %d gives %.2f: want ≥ 10× within %v ms",
			f.Mapping.Label(), f.Concurrency, f.LatencyMs, f.ThptPerGPU, u.Mapping.Label(), u.Concurrency, u.ThptPerGPU, fr.Input.SLA.ITL)
	}
	if c := fr.Selection.CoarseDecode; c == nil || c.Mapping != u.Mapping || c.ThptPerGPU != u.ThptPerGPU {
		t.Errorf("the recorded coarse pick %+v is not the old rule's %+v", c, u)
	}
	stdout, _, err := run(t, "", "profile", "--local", "-f", examples+"trtllm-aic-offline.yaml", "--output-dir", filepath.Join(t.TempDir(), "o"), "--quiet", "--no-plots")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "Suggested ") || strings.HasPrefix(l, "Max ") {
			got = append(got, l)
		}
	}
	fd := fr.DecodeFrontierOf(f.Mapping)
	if len(got) != 4 || !strings.HasPrefix(got[0], "Suggested prefill TP:") || !strings.HasPrefix(got[1], "Max ISL per prefill replica within TTFT 300 ms: ") ||
		!strings.HasPrefix(got[2], "Suggested decode TP:") || fd == nil ||
		got[3] != "Max concurrency per decode replica within ITL 10 ms: "+itoa(fd.Concurrency)+" ("+f.Mapping.Label()+")" {
		t.Errorf("summary lines:\n%s", strings.Join(got, "\n"))
	}
}

func itoa(v int) string { b, _ := json.Marshal(v); return string(b) }

// The what-if re-selects on the frontier from saved points only: at ITL 15
// ms the old pick was 44 tokens/s/GPU (TP=2 at concurrency 1); the
// saved frontier points give far more, marked as lower bounds, and
// --selection=upstream on the same file is the old rule again.
func TestWhatIfOnTheFrontier(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, "out")
	if _, stderr, err := run(t, "", "profile", "--local", "-f", examples+"trtllm-aic-offline.yaml", "--output-dir", saved, "--quiet", "--no-plots"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	whatIf := func(args ...string) (*results.Results, string) {
		out := filepath.Join(dir, strings.Join(args, ""))
		stdout, stderr, err := run(t, "", append([]string{"profile", "--from", filepath.Join(saved, "results.json"), "--output-dir", out, "--no-plots"}, args...)...)
		if err != nil {
			t.Fatalf("what-if %v: %v\n%s", args, err, stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r results.Results
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return &r, stdout
	}
	fr, out := whatIf("--itl", "15")
	up, _ := whatIf("--itl", "15", "--selection=upstream")
	f, u := fr.Selection.Decode, up.Selection.Decode
	if !f.MeetsSLA || f.LatencyMs > 15 || f.ThptPerGPU < 10*u.ThptPerGPU || up.Frontier != nil || up.Selection.Rule != results.RuleUpstream {
		t.Errorf("what-if at 15 ms: frontier %+v, upstream %+v (frontier kept: %v)", f, u, up.Frontier != nil)
	}
	if !strings.Contains(out, "Warning: Some SLA frontiers are lower bounds") || !strings.Contains(out, "Max concurrency per decode replica within ITL 15 ms: at least ") {
		t.Errorf("what-if summary:\n%s", out)
	}
	// The TTFT target did not change: the searched prefill frontier stays exact.
	if p := fr.PrefillFrontierOf(fr.Selection.Prefill.Mapping); p == nil || !p.Exact {
		t.Errorf("prefill frontier after an ITL-only what-if: %+v", p)
	}
}
