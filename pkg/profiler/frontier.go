package profiler

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// The SLA frontier (issue 13). Upstream picks the best of six coarse decode
// points; the ITL target is usually crossed between the first two (1 and,
// say, 80), so every point that could meet it is skipped. The frontier of a
// decode mapping is the largest concurrency whose ITL meets the target,
// found by bisection on the measured curve (grid.NextProbe); the frontier of
// a prefill mapping is the largest ISL it serves within the TTFT target.

// Budgeted is optional for a Measurer: it measures at most FrontierPoints()
// points per mapping beyond the coarse sweep. An online Job searches its
// own crossing while its engine is up, with the same grid.NextProbe steps
// the profiler asks for. A Measurer without it (the estimator) measures
// until the bracket is one step wide.
type Budgeted interface {
	FrontierPoints() int
}

// budget is the frontier points a mapping may use; < 0 means no limit.
func (p *Profiler) budget() int {
	if b, ok := p.Measurer.(Budgeted); ok {
		return b.FrontierPoints()
	}
	return -1
}

// Warning thresholds of the frontier (issue 13, "warnings a user can act on").
const (
	// lowKVUsage: a decode point below 1 % of its KV cache barely batches.
	lowKVUsage = 0.01
	// misledRatio: a frontier this many times the coarse sweep's best means
	// the coarse sweep alone would have misled.
	misledRatio = 2.0
)

// searchFrontier measures the points of every mapping's SLA frontier and
// records the frontier in r.Frontier. Decode points it measures join
// r.Decode (marked Frontier), each mapping's points in concurrency order.
func (p *Profiler) searchFrontier(ctx context.Context, r *results.Results, cfg Config) error {
	f := &results.Frontier{}
	isl := int(cfg.SLA.ISL)
	for _, pt := range r.Prefill {
		pf, err := p.prefillFrontier(ctx, pt, cfg.SLA.TTFT, r.Plan.MaxISL)
		if err != nil {
			return err
		}
		f.Prefill = append(f.Prefill, pf)
	}
	var all []results.DecodePoint
	for _, m := range decodeMappings(r.Decode) {
		pts, err := p.decodeFrontierPoints(ctx, m, pointsOf(r.Decode, m), isl, int(cfg.SLA.OSL), cfg.SLA.ITL)
		if err != nil {
			return err
		}
		all = append(all, pts...)
		f.Decode = append(f.Decode, DecodeFrontierOf(pts, cfg.SLA.ITL))
	}
	r.Decode = all
	r.Frontier = f
	return nil
}

func decodeMappings(pts []results.DecodePoint) []results.Mapping {
	var out []results.Mapping
	for _, d := range pts {
		if !slices.Contains(out, d.Mapping) {
			out = append(out, d.Mapping)
		}
	}
	return out
}

func pointsOf(pts []results.DecodePoint, m results.Mapping) []results.DecodePoint {
	var out []results.DecodePoint
	for _, d := range pts {
		if d.Mapping == m {
			out = append(out, d)
		}
	}
	return out
}

func decodeSamples(pts []results.DecodePoint) []grid.Sample {
	s := make([]grid.Sample, len(pts))
	for i, d := range pts {
		s[i] = grid.Sample{X: d.Concurrency, Y: d.ITLMs}
	}
	return s
}

// decodeFrontierPoints bisects between the coarse points of m that bracket
// the ITL target and returns the coarse and the new points together.
func (p *Profiler) decodeFrontierPoints(ctx context.Context, m results.Mapping, pts []results.DecodePoint, isl, osl int, itl float64) ([]results.DecodePoint, error) {
	if len(pts) == 0 {
		return nil, nil
	}
	step := max(m.AttnDP, 1)
	ceil := slices.MaxFunc(pts, func(a, b results.DecodePoint) int { return cmp.Compare(a.Concurrency, b.Concurrency) }).Concurrency
	kv := pts[0].MaxKVTokens
	samples := decodeSamples(pts)
	for n, budget := 0, p.budget(); budget < 0 || n < budget; n++ {
		c, ok := grid.NextProbe(samples, itl, step, step, ceil)
		if !ok {
			break
		}
		d, err := p.Measurer.Decode(ctx, m, isl, osl, c)
		if s, skip := IsSkip(err); skip {
			p.Log.Warnf("%s", s.Reason)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s frontier at concurrency %d: %w", m.Label(), c, err)
		}
		if !d.valid() {
			p.Log.Warnf("Failed to extract decode metrics for %s at concurrency %d (frontier search): got ITL %v, throughput %v", m.Label(), c, d.ITLMs, d.ThptPerGPU)
			break
		}
		pts = append(pts, results.DecodePoint{Mapping: m, Concurrency: c, ContextLength: float64(isl) + float64(osl)/2,
			ITLMs: d.ITLMs, ThptPerGPU: d.ThptPerGPU, MaxKVTokens: kv, Frontier: true})
		samples = append(samples, grid.Sample{X: c, Y: d.ITLMs})
	}
	slices.SortStableFunc(pts, func(a, b results.DecodePoint) int { return cmp.Compare(a.Concurrency, b.Concurrency) })
	fr := DecodeFrontierOf(pts, itl)
	if fr.Bound == results.BoundNone {
		p.Log.Infof("Decode %s: no concurrency meets ITL %s ms (%.2f ms at %d)", m.Label(), fmtNum(itl), pts[0].ITLMs, pts[0].Concurrency)
	} else {
		p.Log.Infof("Decode %s: max concurrency within ITL %s ms is %d (ITL %.2f ms, throughput %.2f tokens/s/GPU; %d frontier points, bound %s)",
			m.Label(), fmtNum(itl), fr.Concurrency, fr.ITLMs, fr.ThptPerGPU, fr.Points, fr.Bound)
	}
	return pts, nil
}

// DecodeFrontierOf summarises one mapping's points (coarse and frontier)
// against the ITL target.
func DecodeFrontierOf(pts []results.DecodePoint, itl float64) results.DecodeFrontier {
	var f results.DecodeFrontier
	if len(pts) == 0 {
		return f
	}
	f.Mapping = pts[0].Mapping
	step := max(f.Mapping.AttnDP, 1)
	for _, d := range pts {
		if d.Frontier {
			f.Points++
		} else if d.ITLMs <= itl && d.ThptPerGPU > f.CoarseThptPerGPU {
			f.CoarseConcurrency, f.CoarseThptPerGPU = d.Concurrency, d.ThptPerGPU
		}
	}
	lo, hi := grid.Bracket(decodeSamples(pts), itl)
	at := func(c int) results.DecodePoint {
		i := slices.IndexFunc(pts, func(d results.DecodePoint) bool { return d.Concurrency == c })
		return pts[i]
	}
	switch {
	case lo == 0:
		f.Bound, f.Exact = results.BoundNone, true
		return f
	case hi == 0:
		f.Bound, f.Exact = results.BoundKV, true
	default:
		f.Bound, f.Exact = results.BoundSLA, hi-lo <= step
		f.NextConcurrency, f.NextITLMs = hi, at(hi).ITLMs
	}
	d := at(lo)
	f.Concurrency, f.ITLMs, f.ThptPerGPU, f.KVUsage = lo, d.ITLMs, d.ThptPerGPU, kvUsage(d)
	return f
}

// prefillFrontier searches the largest ISL of pt's mapping within the TTFT
// target, between min(100, SLA ISL) and maxISL.
func (p *Profiler) prefillFrontier(ctx context.Context, pt results.PrefillPoint, ttft float64, maxISL int) (results.PrefillFrontier, error) {
	m := pt.Mapping
	samples := []grid.Sample{{X: pt.ISL, Y: pt.TTFTMs}}
	floor, ceil := min(grid.PrefillMinISL, pt.ISL), max(maxISL, pt.ISL)
	n := 0
	for budget := p.budget(); budget < 0 || n < budget; n++ {
		isl, ok := grid.NextProbe(samples, ttft, 1, floor, ceil)
		if !ok {
			break
		}
		t, err := p.Measurer.PrefillTTFT(ctx, m, isl)
		if s, skip := IsSkip(err); skip {
			p.Log.Warnf("%s", s.Reason)
			break
		}
		if err != nil {
			return results.PrefillFrontier{}, fmt.Errorf("prefill %s frontier at isl %d: %w", m.Label(), isl, err)
		}
		if !finite(t) || t <= 0 {
			p.Log.Warnf("Failed to extract TTFT for %s at isl %d (frontier search): got %v", m.Label(), isl, t)
			break
		}
		samples = append(samples, grid.Sample{X: isl, Y: t})
	}
	f := PrefillFrontierOf(m, samples, ttft, ceil)
	f.Points = n
	if f.Bound != results.BoundNone {
		p.Log.Infof("Prefill %s: max ISL within TTFT %s ms is %d (TTFT %.2f ms, bound %s)", m.Label(), fmtNum(ttft), f.MaxISL, f.TTFTMs, f.Bound)
	}
	return f, nil
}

// PrefillFrontierOf summarises a prefill mapping's TTFT samples.
func PrefillFrontierOf(m results.Mapping, samples []grid.Sample, ttft float64, ceil int) results.PrefillFrontier {
	f := results.PrefillFrontier{Mapping: m}
	lo, hi := grid.Bracket(samples, ttft)
	y := func(x int) float64 {
		i := slices.IndexFunc(samples, func(s grid.Sample) bool { return s.X == x })
		return samples[i].Y
	}
	switch {
	case lo == 0:
		f.Bound, f.Exact = results.BoundNone, true
		return f
	case hi == 0:
		f.Bound, f.Exact = results.BoundSLA, lo >= ceil
		if lo >= ceil {
			f.Bound = results.BoundContext
		}
	default:
		f.Bound, f.Exact = results.BoundSLA, hi-lo <= 1
		f.NextISL, f.NextTTFTMs = hi, y(hi)
	}
	f.MaxISL, f.TTFTMs = lo, y(lo)
	return f
}

// Openings of the frontier warnings.
const (
	msgLowBatch = "The chosen decode engine"
	msgMisled   = "The coarse decode sweep alone"
	msgInexact  = "Some SLA frontiers are lower bounds"
)

// IsResultWarning reports whether w is one of the profile's own warnings
// about its result (an SLA miss, a frontier warning), as opposed to the
// input's warnings that admission printed already.
func IsResultWarning(w string) bool {
	for _, p := range []string{MsgTTFTUnmet, MsgITLUnmet, msgLowBatch, msgMisled, msgInexact} {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}

// frontierWarnings are the warnings a user can act on (issue 13): a decode
// pick that barely batches, and mappings whose frontier is far beyond what
// the coarse sweep showed.
func frontierWarnings(r *results.Results) []string {
	var w []string
	if c := r.Selection.Decode; c != nil && c.MeetsSLA && (c.Concurrency <= max(c.Mapping.AttnDP, 1) || c.KVUsage < lowKVUsage) {
		fix := "a looser ITL target, faster GPUs or a smaller model raise it"
		if r.Frontier == nil {
			fix = "the coarse sweep may have skipped better points: profile with --selection=frontier; " + fix
		}
		w = append(w, fmt.Sprintf(msgLowBatch+" %s meets ITL %s ms at concurrency %d, using %.2f %% of its KV cache: it barely batches, so the throughput per GPU is low (%.2f tokens/s/GPU); %s",
			c.Mapping.Label(), fmtNum(r.Input.SLA.ITL), c.Concurrency, 100*c.KVUsage, c.ThptPerGPU, fix))
	}
	if r.Frontier == nil {
		return w
	}
	var far []string
	for _, f := range r.Frontier.Decode {
		if f.Bound == results.BoundNone || f.CoarseThptPerGPU <= 0 || f.ThptPerGPU < misledRatio*f.CoarseThptPerGPU {
			continue
		}
		far = append(far, fmt.Sprintf("%s reaches %.2f tokens/s/GPU at concurrency %d where the coarse sweep's best was %.2f at %d (%.1f×)",
			f.Mapping.Label(), f.ThptPerGPU, f.Concurrency, f.CoarseThptPerGPU, f.CoarseConcurrency, f.ThptPerGPU/f.CoarseThptPerGPU))
	}
	if len(far) > 0 {
		w = append(w, fmt.Sprintf(msgMisled+" (upstream's rule, --selection=upstream) would have misled: within ITL %s ms %s",
			fmtNum(r.Input.SLA.ITL), joinList(far)))
	}
	return w
}

func joinList(s []string) string {
	out := ""
	for i, x := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " and "
		default:
			out += "; "
		}
		out += x
	}
	return out
}

// kvUsage is the share of the KV cache a decode point uses.
func kvUsage(d results.DecodePoint) float64 {
	if d.MaxKVTokens <= 0 {
		return 0
	}
	return d.ContextLength * float64(d.Concurrency) / float64(d.MaxKVTokens)
}
