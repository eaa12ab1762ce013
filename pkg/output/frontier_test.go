package output

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// withFrontier adds a frontier search's result to the typical results: a
// decode frontier per mapping (TP=2 chosen, far beyond its coarse best) and
// a prefill frontier with a lower bound.
func withFrontier(r *results.Results) *results.Results {
	f := &results.Frontier{}
	for _, m := range r.Plan.PrefillMappings {
		f.Prefill = append(f.Prefill, results.PrefillFrontier{Mapping: m, MaxISL: 4000 * m.N, TTFTMs: 199.5, Bound: results.BoundSLA, Exact: m.N > 1, NextISL: 4000*m.N + 64})
	}
	for _, m := range r.Plan.DecodeMappings {
		f.Decode = append(f.Decode, results.DecodeFrontier{Mapping: m, Concurrency: 700 * m.N, ITLMs: 19.9, ThptPerGPU: 35000 / float64(m.N),
			Bound: results.BoundSLA, Exact: true, NextConcurrency: 700*m.N + 1, CoarseConcurrency: 480, CoarseThptPerGPU: 13043.48 / float64(m.N)})
	}
	r.Frontier = f
	r.Selection.Rule = results.RuleFrontier
	r.Selection.CoarseDecode = &results.Choice{Mapping: r.Selection.Decode.Mapping, LatencyMs: 13.6, ThptPerGPU: 1000, MeetsSLA: true, Concurrency: 1}
	return r
}

// The frontier of every mapping reaches profiler_status.yaml, report.html
// and the plots' legends; the upstream rule's outputs have none of it.
func TestFrontierInTheOutputs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := withFrontier(typicalResults("vllm", mapping("TP", 1), mapping("TP", 2)))
	if _, err := Write(dir, r, typicalInputs("vllm", "")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileStatus))
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := yaml.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Selection != results.RuleFrontier || len(st.Frontier) != 8 {
		t.Fatalf("status selection %q, %d frontier rows:\n%s", st.Selection, len(st.Frontier), raw)
	}
	chosen := 0
	for _, f := range st.Frontier {
		if f.Chosen {
			chosen++
			if f.Phase == "decode" && (f.Mapping != "TP=2" || f.Max != 1400 || f.ThptPerGPU != 17500) {
				t.Errorf("chosen decode row %+v", f)
			}
		}
		if f.Phase == "prefill" && f.Mapping == "TP=1" && f.Exact {
			t.Errorf("the TP=1 prefill frontier is a lower bound: %+v", f)
		}
	}
	if chosen != 2 {
		t.Errorf("%d chosen rows, want the prefill and the decode pick", chosen)
	}

	html, err := os.ReadFile(filepath.Join(dir, FileReport))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>SLA frontier</h2>", "concurrency 1400", "&gt;= ISL 4000", "Selection rule: <b>frontier</b>",
		"Dynamo's rule on the coarse sweep alone would pick decode TP=2 at concurrency 1: 1000.00 tokens/s/GPU (13.0× less)",
		"Max concurrency per decode replica within ITL 20 ms: 1400 (TP=2)", "Max ISL per prefill replica within TTFT 200 ms: at least 4000 (4064 misses) (TP=1)"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	// The upstream rule: no frontier anywhere.
	up := filepath.Join(t.TempDir(), "up")
	r = typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))
	r.Selection.Rule = results.RuleUpstream
	if _, err := Write(up, r, typicalInputs("vllm", "")); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(filepath.Join(up, FileStatus))
	html, _ = os.ReadFile(filepath.Join(up, FileReport))
	if strings.Contains(string(raw), "frontier:") || !strings.Contains(string(raw), "selection: upstream") || strings.Contains(string(html), "SLA frontier") {
		t.Errorf("upstream outputs mention a frontier:\n%s", raw)
	}
}
