package profiler

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

func simulate(t testing.TB, model, system, backend string, space SearchSpace, sla profileconfig.SLA, aic bool) (*Profiler, Config) {
	t.Helper()
	m, err := estimator.LookupModel(model)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := estimator.LookupSystem(system)
	if err != nil {
		t.Fatal(err)
	}
	est, err := estimator.New(m, sys, estimator.Options{Backend: backend, GPUsPerNode: space.GPUsPerNode})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ModelInfoFrom(est)
	if err != nil {
		t.Fatal(err)
	}
	log := NewLogger(nil)
	return &Profiler{Measurer: &Simulation{Est: est, Log: log}, Log: log}, Config{
		Model: info, Hardware: Hardware{System: sys.Name, GPUsPerNode: sys.GPUsPerNode, VRAMMiB: sys.MemoryMiB},
		Space: space, SLA: sla, PrefillGranularity: 16, DecodeGranularity: 6, AICHeadRule: aic,
	}
}

// TV-24: DeepSeek-R1 on SGLang, min 16 max 64: TEP prefill, DEP decode, no crash.
func TestDeepSeekMoETV24(t *testing.T) {
	p, cfg := simulate(t, "deepseek-ai/DeepSeek-R1", "h200_sxm", "sglang", SearchSpace{MinGPUs: 16, MaxGPUs: 64, GPUsPerNode: 8},
		profileconfig.SLA{ISL: 3000, OSL: 150, TTFT: 200, ITL: 20}, false)
	if !cfg.Model.IsMoE || cfg.Model.NumExperts != 256 || cfg.Model.QuantBlock != 128 {
		t.Fatalf("model info = %+v", cfg.Model)
	}
	r, err := p.Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log.Bytes())
	}
	if !reflect.DeepEqual(r.Plan.GPUCounts, []int{16, 32, 64}) {
		t.Errorf("counts = %v", r.Plan.GPUCounts)
	}
	if k := r.Selection.Prefill.Mapping.Kind; k != "TEP" {
		t.Errorf("prefill kind %s", k)
	}
	if k := r.Selection.Decode.Mapping.Kind; k != "DEP" {
		t.Errorf("decode kind %s", k)
	}
	// Upstream's 17 ISLs, plus the SLA's ISL for the planner's spline.
	if r.PrefillInterpolation == nil || len(r.PrefillInterpolation.ISL) < 17 || !slices.Contains(r.PrefillInterpolation.ISL, 3000) || r.DecodeInterpolation == nil {
		t.Errorf("interpolation missing: %+v", r.PrefillInterpolation)
	}
	// DEP decode concurrencies are multiples of attn_dp (P1).
	for _, d := range r.Decode {
		if d.Concurrency%d.Mapping.AttnDP != 0 {
			t.Errorf("%s concurrency %d", d.Mapping.Label(), d.Concurrency)
		}
	}
}

// TV-11: Llama-3.1-405B skips mappings that do not fit and still selects.
func TestLargeModelSkipsTV11(t *testing.T) {
	p, cfg := simulate(t, "meta-llama/Llama-3.1-405B", "h200_sxm", "trtllm", SearchSpace{MinGPUs: 1, MaxGPUs: 8},
		profileconfig.SLA{ISL: 3000, OSL: 500, TTFT: 50, ITL: 10}, true)
	r, err := p.Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log.Bytes())
	}
	if !strings.Contains(string(p.Log.Bytes()), "model does not fit in GPU memory") {
		t.Errorf("no OOM skip logged:\n%s", p.Log.Bytes())
	}
	if r.Selection.Prefill == nil || r.Selection.Decode == nil {
		t.Fatal("no selection")
	}
	for _, pt := range r.Prefill {
		if pt.Mapping.N < 4 {
			t.Errorf("405B measured on %s", pt.Mapping.Label())
		}
	}
}

// The AIC example end to end: logs in the reference format, grids sized as §12.
func TestQwen32BRun(t *testing.T) {
	p, cfg := simulate(t, "Qwen/Qwen3-32B", "h200_sxm", "trtllm", SearchSpace{MaxGPUs: 8},
		profileconfig.SLA{ISL: 4000, OSL: 500, TTFT: 300, ITL: 10}, true)
	cfg.InterpolateAll = true
	r, err := p.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Plan.GPUCounts, []int{1, 2, 4, 8}) {
		t.Errorf("counts = %v", r.Plan.GPUCounts)
	}
	if len(r.PrefillGrids) != len(r.Plan.PrefillMappings) || len(r.DecodeGrids) != len(r.Plan.DecodeMappings) {
		t.Errorf("grids %d/%d", len(r.PrefillGrids), len(r.DecodeGrids))
	}
	if !r.Selection.Prefill.MeetsSLA || r.Selection.Prefill.LatencyMs > 300 {
		t.Errorf("prefill %+v", r.Selection.Prefill)
	}
	log := string(p.Log.Bytes())
	for _, want := range []string{
		" - profile_sla - INFO - Profiling GPU counts: [1, 2, 4, 8]\n",
		"INFO - Using ai-configurator to estimate prefill latency\n",
		"INFO - Sweeping num_request range based on maximum number of kv tokens: [",
		"INFO - Suggested prefill parallel mapping: ",
		"INFO - Profiling decode with ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// What-if with a tighter TTFT re-selects from the saved grids.
	if err := Reselect(r, 120, 10, NewLogger(nil)); err != nil {
		t.Fatal(err)
	}
	if r.Selection.Prefill.LatencyMs > 120 || r.PrefillInterpolation == nil {
		t.Errorf("what-if: %+v", r.Selection.Prefill)
	}
	// Impossible TTFT: fallback to the fastest, with the warning recorded.
	if err := Reselect(r, 1, 10, NewLogger(nil)); err != nil {
		t.Fatal(err)
	}
	if r.Selection.Prefill.MeetsSLA || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], MsgTTFTUnmet) {
		t.Errorf("fallback: %+v %q", r.Selection.Prefill, r.Warnings)
	}
}

func TestDryRunMeasuresNothing(t *testing.T) {
	f := &fakeMeasurer{kv: 1 << 20}
	p := &Profiler{Measurer: f, Log: NewLogger(nil)}
	r, err := p.Run(t.Context(), Config{Model: ModelInfo{Name: "m", MaxContext: 16384, Heads: 32, KVHeads: 8, SizeMiB: 16384},
		Hardware: Hardware{GPUsPerNode: 8, VRAMMiB: 81920}, SLA: profileconfig.SLA{ISL: 3000, OSL: 500, TTFT: 50, ITL: 10},
		PrefillGranularity: 16, DecodeGranularity: 6, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.calls != 0 || !r.DryRun || !reflect.DeepEqual(r.Plan.GPUCounts, []int{1, 2, 4, 8}) || r.Plan.EstimatedGPUHours <= 0 {
		t.Errorf("calls %d, plan %+v", f.calls, r.Plan)
	}
}

// An engine's decode throughput is what it delivered, not concurrency /
// ITL: a load generator that cannot keep every request in flight delivers
// less (§7.4, online row). Here every point meets the ITL, the formula
// would favour TP=1, and the measured throughput favours TP=2.
func TestDecodeUsesMeasuredThroughput(t *testing.T) {
	measured := func(m results.Mapping, n int, itl float64) float64 {
		return float64(n) * 1000 / itl / float64(m.N) * map[int]float64{1: 0.1, 2: 1, 4: 0.5, 8: 0.5}[m.N]
	}
	f := &fakeMeasurer{kv: 1 << 20, thpt: measured,
		ttft: func(results.Mapping, int) float64 { return 10 },
		itl:  func(results.Mapping, int, int, int) float64 { return 5 }}
	p := &Profiler{Measurer: f, Log: NewLogger(nil)}
	r, err := p.Run(t.Context(), Config{Model: ModelInfo{Name: "m", MaxContext: 16384, Heads: 32, KVHeads: 8, SizeMiB: 16384},
		Hardware: Hardware{GPUsPerNode: 8, VRAMMiB: 81920}, SLA: profileconfig.SLA{ISL: 3000, OSL: 500, TTFT: 50, ITL: 10},
		PrefillGranularity: 4, DecodeGranularity: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Decode {
		if want := measured(d.Mapping, d.Concurrency, d.ITLMs); d.ThptPerGPU != want {
			t.Errorf("%s at %d: throughput %v, want the measured %v", d.Mapping.Label(), d.Concurrency, d.ThptPerGPU, want)
		}
	}
	if got := r.Selection.Decode.Mapping.N; got != 2 {
		t.Errorf("decode selection %s: want TP=2, the highest measured throughput", r.Selection.Decode.Mapping.Label())
	}
	g := r.DecodeInterpolation
	if g == nil || len(g.ThptPerGPU) == 0 {
		t.Fatal("no decode interpolation")
	}
	// TP=2 was selected: its grid carries the measured values (n / ITL / 2).
	for i, v := range g.ThptPerGPU {
		if n := g.KVUsage[i] * float64(g.MaxKVTokens) / g.ContextLength[i]; math.Abs(v-n*1000/5/2) > 1e-6*v {
			t.Errorf("grid point %d: throughput %v, want %v", i, v, n*1000/5/2)
		}
	}
}

func TestRunRejectsBadSLA(t *testing.T) {
	p := &Profiler{Measurer: &fakeMeasurer{}, Log: NewLogger(nil)}
	for _, sla := range []profileconfig.SLA{{ISL: 0, OSL: 1, TTFT: 1, ITL: 1}, {ISL: 1, OSL: 1, TTFT: 1, ITL: -3}, {ISL: 1, OSL: 1, TTFT: 0.001, ITL: 1}} {
		if _, err := p.Run(t.Context(), Config{SLA: sla, PrefillGranularity: 16, DecodeGranularity: 6}); err == nil {
			t.Errorf("SLA %+v accepted", sla)
		}
	}
}
