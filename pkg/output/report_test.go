package output

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// missedResults is the typical profile whose prefill misses TTFT 200 ms by
// 60 ms, with the warnings the webhook's feasibility check and the profiler
// add for it, each twice as the CLI used to pass them on.
func missedResults() *results.Results {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))
	r.Selection.Prefill.LatencyMs, r.Selection.Prefill.MeetsSLA = 260, false
	unmet := profiler.MsgTTFTUnmet + " (best TTFT 260.00 ms with TP=1, SLA 200 ms)"
	feasible := "SLA cannot be met: the best TTFT the estimator finds for Qwen/Qwen3-0.6B at isl 3000 is 260.0 ms (TP=1), above sla.ttft 200 ms"
	other := "spec.profilingConfig.config.hardware.max_num_gpus_per_engine was not set; set it to 8"
	r.Warnings = []string{other, feasible, unmet, other, feasible, unmet}
	return r
}

func writeReport(t *testing.T, r *results.Results, in Inputs) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := Write(dir, r, in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileReport))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A met SLA gets a green banner with both latencies against their targets;
// nothing on the page says it missed.
func TestReportBannerMet(t *testing.T) {
	rep := writeReport(t, typicalResults("vllm", mapping("TP", 1), mapping("TP", 2)), typicalInputs("vllm", ""))
	for _, want := range []string{`class="banner met"`, "<strong>SLA met</strong>",
		"TTFT 34.76 ms ≤ 200 ms target on prefill TP=1 (1 GPU(s)).", "ITL 18.40 ms ≤ 20 ms target on decode TP=2 (2 GPU(s))."} {
		if !strings.Contains(rep, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(rep, "SLA missed") || strings.Contains(rep, `banner missed`) {
		t.Error("a met SLA reports a miss")
	}
}

// A missed SLA gets a red banner saying which target, on which engine and
// by how much, and the warnings that only restate it are left out, as are
// repeats.
func TestReportBannerMissedAndWarnings(t *testing.T) {
	rep := writeReport(t, missedResults(), typicalInputs("vllm", ""))
	for _, want := range []string{`class="banner missed"`, "<strong>SLA missed</strong>",
		"TTFT 260.00 ms on prefill TP=1 (1 GPU(s)), the best the sweep found, is 60.00 ms over the 200 ms target (1.3× the target).",
		"ITL 18.40 ms ≤ 20 ms target on decode TP=2", "relax the missed target"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	warnings := between(rep, `<ul id="warnings">`, "</ul>")
	if strings.Count(warnings, "<li>") != 1 || !strings.Contains(warnings, "max_num_gpus_per_engine was not set") {
		t.Errorf("warnings, want the one that is not about the miss, once:\n%s", warnings)
	}
	if strings.Contains(rep, "SLA cannot be met") || strings.Contains(rep, profiler.MsgTTFTUnmet) {
		t.Error("report.html restates the banner in its warnings")
	}
}

// The prefixes the report drops under a red banner are the ones the
// profiler and the webhook really write.
func TestReportDropsTheRealMissWarnings(t *testing.T) {
	d := typicalInputs("trtllm", `{"sla":{"isl":4000,"osl":500,"ttft":1,"itl":0.5},"sweep":{"use_ai_configurator":true},"aic":{"system":"h200_sxm"}}`).DGDR
	d.Spec.Model = "Qwen/Qwen3-32B"
	dws, err := admission.Default(d)
	if err != nil {
		t.Fatal(err)
	}
	ws, errs := admission.Validate(d)
	if len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	ws = append(append(dws, ws...), profiler.MsgTTFTUnmet+" (x)", profiler.MsgITLUnmet+" (y)")
	misses := 0
	for _, w := range ws {
		if strings.HasPrefix(w, "SLA cannot be met") {
			misses++
		}
	}
	if misses != 2 {
		t.Fatalf("the webhook's warnings hold %d SLA misses, want TTFT and ITL:\n%s", misses, strings.Join(ws, "\n"))
	}
	for _, w := range reportWarnings(ws, true) {
		if strings.Contains(w, "cannot be met") || strings.Contains(w, "No engine configuration") {
			t.Errorf("kept %q under a red banner", w)
		}
	}
	if got := reportWarnings(ws, false); len(got) != len(ws) {
		t.Errorf("without a miss every distinct warning stays: %d of %d", len(got), len(ws))
	}
}

// Every sweep row says whether it meets its target.
func TestReportSLAColumn(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))
	rep := writeReport(t, r, typicalInputs("vllm", ""))
	for _, tc := range []struct {
		table       string
		meets, rows int
	}{{"prefill-sweep", countIf(r.Prefill, func(p results.PrefillPoint) bool { return p.TTFTMs <= 200 }), len(r.Prefill)},
		{"decode-sweep", countIf(r.Decode, func(p results.DecodePoint) bool { return p.ITLMs <= 20 }), len(r.Decode)}} {
		tab := between(rep, `<table id="`+tc.table+`">`, "</table>")
		m, x := strings.Count(tab, "✓ meets"), strings.Count(tab, "✗ misses")
		if m != tc.meets || m+x != tc.rows || tc.meets == 0 || tc.meets == tc.rows {
			t.Errorf("%s: %d meets and %d misses, want %d of %d rows meeting", tc.table, m, x, tc.meets, tc.rows)
		}
	}
	if !strings.Contains(rep, `<div class="plots">`) {
		t.Error("the plots are not in the two-column grid")
	}
}

func countIf[T any](v []T, f func(T) bool) int {
	n := 0
	for _, x := range v {
		if f(x) {
			n++
		}
	}
	return n
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(after, to)
	return in
}

// The next steps are commands that work as written: the Secret the
// workers' envFromSecret names, in the DGD's namespace, then the request as
// profiled (flags applied) through kubectl dgdr, which the webhook's rules
// accept, or the DGD as generated.
func TestReportNextSteps(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))
	in := typicalInputs("vllm", "")
	rep := writeReport(t, r, in)
	d, err := GenerateDGD(r, in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Namespace != "team-a" || d.Spec.Services["VllmDecodeWorker"].EnvFromSecret != "hf-token-secret" {
		t.Fatalf("the DGD's namespace %q / secret %q changed; update this test", d.Namespace, d.Spec.Services["VllmDecodeWorker"].EnvFromSecret)
	}
	steps := html.UnescapeString(between(rep, "<h2>Next steps</h2>", "</ol>"))
	for _, want := range []string{
		`kubectl create secret generic hf-token-secret --from-literal=HF_TOKEN="$HF_TOKEN" -n team-a`,
		"kubectl dgdr create -f - <<'EOF'\n", "EOF\nkubectl dgdr profile sla-online -n team-a\nkubectl dgdr apply sla-online -n team-a --wait",
		"kubectl apply -f config_with_planner.yaml -n team-a"} {
		if !strings.Contains(steps, want) {
			t.Errorf("next steps lack %q:\n%s", want, steps)
		}
	}
	// The heredoc is the request as profiled, and the webhook's rules take it.
	manifest := between(steps, "kubectl dgdr create -f - <<'EOF'\n", "EOF\n")
	var back v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.UnmarshalStrict([]byte(manifest), &back); err != nil {
		t.Fatalf("the heredoc is not a DGDR: %v\n%s", err, manifest)
	}
	if back.Name != "sla-online" || back.Namespace != "team-a" || !equalJSON(t, back.Spec, in.DGDR.Spec) {
		t.Errorf("the heredoc is not the profiled request:\n%s", manifest)
	}
	if _, err := admission.Default(&back); err != nil {
		t.Fatal(err)
	}
	if _, errs := admission.Validate(&back); len(errs) > 0 {
		t.Errorf("the webhook's rules refuse the suggested request: %v", errs.ToAggregate())
	}
	// With autoApply, profile deploys: no apply step.
	in.DGDR.Spec.AutoApply = true
	if auto := nextSteps(r, in, d); len(auto) != 3 || strings.Contains(auto[1].Commands[0], "dgdr apply") || !strings.Contains(auto[1].Text, "autoApply") {
		t.Errorf("autoApply next steps: %+v", auto)
	}
	in.DGDR.Spec.AutoApply = false
	// A DGDR read from the cluster only needs applying.
	in.DGDR.UID = "0b5d7c8e"
	cl := nextSteps(r, in, d)
	if len(cl) != 2 || cl[1].Commands[0] != "kubectl dgdr apply sla-online -n team-a --wait" {
		t.Errorf("cluster next steps: %+v", cl)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

// disagg_config.yaml is the graph at the recommended mappings: the workers
// of config_with_planner.yaml, not the template's TP=1 on 1 GPU.
func TestDisaggConfigHasTheRecommendedMappings(t *testing.T) {
	for _, tc := range []struct {
		backend  string
		pre, dec results.Mapping
	}{{"vllm", mapping("TP", 2), mapping("TP", 8)}, {"sglang", mapping("TEP", 8), mapping("DEP", 16)}, {"trtllm", mapping("TP", 4), mapping("TP", 1)}} {
		r := typicalResults(tc.backend, tc.pre, tc.dec)
		dir := filepath.Join(t.TempDir(), "out")
		if _, err := Write(dir, r, typicalInputs(tc.backend, "")); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, FileDisaggConfig))
		if err != nil {
			t.Fatal(err)
		}
		var got dgd.DynamoGraphDeployment
		if err := yaml.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		want, err := GenerateDGD(r, typicalInputs(tc.backend, ""))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got.Spec.Services[servicePlanner]; ok {
			t.Errorf("%s: disagg_config.yaml has a Planner", tc.backend)
		}
		be := backends[tc.backend]
		for _, w := range []struct {
			name string
			m    results.Mapping
		}{{be.prefillName, tc.pre}, {be.decodeName, tc.dec}} {
			g, ok := got.Spec.Services[w.name]
			if !ok {
				t.Fatalf("%s: no %s in disagg_config.yaml", tc.backend, w.name)
			}
			gy, _ := yaml.Marshal(g)
			wy, _ := yaml.Marshal(want.Spec.Services[w.name])
			if string(gy) != string(wy) {
				t.Errorf("%s: %s differs from config_with_planner.yaml's:\n%s\nwant\n%s", tc.backend, w.name, gy, wy)
			}
			if g.Resources == nil || g.Resources.Limits == nil || g.Resources.Limits.GPU != strconv.Itoa(min(w.m.N, 8)) {
				t.Errorf("%s: %s runs on %+v GPUs, want the %s mapping's", tc.backend, w.name, g.Resources, w.m.Label())
			}
		}
	}
}
