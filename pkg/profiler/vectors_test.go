package profiler

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Upstream test vectors of profiler.md §18.

func TestGPUCountsTV01(t *testing.T) {
	cases := []struct {
		min, max int
		want     []int
	}{
		{1, 8, []int{1, 2, 4, 8}},
		{8, 32, []int{8, 16, 32}},
		{3, 8, []int{4, 8}},
		{1, 6, []int{1, 2, 4}},
		{8, 16, []int{8, 16}},
		{3, 3, nil},
	}
	for _, c := range cases {
		if got := GPUCounts(c.min, c.max); !reflect.DeepEqual(got, c.want) {
			t.Errorf("GPUCounts(%d, %d) = %v, want %v", c.min, c.max, got, c.want)
		}
	}
}

func TestEmptyGPUListFailsEarly(t *testing.T) {
	_, err := BuildPlan(SearchSpace{MinGPUs: 3, MaxGPUs: 3, GPUsPerNode: 8}, ModelInfo{}, FilterOptions{}, NewLogger(nil))
	if err == nil || !strings.Contains(err.Error(), "No power-of-two GPU count in [3, 3]") {
		t.Fatalf("err = %v", err)
	}
}

// fakeKV answers MaxKVTokens and records the concurrencies asked for.
type fakeMeasurer struct {
	kv    int
	ttft  func(m results.Mapping, isl int) float64
	itl   func(m results.Mapping, isl, osl, n int) float64
	thpt  func(m results.Mapping, n int, itl float64) float64 // nil: the estimator's formula
	skip  map[string]bool
	calls int
}

func (f *fakeMeasurer) Name() string { return "fake" }
func (f *fakeMeasurer) PrefillTTFT(_ context.Context, m results.Mapping, isl int) (float64, error) {
	f.calls++
	if f.skip[m.Label()] {
		return 0, &SkipError{Reason: "skip " + m.Label()}
	}
	return f.ttft(m, isl), nil
}
func (f *fakeMeasurer) MaxKVTokens(_ context.Context, m results.Mapping) (int, error) {
	if f.skip[m.Label()] {
		return 0, &SkipError{Reason: "skip " + m.Label()}
	}
	return f.kv, nil
}
func (f *fakeMeasurer) Decode(_ context.Context, m results.Mapping, isl, osl, n int) (DecodeSample, error) {
	f.calls++
	itl := f.itl(m, isl, osl, n)
	if f.thpt != nil {
		return DecodeSample{ITLMs: itl, ThptPerGPU: f.thpt(m, n, itl)}, nil
	}
	return DecodeSample{ITLMs: itl, ThptPerGPU: DecodeThroughputPerGPU(n, itl, m)}, nil
}

func TestDecodeGridTV07(t *testing.T) {
	f := &fakeMeasurer{kv: 643891, itl: func(m results.Mapping, isl, osl, n int) float64 { return 5 + float64(n)/100 }}
	p := &Profiler{Measurer: f, Log: NewLogger(nil)}
	isls := grid.DecodeISLs(40960, 6)
	if want := []int{100, 6843, 13586, 20329, 27072, 33815}; !reflect.DeepEqual(isls, want) {
		t.Fatalf("DecodeISLs = %v, want %v", isls, want)
	}
	g, err := p.decodeGrid(t.Context(), NewMapping("TP", 1), decodeRows(isls, 40960, 643891, 1, 6, nil, 0), 6, p.Log)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.ITLMs) != 36 || g.MaxKVTokens != 643891 {
		t.Fatalf("points = %d, max kv = %d", len(g.ITLMs), g.MaxKVTokens)
	}
	var ctxs []float64
	for i := 0; i < 36; i += 6 {
		ctxs = append(ctxs, g.ContextLength[i])
	}
	if want := []float64{350, 7093, 13836, 20579, 27322, 34065}; !reflect.DeepEqual(ctxs, want) {
		t.Errorf("contexts = %v, want %v", ctxs, want)
	}
	n := func(i int) int { return int(g.KVUsage[i]*643891/g.ContextLength[i] + 0.5) }
	var first, second []int
	for i := 0; i < 6; i++ {
		first, second = append(first, n(i)), append(second, n(6+i))
	}
	if want := []int{1, 215, 429, 644, 858, 1073}; !reflect.DeepEqual(first, want) {
		t.Errorf("n(ISL 100) = %v, want %v", first, want)
	}
	if want := []int{1, 18, 35, 52, 69, 87}; !reflect.DeepEqual(second, want) {
		t.Errorf("n(ISL 6843) = %v, want %v", second, want)
	}
	if g.KVUsage[0] != 350.0/643891 {
		t.Errorf("x_kv_usage[0] = %v", g.KVUsage[0])
	}
}

func TestThroughputTV15AndSeed(t *testing.T) {
	cases := []struct {
		isl  int
		ttft float64
		m    results.Mapping
		want string
	}{
		{3000, 100, NewMapping("TP", 4), "7500.00"},
		{3000, 200, NewMapping("DEP", 8), "15000.00"},
		{100, 34.755885, NewMapping("TP", 1), "2877.21"},
		{3000, 48.370776, NewMapping("TP", 4), "15505.23"},
	}
	for _, c := range cases {
		if got := strconv.FormatFloat(PrefillThroughputPerGPU(c.isl, c.ttft, c.m), 'f', 2, 64); got != c.want {
			t.Errorf("thpt(%d, %v, %s) = %s, want %s", c.isl, c.ttft, c.m.Label(), got, c.want)
		}
	}
	// The seed's line: throughput from the unrounded TTFT, both printed .2f.
	s := results.Selection{Prefill: &results.Choice{Mapping: NewMapping("TP", 4), LatencyMs: 48.370776,
		ThptPerGPU: PrefillThroughputPerGPU(3000, 48.370776, NewMapping("TP", 4))},
		Decode: &results.Choice{Mapping: NewMapping("TP", 4), LatencyMs: 4.8312, ThptPerGPU: 51.2249}}
	got := (&results.Results{Selection: s}).SuggestedLines()
	want := []string{
		"Suggested prefill TP:4 (TTFT 48.37 ms, throughput 15505.23 tokens/s/GPU)",
		"Suggested decode TP:4 (ITL 4.83 ms, throughput 51.22 tokens/s/GPU)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SuggestedLines =\n%q\nwant\n%q", got, want)
	}
	moe := results.Selection{Prefill: &results.Choice{Mapping: NewMapping("TEP", 8), LatencyMs: 1, ThptPerGPU: 2},
		Decode: &results.Choice{Mapping: NewMapping("DEP", 16), LatencyMs: 1, ThptPerGPU: 2}}
	if got := (&results.Results{Selection: moe}).SuggestedLines(); !strings.HasPrefix(got[0], "Suggested prefill TEP:8 (") || !strings.HasPrefix(got[1], "Suggested decode DEP:16 (") {
		t.Errorf("MoE lines = %q", got)
	}
}

func TestSelectionTV19TV20(t *testing.T) {
	ttft := []float64{60, 40, 25}
	thpt := []float64{50000, 37500, 30000}
	if i, meets, ok := SelectIndex(ttft, thpt, 50); i != 1 || !meets || !ok {
		t.Errorf("SLA 50: idx %d meets %v ok %v, want TP2 (1)", i, meets, ok)
	}
	if i, meets, _ := SelectIndex(ttft, thpt, 20); i != 2 || meets {
		t.Errorf("SLA 20: idx %d meets %v, want fallback argmin TTFT (2)", i, meets)
	}
	// TV-20: ties go to the first index.
	if i, _, _ := SelectIndex([]float64{10, 5, 9, 5}, []float64{1, 7, 3, 7}, 10); i != 1 {
		t.Errorf("tie: idx %d, want 1", i)
	}
	// Latency equal to the SLA meets it (<=); fallback ties go first too.
	if i, meets, _ := SelectIndex([]float64{50}, []float64{1}, 50); i != 0 || !meets {
		t.Errorf("boundary: idx %d meets %v", i, meets)
	}
	if i, _, _ := SelectIndex([]float64{70, 60, 60}, []float64{1, 2, 3}, 10); i != 1 {
		t.Errorf("fallback tie: idx %d, want 1", i)
	}
	// Non-finite points never win.
	nan := []float64{0, 0}
	nan[0] = nan[0] / nan[1] // NaN without a constant expression
	if i, _, _ := SelectIndex([]float64{nan[0], 30}, []float64{1e9, 1}, 50); i != 1 {
		t.Errorf("NaN: idx %d, want 1", i)
	}
	if _, _, ok := SelectIndex([]float64{nan[0]}, []float64{1}, 50); ok {
		t.Error("only NaN: ok")
	}
}

func TestSelectFallbackWarnsTV19(t *testing.T) {
	log := NewLogger(nil)
	r := &results.Results{}
	r.Input.SLA.TTFT, r.Input.SLA.ITL = 20, 10
	for i, n := range []int{1, 2, 4} {
		m := NewMapping("TP", n)
		r.Prefill = append(r.Prefill, results.PrefillPoint{Mapping: m, TTFTMs: []float64{60, 40, 25}[i], ThptPerGPU: []float64{50000, 37500, 30000}[i]})
		r.Decode = append(r.Decode, results.DecodePoint{Mapping: m, ITLMs: 5, ThptPerGPU: float64(10 - n)})
	}
	if err := Select(r, log); err != nil {
		t.Fatal(err)
	}
	if r.Selection.Prefill.Mapping.N != 4 || r.Selection.Prefill.MeetsSLA {
		t.Errorf("prefill = %+v", r.Selection.Prefill)
	}
	if r.Selection.Decode.Mapping.N != 1 || !r.Selection.Decode.MeetsSLA {
		t.Errorf("decode = %+v", r.Selection.Decode)
	}
	if len(log.Warnings) != 1 || log.Warnings[0] != MsgTTFTUnmet {
		t.Errorf("warnings = %q", log.Warnings)
	}
	if !strings.Contains(string(log.Bytes()), "Suggested prefill parallel mapping: TP=4 on 4 GPU(s) (TTFT 25.00 ms, throughput 30000.00 tokens/s/GPU)") {
		t.Errorf("log:\n%s", log.Bytes())
	}
	r.Decode = nil
	err := Select(r, NewLogger(nil))
	if pe, ok := err.(*PhaseError); !ok || pe.Status != "Profiler failed: no decode results produced" {
		t.Errorf("no decode: %v", err)
	}
}

func TestMappingFiltersTV21TV22(t *testing.T) {
	qwen06 := ModelInfo{Name: "Qwen/Qwen3-0.6B", Heads: 16, KVHeads: 8, Intermediate: 3072}
	reason, _ := CheckMapping(NewMapping("TP", 16), qwen06, FilterOptions{})
	if want := "Invalid mapping TP=16: num_kv_heads=8 not divisible by tp_size=16"; reason != want {
		t.Errorf("TV-21: %q, want %q", reason, want)
	}
	ds := ModelInfo{Name: "deepseek-ai/DeepSeek-V3", Architecture: "DeepseekV3ForCausalLM", IsMoE: true, Heads: 128,
		KVHeads: 128, NumExperts: 256, Intermediate: 18432, QuantBlock: 128}
	for _, k := range []string{"TEP", "DEP"} {
		if reason, _ := CheckMapping(NewMapping(k, 16), ds, FilterOptions{GPUsPerNode: 8}); reason != "" {
			t.Errorf("TV-22 %s=16 rejected: %s", k, reason)
		}
	}
	// Rule 4: the quantisation block must divide the per-rank intermediate size.
	if reason, _ := CheckMapping(NewMapping("TEP", 32), ModelInfo{Intermediate: 18432, QuantBlock: 128, KVHeads: 128, NumExperts: 256}, FilterOptions{}); !strings.Contains(reason, "quantization_block_size=128") {
		t.Errorf("rule 4: %q", reason)
	}
	// Rule 5 and the AIC heads/4 rule (simulation mode only).
	if reason, _ := CheckMapping(NewMapping("TP", 8), qwen06, FilterOptions{AICHeadRule: true}); !strings.Contains(reason, "num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4") {
		t.Errorf("AIC rule: %q", reason)
	}
	if reason, _ := CheckMapping(NewMapping("TP", 8), qwen06, FilterOptions{}); reason != "" {
		t.Errorf("online TP8 of Qwen3-0.6B rejected: %q", reason)
	}
	if reason, _ := CheckMapping(NewMapping("TP", 4), ModelInfo{Heads: 6, KVHeads: 2}, FilterOptions{}); !strings.Contains(reason, "num_kv_heads=2 not divisible") {
		t.Errorf("kv: %q", reason)
	}
	if reason, _ := CheckMapping(NewMapping("TP", 2), ModelInfo{Heads: 3, KVHeads: 2}, FilterOptions{}); reason != "Invalid mapping TP=2: num_attention_heads=3 not divisible by tp_size=2" {
		t.Errorf("rule 5: %q", reason)
	}
	// P17: TP beyond a node.
	if reason, _ := CheckMapping(NewMapping("TP", 16), ModelInfo{Heads: 64, KVHeads: 16}, FilterOptions{GPUsPerNode: 8}); reason != "Invalid mapping TP=16: TP size 16 exceeds GPUs per node 8; use TEP/DEP for multi-node engines" {
		t.Errorf("P17: %q", reason)
	}
}

func TestMoEPlanTV09(t *testing.T) {
	log := NewLogger(nil)
	m := ModelInfo{Name: "test-moe", Architecture: "TestMoEArchitecture", IsMoE: true, SizeMiB: 65536, NumExperts: 16}
	plan, err := BuildPlan(SearchSpace{MinGPUs: 8, MaxGPUs: 32, GPUsPerNode: 8}, m, FilterOptions{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan.GPUCounts, []int{8, 16, 32}) {
		t.Errorf("counts = %v", plan.GPUCounts)
	}
	labels := func(ms []results.Mapping) (out []string) {
		for _, x := range ms {
			out = append(out, x.Label())
		}
		return out
	}
	if got := labels(plan.PrefillMappings); !reflect.DeepEqual(got, []string{"TEP=8", "TEP=16"}) {
		t.Errorf("prefill = %v", got)
	}
	if got := labels(plan.DecodeMappings); !reflect.DeepEqual(got, []string{"DEP=8", "DEP=16"}) {
		t.Errorf("decode = %v", got)
	}
	if len(plan.Dropped) != 2 || plan.Dropped[0].Reason != "Invalid mapping TEP=32: num_experts=16 not divisible by expert_split=32" ||
		plan.Dropped[1].Reason != "Invalid mapping DEP=32: num_experts=16 not divisible by expert_split=32" {
		t.Errorf("dropped = %+v", plan.Dropped)
	}
	logText := string(log.Bytes())
	for _, want := range []string{
		"Profiling GPU counts: [8, 16, 32]",
		"WARNING - Skipping num_kv_heads divisibility check for TEP=8: num_kv_heads is unknown",
		"WARNING - Skipping intermediate_size divisibility check for DEP=16: intermediate_size is unknown",
		"WARNING - Invalid mapping TEP=32: num_experts=16 not divisible by expert_split=32",
	} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// Qwen3 MoE also sweeps TP (MOE_ADDITIONAL_TP_ARCHITECTURES).
	if got := CandidateKinds(Decode, ModelInfo{IsMoE: true, Architecture: "Qwen3MoeForCausalLM"}); !reflect.DeepEqual(got, []string{"DEP", "TP"}) {
		t.Errorf("qwen3 moe decode kinds = %v", got)
	}
}

func TestSearchSpace(t *testing.T) {
	cases := []struct {
		name string
		user SearchSpace
		hw   Hardware
		m    ModelInfo
		want SearchSpace
		err  string
	}{
		// TV-10: ceil(16384 / 0.9 / 81920) = 1, max = one node.
		{"tv10", SearchSpace{}, Hardware{System: "h100_sxm", GPUsPerNode: 8, VRAMMiB: 81920}, ModelInfo{SizeMiB: 16384}, SearchSpace{1, 8, 8}, ""},
		{"moe four nodes", SearchSpace{}, Hardware{GPUsPerNode: 8, VRAMMiB: 143771}, ModelInfo{SizeMiB: 671000, IsMoE: true}, SearchSpace{6, 48, 8}, ""},
		{"moe small", SearchSpace{}, Hardware{GPUsPerNode: 8, VRAMMiB: 143771}, ModelInfo{SizeMiB: 100000, IsMoE: true}, SearchSpace{1, 32, 8}, ""},
		{"user wins", SearchSpace{MinGPUs: 2, MaxGPUs: 4}, Hardware{GPUsPerNode: 8, VRAMMiB: 81920}, ModelInfo{SizeMiB: 1}, SearchSpace{2, 4, 8}, ""},
		{"fallback", SearchSpace{}, Hardware{}, ModelInfo{SizeMiB: 1}, SearchSpace{1, 4, 8}, ""},
		{"too big", SearchSpace{MaxGPUs: 8}, Hardware{System: "l40s", GPUsPerNode: 8, VRAMMiB: 46068}, ModelInfo{Name: "big", SizeMiB: 671000}, SearchSpace{}, "need at least 17 GPUs per engine, more than a node"},
	}
	for _, c := range cases {
		got, err := ResolveSearchSpace(c.user, c.hw, c.m, NewLogger(nil))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestPyInts(t *testing.T) {
	if got := PyInts([]int{1, 2, 4, 8}); got != "[1, 2, 4, 8]" {
		t.Error(got)
	}
	if got := PyInts(nil); got != "[]" {
		t.Error(got)
	}

}

// On one GPU TEP and DEP split nothing: they are TP=1, swept once.
func TestOneGPUIsTP(t *testing.T) {
	m := ModelInfo{Name: "qwen3-moe", Architecture: "Qwen3MoeForCausalLM", IsMoE: true, NumExperts: 128, KVHeads: 4, Heads: 32, Intermediate: 6144}
	plan, err := BuildPlan(SearchSpace{MinGPUs: 1, MaxGPUs: 2, GPUsPerNode: 8}, m, FilterOptions{}, NewLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	var pre, dec []string
	for _, x := range plan.PrefillMappings {
		pre = append(pre, x.Label())
	}
	for _, x := range plan.DecodeMappings {
		dec = append(dec, x.Label())
	}
	if !reflect.DeepEqual(pre, []string{"TP=1", "TEP=2", "TP=2"}) || !reflect.DeepEqual(dec, []string{"TP=1", "DEP=2", "TP=2"}) {
		t.Fatalf("prefill %v, decode %v", pre, dec)
	}
	if NewMapping("DEP", 1) != NewMapping("TP", 1) {
		t.Fatal("DEP=1 must be TP=1")
	}
}
