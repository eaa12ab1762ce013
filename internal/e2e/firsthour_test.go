package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first hour of a new user (issue 14): every line of its "Why" that
// concerns the command line, run against the built binary (and, for the
// verbs that need one, the real control plane of this package). Each row
// is the exact command, the exit code and what the message must say; where
// the message suggests a fix, the fix is run too and must succeed or fail
// differently.

// hourRow is one observed surprise and what the plugin does now.
type hourRow struct {
	name string
	why  string // the line of the "Why" it answers
	args []string
	// files are written into the row's working directory first.
	files map[string]string
	// interruptAt runs the command paused at this phase of profile and
	// sends it SIGINT there.
	interruptAt string
	code        int
	want        []string // substrings of stdout + stderr
	not         []string // must not appear
	// fix is the suggested fix, in the same directory; it must exit 0,
	// or fail without the row's first wanted message.
	fix []string
	// check inspects the row's directory and result afterwards.
	check func(t *testing.T, dir string, r result)
}

// sla is a workload and target written as flags.
var sla = []string{"--backend", "vllm", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20"}

// local is `profile --local` on flags, quick: no plots, no progress.
func local(args ...string) []string {
	return append(append([]string{"profile", "--local", "--no-plots", "-q", "--output-dir", "out"}, sla...), args...)
}

// dgdrYAML is a hand-written v1alpha1 DGDR without a profiler image; the
// config block is inserted where %CONFIG% stands.
const dgdrYAML = `apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeploymentRequest
metadata:
  name: hand
spec:
  model: Qwen/Qwen3-0.6B
  backend: vllm
  profilingConfig:
    config:
      sla: {isl: 3000, osl: 150, ttft: %TTFT%, itl: 20}
%CONFIG%`

func hand(ttft, config string) string {
	return strings.NewReplacer("%TTFT%", ttft, "%CONFIG%", config).Replace(dgdrYAML)
}

func hourRows(ns string) []hourRow {
	profileFile := []string{"profile", "--local", "-f", "dgdr.yaml", "--no-plots", "-q", "--output-dir", "out"}
	nothingWritten := func(t *testing.T, dir string, r result) {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() == "out" || strings.Contains(e.Name(), ".staging-") {
				t.Errorf("left behind after the interrupt: %s", e.Name())
			}
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if last := lines[len(lines)-1]; last != "interrupted" || strings.Contains(r.stderr, "error:") {
			t.Errorf("stderr must end with the one line \"interrupted\":\n%s", r.stderr)
		}
	}
	interrupted := func(phase string) hourRow {
		return hourRow{name: "Ctrl-C while " + phase, why: "Ctrl-C during measuring prints `context canceled` with rc 1; during plotting it is ignored (rc 0)",
			args: []string{"profile", "--local", "-f", example("trtllm-aic-offline.yaml"), "--output-dir", "out"}, interruptAt: phase,
			code: 130, want: []string{"interrupted"}, check: nothingWritten}
	}
	return []hourRow{
		// MoE from flags.
		{name: "DeepSeek-R1 from flags", why: "MoE models cannot be profiled from flags: hardware.num_gpus_per_node: Required value",
			args: local("--model", "deepseek-ai/DeepSeek-R1"), want: []string{"assuming 8 GPUs per node", "set --gpus-per-node", "Suggested prefill TEP:", "Suggested decode DEP:"}},
		{name: "Qwen3-30B-A3B from flags", why: "MoE models cannot be profiled from flags (Qwen3-30B-A3B)",
			args: local("--model", "Qwen/Qwen3-30B-A3B"), want: []string{"assuming 8 GPUs per node", "Suggested prefill", "Suggested decode"}},
		{name: "gpt-oss-120b from flags", why: "MoE models cannot be profiled from flags (gpt-oss-120b)",
			args: local("--model", "openai/gpt-oss-120b"), want: []string{"Suggested prefill", "Suggested decode"}},
		{name: "Mixtral from flags", why: "MoE models cannot be profiled from flags (Mixtral)",
			args: local("--model", "mistralai/Mixtral-8x7B-v0.1"), want: []string{"Suggested prefill", "Suggested decode"}},
		{name: "--gpus-per-node", why: "... and there is no flag for it",
			args: local("--model", "Qwen/Qwen3-30B-A3B", "--gpus-per-node", "4"), want: []string{"on h100_sxm, 4 GPUs per node"}, not: []string{"assuming 8"}},
		{name: "local YAML without profilerImage", why: "A hand-written --local YAML without profilerImage is refused although local mode uses no image",
			args: profileFile, files: map[string]string{"dgdr.yaml": hand("200", "")}, want: []string{"profilerImage is not set: a local profile runs no image", "Suggested prefill"}},

		// Typos.
		{name: "hardware typo", why: "hardware.max_num_gpu_per_engine: 2 → exit 0, sweeps 1–8",
			args: profileFile, files: map[string]string{"dgdr.yaml": hand("200", "      hardware: {max_num_gpu_per_engine: 2}\n")}, code: 1,
			want: []string{`unknown key "max_num_gpu_per_engine" in hardware: did you mean max_num_gpus_per_engine?`}},
		{name: "sweep typo", why: "sweep.use_ai_configurtor → exit 0",
			args: profileFile, files: map[string]string{"dgdr.yaml": hand("200", "      sweep: {use_ai_configurtor: true, aic_system: h200_sxm}\n")}, code: 1,
			want: []string{"spec.profilingConfig.config.sweep.use_ai_configurtor", "did you mean use_ai_configurator?"}},
		{name: "aic typo", why: "aic.sytem → exit 0, simulates h100_sxm",
			args: profileFile, files: map[string]string{"dgdr.yaml": hand("200", "      aic: {sytem: h200_sxm}\n")}, code: 1,
			want: []string{`unknown key "sytem" in aic: did you mean system?`}},
		{name: "model typo", why: "Qwen/Qwen-3-0.6B → no did-you-mean",
			args: local("--model", "Qwen/Qwen-3-0.6B"), code: 1, want: []string{"did you mean Qwen/Qwen3-0.6B?", "kubectl dgdr models"},
			fix: local("--model", "Qwen/Qwen3-0.6B")},
		{name: "models lists the catalog", why: "there is no way to list the model catalog",
			args: []string{"models"}, want: []string{"MODEL", "Qwen/Qwen3-0.6B", "deepseek-ai/DeepSeek-R1", "TEP prefill, DEP decode"}},
		{name: "--model completes", why: "there is no way to list the model catalog (shell completion)",
			args: []string{"__complete", "profile", "--model", "Qwen/Qwen3-3"}, want: []string{"Qwen/Qwen3-32B", "Qwen/Qwen3-30B-A3B"}},

		// Advice that leads somewhere.
		{name: "ttft with a unit", why: `ttft: 200ms → "remove the quotes (ttft: 200ms)"`,
			args: profileFile, files: map[string]string{"dgdr.yaml": hand("200ms", "")}, code: 1,
			want: []string{"write the number of milliseconds without the unit (ttft: 200)"}, not: []string{"remove the quotes"}},
		{name: "--min-gpus above a node", why: `--min-gpus 16 → "the model needs at least 16 GPU(s)"`,
			args: local("--model", "Qwen/Qwen3-32B", "--min-gpus", "16"), code: 1,
			want: []string{"--min-gpus 16 is above the 8 GPUs one engine may use", "set --min-gpus to at most 8"}, not: []string{"needs at least 16"},
			fix: local("--model", "Qwen/Qwen3-32B", "--min-gpus", "8")},
		{name: "405B on H100", why: `Llama-3.1-405B on H100 → "set --max-gpus to 11 or more", which then fails on num_kv_heads`,
			args: local("--model", "meta-llama/Llama-3.1-405B", "--system", "h100_sxm"), code: 1,
			want: []string{"need at least 11 GPUs per engine, more than a node", "set --system to a GPU with more memory", "h200_sxm"}, not: []string{"--max-gpus to 11"},
			fix: local("--model", "meta-llama/Llama-3.1-405B", "--system", "h200_sxm")},
		{name: "--from names itself", why: "--from nonexist.json → error names -f",
			args: []string{"profile", "--from", "nonexist.json", "--ttft", "100"}, code: 1, want: []string{"error: --from nonexist.json: open nonexist.json"}, not: []string{"-f nonexist"}},
		{name: "NAME with --local", why: "profile NAME --local → message with --local twice",
			args: []string{"profile", "qwen", "--local"}, code: 1,
			want: []string{"drop qwen to profile locally", "drop --local to profile the DGDR in the cluster"}, not: []string{"-f FILE --local"}},
		{name: "--ttft nan", why: `--ttft nan → json: invalid number literal "NaN" with no flag named`,
			args: local("--model", "Qwen/Qwen3-0.6B", "--ttft", "nan"), code: 1, want: []string{"--ttft NaN is not a latency"}, not: []string{"json:"}},
		{name: "flags mode names the flag", why: "in flags mode errors cite spec.profilingConfig.config.sla.itl instead of --itl",
			args: local("--model", "Qwen/Qwen3-0.6B", "--itl", "-5"), code: 1,
			want: []string{"invalid flags: --itl: Invalid value: -5: --itl must be positive"}, not: []string{"spec.profilingConfig"},
			fix: local("--model", "Qwen/Qwen3-0.6B", "--itl", "20")},
		{name: "file mode names the field", why: "... and the field path in file mode",
			args: profileFile, files: map[string]string{"dgdr.yaml": strings.Replace(hand("200", ""), "itl: 20", "itl: -5", 1)}, code: 1,
			want: []string{"spec.profilingConfig.config.sla.itl: Invalid value: -5"}},
		{name: "YAML tab", why: `a YAML tab gives no word "tab"`,
			args: profileFile, files: map[string]string{"dgdr.yaml": strings.Replace(hand("200", ""), "  model:", "\tmodel:", 1)}, code: 1,
			want: []string{"line 6 holds a tab; YAML indents with spaces only"}},
		{name: "create: YAML tab", why: `a YAML tab gives no word "tab" (create)`,
			args: []string{"create", "-f", "dgdr.yaml", "--dry-run=client"}, files: map[string]string{"dgdr.yaml": strings.Replace(hand("200", ""), "  model:", "\tmodel:", 1)}, code: 1,
			want: []string{"tab"}},

		// --output-dir and Ctrl-C.
		{name: "--output-dir is a file", why: "--output-dir that is a file is reported only after the whole profile ran",
			args: local("--model", "Qwen/Qwen3-0.6B", "--output-dir", "afile"), files: map[string]string{"afile": "x"}, code: 1,
			want: []string{`error: --output-dir: output directory "afile" exists and is not a directory`}, not: []string{"Profiled", "Warning"}},
		{name: "--output-dir not writable", why: "--output-dir that is not writable is reported only after the whole profile ran",
			args: local("--model", "Qwen/Qwen3-0.6B", "--output-dir", "/proc/dgdr-out"), code: 1,
			want: []string{`--output-dir: output directory "/proc/dgdr-out" cannot be written`}, not: []string{"Profiled"}},
		{name: "--output-dir not empty", why: "--output-dir that is non-empty is reported only after the whole profile ran",
			args: local("--model", "Qwen/Qwen3-0.6B", "--output-dir", "mine"), files: map[string]string{"mine/notes.txt": "keep me"}, code: 1,
			want: []string{`output directory "mine" is not empty and holds no previous profile`, "notes.txt"}, not: []string{"Profiled"},
			check: func(t *testing.T, dir string, _ result) {
				if b, err := os.ReadFile(filepath.Join(dir, "mine", "notes.txt")); err != nil || string(b) != "keep me" {
					t.Errorf("the user's file is gone or changed: %q %v", b, err)
				}
			}},
		interrupted("reading"),
		interrupted("measuring"),
		interrupted("rendering"),
		interrupted("staged"),

		// estimate.
		{name: "estimate: concurrency above the KV cache", why: "estimate --concurrency 500 above its own max concurrency with fits: true",
			args: []string{"estimate", "--model", "Qwen/Qwen3-32B", "--concurrency", "500"}, code: 1,
			want: []string{"--concurrency 500 is above what TP=1 holds", "use --tp 8"},
			fix:  []string{"estimate", "--model", "Qwen/Qwen3-32B", "--concurrency", "500", "--tp", "8"}},
		{name: "estimate: ISL beyond the context", why: "--isl 100000 beyond Qwen3-32B's 40,960 context",
			args: []string{"estimate", "--model", "Qwen/Qwen3-32B", "--isl", "100000"}, code: 1,
			want: []string{"beyond the context of Qwen/Qwen3-32B (40960 tokens): use an --isl of at most 40810"},
			fix:  []string{"estimate", "--model", "Qwen/Qwen3-32B", "--isl", "40810", "--tp", "4"}},
		{name: "estimate: --tep on a dense model", why: "--tep 2 on a dense model",
			args: []string{"estimate", "--model", "Qwen/Qwen3-32B", "--tep", "2"}, code: 1,
			want: []string{"--tep 2 needs a mixture-of-experts model: Qwen/Qwen3-32B is dense"}, fix: []string{"estimate", "--model", "Qwen/Qwen3-32B", "--tp", "2"}},
		{name: "estimate and profile agree on TP=8", why: "profile drops TP=8 for Qwen3-30B-A3B while estimate --sweep lists TP=8 as ok",
			args: []string{"estimate", "--model", "Qwen/Qwen3-30B-A3B", "--sweep"},
			want: []string{"TP=8: profile drops it: num_kv_heads=4 not divisible by tp_size=8"}},
		{name: "profile drops the same TP=8", why: "... (the profile side of the same filter)",
			args: local("--model", "Qwen/Qwen3-30B-A3B"), want: []string{"dropped decode TP=8: num_kv_heads=4 not divisible by tp_size=8"}},
		{name: "no TEP=1 rows", why: "The prefill table lists TEP=1 and TP=1 as two rows and can print Suggested prefill TEP:1",
			args: local("--model", "Qwen/Qwen3-30B-A3B", "--ttft", "1000"), want: []string{"TP=1 "}, not: []string{"TEP=1 ", "TEP:1", "DEP=1 ", "DEP:1"}},

		// One surface.
		{name: "profile --dry-run, bare", why: "profile --dry-run is a bool while create/apply take --dry-run=none|client|server",
			args: []string{"profile", "-f", example("sglang-moe.yaml"), "--dry-run"}, want: []string{"Dry run: nothing was measured"}},
		{name: "profile --dry-run=client", why: "... the same spelling on profile",
			args: []string{"profile", "-f", example("sglang-moe.yaml"), "--dry-run=client"}, want: []string{"Dry run: nothing was measured"}},
		{name: "create --dry-run, bare", why: "... and a bare --dry-run on create is client, without a deprecation line",
			args: []string{"create", "qwen", "--model", "Qwen/Qwen3-0.6B", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "--dry-run", "-n", ns},
			want: []string{"dynamographdeploymentrequest.nvidia.com/qwen created (dry run)"}, not: []string{"deprecated", "W1", "E1"}},
		{name: "create --dry-run=server", why: "... and server on create",
			args: []string{"create", "qwen", "--model", "Qwen/Qwen3-0.6B", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "--dry-run=server", "-n", ns},
			want: []string{"(server dry run)"}},
		{name: "create --system", why: "profile --system vs create --aic-system",
			args: []string{"create", "qwen", "--model", "Qwen/Qwen3-0.6B", "--system", "h200_sxm", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "--dry-run=client", "-o", "jsonpath={.spec.profilingConfig.config.sweep.aicSystem}"},
			want: []string{"h200_sxm"}},
		{name: "create --aic-system, deprecated", why: "... --aic-system stays as a deprecated alias",
			args: []string{"create", "qwen", "--model", "Qwen/Qwen3-0.6B", "--aic-system", "h200_sxm", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "--dry-run=client", "-o", "jsonpath={.spec.profilingConfig.config.sweep.aicSystem}"},
			want: []string{"Warning: --aic-system is deprecated; use --system", "h200_sxm"},
			check: func(t *testing.T, _ string, r result) {
				if r.stdout != "h200_sxm" {
					t.Errorf("stdout must hold the object alone, the warning goes to stderr: %q", r.stdout)
				}
			}},
		{name: "create's default image", why: "create defaults the image to vllm-runtime:0.7.0 while examples and messages say 0.6.1",
			args: []string{"create", "qwen", "--model", "Qwen/Qwen3-0.6B", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "--dry-run=client", "-o", "jsonpath={.spec.profilingConfig.profilerImage}"},
			want: []string{"nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1"}},
		{name: "TensorRT-LLM's runtime image", why: "TRT-LLM runtime image is trtllm-runtime in three places and tensorrtllm-runtime in the DGD generator",
			args: []string{"create", "qwen", "--model", "Qwen/Qwen3-0.6B", "--backend", "trtllm", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "--dry-run=client", "-o", "jsonpath={.spec.profilingConfig.profilerImage}"},
			want: []string{"nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.6.1"}},
		{name: "status -o yaml is the object", why: "status -o yaml prints a view, not the object",
			args: []string{"status", "listed", "-n", ns, "-o", "yaml"}, want: []string{"apiVersion: nvidia.com/v1alpha1", "kind: DynamoGraphDeploymentRequest", "name: listed"}},
		{name: "status view stays the default", why: "... keep the view as the default/-o wide",
			args: []string{"status", "listed", "-n", ns, "-o", "wide"}, want: []string{"SLA and workload", "Sweep (* = chosen)"}},
		{name: "status -o view-json", why: "... and the view's JSON behind an explicit name",
			args: []string{"status", "listed", "-n", ns, "-o", "view-json"}, want: []string{`"name": "listed"`, `"next": `}},
	}
}

// errorPrefixRows: one failing call per verb; each says "error: " once,
// with no "Error:" and no klog line.
func errorPrefixRows(ns string) []hourRow {
	var rows []hourRow
	for _, args := range [][]string{
		{"profile", "--bogus"},
		{"profile", "nope", "-n", ns},
		{"create", "x"},
		{"apply", "nope", "-n", ns},
		{"status", "nope", "-n", ns},
		{"estimate", "--model", "acme/none"},
		{"models", "-o", "xml"},
		{"loadgen", "--isl", "1"},
		{"version", "-o", "xml"},
		{"status", "--server", "https://127.0.0.1:1"},
	} {
		rows = append(rows, hourRow{name: "error prefix: " + strings.Join(args, " "), why: "Error: vs error: prefixes",
			args: args, code: 1, want: []string{"error: "}, not: []string{"Error:", "E1", "W1"},
			check: func(t *testing.T, _ string, r result) {
				if !strings.HasPrefix(r.stderr, "error: ") || strings.Count(r.stderr, "error: ") != 1 {
					t.Errorf("stderr must be one error: line:\n%s", r.stderr)
				}
			}})
	}
	return rows
}

func TestFirstHour(t *testing.T) {
	ns := namespace(t, "first-hour")
	mustRun(t, "create", "listed", "--model", "Qwen/Qwen3-0.6B", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20", "-n", ns)
	for _, row := range append(hourRows(ns), errorPrefixRows(ns)...) {
		t.Run(row.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range row.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := runIn(t, dir, row.interruptAt, row.args...)
			all := r.stdout + r.stderr
			if r.code != row.code {
				t.Errorf("%s\nexit %d, want %d (%s)\n%s", strings.Join(row.args, " "), r.code, row.code, row.why, r)
			}
			for _, w := range row.want {
				if !strings.Contains(all, w) {
					t.Errorf("%s: output lacks %q (%s)\n%s", strings.Join(row.args, " "), w, row.why, r)
				}
			}
			for _, n := range row.not {
				if strings.Contains(all, n) {
					t.Errorf("%s: output has %q (%s)\n%s", strings.Join(row.args, " "), n, row.why, r)
				}
			}
			if row.check != nil {
				row.check(t, dir, r)
			}
			if row.fix != nil {
				f := runIn(t, dir, "", row.fix...)
				if f.code != 0 && strings.Contains(f.stdout+f.stderr, row.want[0]) {
					t.Errorf("the suggested fix %q still fails the same way:\n%s", strings.Join(row.fix, " "), f)
				}
			}
		})
	}
}

// runIn runs the built plugin in dir against this package's cluster. With
// pauseAt, profile stops at that phase (KUBECTL_DGDR_TEST_PAUSE_AT) and
// gets SIGINT once it says so on stderr: no sleep decides when.
func runIn(t *testing.T, dir, pauseAt string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"--kubeconfig", s.env.Kubeconfig}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out strings.Builder
	cmd.Stdout = &out
	var errText strings.Builder
	if pauseAt == "" {
		cmd.Stderr = &errText
		err := cmd.Run()
		return finish(t, args, out.String(), errText.String(), err)
	}
	cmd.Env = append(cmd.Env, "KUBECTL_DGDR_TEST_PAUSE_AT="+pauseAt)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	paused := false
	for sc.Scan() {
		line := sc.Text()
		errText.WriteString(line + "\n")
		if !paused && line == "paused at "+pauseAt {
			paused = true
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if !paused {
		t.Errorf("%s never paused at %q", strings.Join(args, " "), pauseAt)
	}
	return finish(t, args, out.String(), errText.String(), err)
}
