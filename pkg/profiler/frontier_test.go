package profiler

import (
	"slices"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// The frontier's defining property, checked against the estimator itself
// (not the profiler's points): the frontier concurrency meets the ITL
// target and one step more (attention-DP ranks) does not; the largest
// prefill ISL meets the TTFT target and one token more does not. A
// frontier bound by the KV cache is the sweep's largest concurrency.
func TestFrontierMeetsTheSLAAndOneStepMoreDoesNot(t *testing.T) {
	checked := map[string]int{}
	for _, c := range plannerCases {
		p, cfg := simulate(t, c.model, c.system, c.backend, c.space, c.sla, c.aic)
		r, err := p.Run(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		est := p.Measurer.(*Simulation).Est
		ctx := float64(c.sla.ISL) + float64(c.sla.OSL)/2
		itl := func(m results.Mapping, n int) float64 {
			v, err := est.DecodeITL(toEst(m), n, ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if r.Frontier == nil || len(r.Frontier.Decode) == 0 || len(r.Frontier.Prefill) == 0 {
			t.Fatalf("%s: no frontier", c.model)
		}
		for _, f := range r.Frontier.Decode {
			m, step := f.Mapping, max(f.Mapping.AttnDP, 1)
			if !f.Exact {
				t.Errorf("%s %s: the estimator's frontier is not exact", c.model, m.Label())
			}
			switch f.Bound {
			case results.BoundNone:
				if v := itl(m, step); v <= c.sla.ITL {
					t.Errorf("%s %s: no frontier, yet concurrency %d meets (%.2f ms)", c.model, m.Label(), step, v)
				}
			case results.BoundKV:
				last := slices.MaxFunc(pointsOf(r.Decode, m), func(a, b results.DecodePoint) int { return a.Concurrency - b.Concurrency })
				if f.Concurrency != last.Concurrency || itl(m, f.Concurrency) > c.sla.ITL {
					t.Errorf("%s %s: KV-bound frontier %d, the sweep's largest is %d", c.model, m.Label(), f.Concurrency, last.Concurrency)
				}
			default:
				checked["decode"]++
				if v := itl(m, f.Concurrency); v > c.sla.ITL || v != f.ITLMs {
					t.Errorf("%s %s: frontier %d has ITL %.3f ms (recorded %.3f) over %v", c.model, m.Label(), f.Concurrency, v, f.ITLMs, c.sla.ITL)
				}
				if v := itl(m, f.Concurrency+step); v <= c.sla.ITL {
					t.Errorf("%s %s: frontier %d, but %d also meets ITL %v (%.3f ms)", c.model, m.Label(), f.Concurrency, f.Concurrency+step, c.sla.ITL, v)
				}
			}
			if f.Points > 16 {
				t.Errorf("%s %s: %d search points; bisection needs at most log2(2000)+1", c.model, m.Label(), f.Points)
			}
		}
		for _, f := range r.Frontier.Prefill {
			ttft := func(isl int) float64 {
				v, err := est.PrefillTTFT(toEst(f.Mapping), isl)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			switch f.Bound {
			case results.BoundSLA:
				checked["prefill"]++
				if ttft(f.MaxISL) > c.sla.TTFT || ttft(f.MaxISL+1) <= c.sla.TTFT {
					t.Errorf("%s prefill %s: max ISL %d (TTFT %.3f), %d gives %.3f; target %v", c.model, f.Mapping.Label(), f.MaxISL, ttft(f.MaxISL), f.MaxISL+1, ttft(f.MaxISL+1), c.sla.TTFT)
				}
			case results.BoundContext:
				if f.MaxISL != r.Plan.MaxISL || ttft(f.MaxISL) > c.sla.TTFT {
					t.Errorf("%s prefill %s: context-bound %d, plan max %d", c.model, f.Mapping.Label(), f.MaxISL, r.Plan.MaxISL)
				}
			case results.BoundNone:
				if ttft(min(100, int(c.sla.ISL))) <= c.sla.TTFT {
					t.Errorf("%s prefill %s: no frontier, yet ISL 100 meets", c.model, f.Mapping.Label())
				}
			}
		}
	}
	if checked["decode"] < 10 || checked["prefill"] < 10 {
		t.Errorf("only %v SLA-bound frontiers checked", checked)
	}
	t.Logf("SLA-bound frontiers checked: %v", checked)
}

// A measurer with a budget (an online Job) gets at most that many extra
// points per mapping; the frontier is then marked as a lower bound unless
// the bracket closed.
func TestFrontierBudget(t *testing.T) {
	c := plannerCases[0]
	p, cfg := simulate(t, c.model, c.system, c.backend, c.space, c.sla, c.aic)
	p.Measurer = budgeted{p.Measurer.(*Simulation), 3}
	r, err := p.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	inexact := 0
	for _, f := range r.Frontier.Decode {
		if f.Points > 3 {
			t.Errorf("%s: %d points over a budget of 3", f.Mapping.Label(), f.Points)
		}
		if !f.Exact {
			inexact++
			if f.NextConcurrency-f.Concurrency <= max(f.Mapping.AttnDP, 1) {
				t.Errorf("%s: bracket [%d, %d] closed but marked inexact", f.Mapping.Label(), f.Concurrency, f.NextConcurrency)
			}
		}
	}
	for _, f := range r.Frontier.Prefill {
		if f.Points > 3 {
			t.Errorf("prefill %s: %d points over a budget of 3", f.Mapping.Label(), f.Points)
		}
	}
	if inexact == 0 {
		t.Error("3 points bisect 1..80 to within one step in no case: expected some lower bounds")
	}
	if l := r.SuggestedLines(); len(l) != 4 || r.Selection.Decode.ThptPerGPU <= r.Selection.CoarseDecode.ThptPerGPU {
		t.Errorf("lines %q; decode %+v vs coarse %+v", l, r.Selection.Decode, r.Selection.CoarseDecode)
	}
}

type budgeted struct {
	*Simulation
	n int
}

func (b budgeted) FrontierPoints() int { return b.n }

// --selection=upstream is upstream's run: no search, the coarse points,
// upstream's grids, the same pick as the frontier run's coarse choice.
func TestUpstreamSelectionSearchesNothing(t *testing.T) {
	c := plannerCases[0]
	p, cfg := simulate(t, c.model, c.system, c.backend, c.space, c.sla, c.aic)
	fr, err := p.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, cfg = simulate(t, c.model, c.system, c.backend, c.space, c.sla, c.aic)
	cfg.Selection = results.RuleUpstream
	up, err := p.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if up.Frontier != nil || up.Selection.Rule != results.RuleUpstream || slices.ContainsFunc(up.Decode, func(d results.DecodePoint) bool { return d.Frontier }) {
		t.Fatalf("upstream run searched: rule %q, frontier %v", up.Selection.Rule, up.Frontier)
	}
	if up.Selection.Decode.Mapping != fr.Selection.CoarseDecode.Mapping || up.Selection.Decode.Concurrency != fr.Selection.CoarseDecode.Concurrency {
		t.Errorf("upstream pick %+v, the frontier run's coarse pick %+v", up.Selection.Decode, fr.Selection.CoarseDecode)
	}
	if len(up.DecodeInterpolation.ITLMs) >= len(fr.DecodeInterpolation.ITLMs) || len(up.PrefillInterpolation.ISL) != 17 {
		t.Errorf("grids: upstream %d decode / %d prefill points, frontier %d decode", len(up.DecodeInterpolation.ITLMs), len(up.PrefillInterpolation.ISL), len(fr.DecodeInterpolation.ITLMs))
	}
	if l := up.SuggestedLines(); len(l) != 2 {
		t.Errorf("upstream prints the seed's two lines only: %q", l)
	}
}

// The dry run counts the frontier search: grid.DefaultProbes more points
// per swept mapping inside the sweep Jobs, and the grid rows near the SLA
// as extra Jobs, all in the GPU-hour estimate; the upstream rule has none.
func TestDryRunCountsTheFrontier(t *testing.T) {
	run := func(rule string) results.Plan {
		p := &Profiler{Measurer: &fakeMeasurer{}, Log: NewLogger(nil)}
		r, err := p.Run(t.Context(), Config{Model: ModelInfo{Name: "m", MaxContext: 16384, Heads: 32, KVHeads: 8, SizeMiB: 16384},
			Hardware: Hardware{GPUsPerNode: 8, VRAMMiB: 81920}, SLA: profileconfig.SLA{ISL: 3000, OSL: 500, TTFT: 50, ITL: 10},
			PrefillGranularity: 16, DecodeGranularity: 6, DryRun: true, Selection: rule})
		if err != nil {
			t.Fatal(err)
		}
		return r.Plan
	}
	fr, up := run(results.RuleFrontier), run(results.RuleUpstream)
	mappings := len(fr.PrefillMappings) + len(fr.DecodeMappings)
	if fr.FrontierPoints != 3*mappings || fr.FrontierGridJobs != 4 || fr.EstimatedGPUHours <= up.EstimatedGPUHours || fr.InterpolationPoints <= up.InterpolationPoints {
		t.Errorf("frontier plan %+v\nupstream plan %+v", fr, up)
	}
	if up.FrontierPoints != 0 || up.FrontierGridJobs != 0 {
		t.Errorf("the upstream rule counts frontier work: %+v", up)
	}
}
