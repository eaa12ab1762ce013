package profiler

import (
	"math"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// SelectIndex is the rule of profiler.md §8: among points with latency ≤ sla
// take the highest throughput (first on ties, i.e. fewer GPUs since the sweep
// is ascending); if none meets the SLA take the lowest latency (first on
// ties). Non-finite points are ignored. ok is false when no point is usable.
func SelectIndex(latency, thpt []float64, sla float64) (idx int, meets, ok bool) {
	idx = -1
	minIdx := -1
	for i := range latency {
		if !finite(latency[i]) || !finite(thpt[i]) {
			continue
		}
		if minIdx < 0 || latency[i] < latency[minIdx] {
			minIdx = i
		}
		if latency[i] <= sla && (idx < 0 || thpt[i] > thpt[idx]) {
			idx = i
		}
	}
	if minIdx < 0 {
		return -1, false, false
	}
	if idx < 0 {
		return minIdx, false, true
	}
	return idx, true, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// PrefillThroughputPerGPU is isl / ttft / n × 1000 × attn_dp (§6.2).
func PrefillThroughputPerGPU(isl int, ttftMs float64, m results.Mapping) float64 {
	return results.PrefillThroughputPerGPU(isl, ttftMs, m)
}

// DecodeThroughputPerGPU is concurrency × 1000 / ITL / n (§7.4).
func DecodeThroughputPerGPU(concurrency int, itlMs float64, m results.Mapping) float64 {
	return float64(concurrency) * 1000 / itlMs / float64(m.N)
}

// Messages of §8.
const (
	MsgNoPrefill    = "No prefill results produced; skipping recommendations."
	MsgNoDecode     = "No decode results produced; skipping recommendations."
	MsgTTFTUnmet    = "No engine configuration satisfies the TTFT requirement, please try a smaller model or more powerful hardware"
	MsgITLUnmet     = "No engine configuration satisfies the ITL requirement, please try a smaller model or more powerful hardware"
	MsgAnalyzing    = "Analyzing results and generate recommendations..."
	StatusNoPrefill = "Profiler failed: no prefill results produced"
	StatusNoDecode  = "Profiler failed: no decode results produced"
)

// Select fills r.Selection from r.Prefill and r.Decode for the SLA in r.Input,
// logging as §8 does. It returns an error when a phase has no point.
//
// Both rules take the highest throughput per GPU among the points within the
// target. Upstream's points are the coarse sweep; with a frontier search
// (r.Frontier set) they include every mapping's frontier point, which on a
// monotone curve is that mapping's best, so the pick is the mapping with the
// highest throughput per GPU at its SLA frontier, and never worse than
// upstream's pick from the coarse points it also sees.
func Select(r *results.Results, log *Logger) error {
	log.Infof("%s", MsgAnalyzing)
	r.Selection = results.Selection{Rule: results.RuleUpstream}
	if r.Frontier != nil {
		r.Selection.Rule = results.RuleFrontier
	}
	if len(r.Prefill) == 0 {
		log.Errorf("%s", MsgNoPrefill)
		return &PhaseError{Phase: Prefill, Status: StatusNoPrefill, Msg: MsgNoPrefill}
	}
	lat := make([]float64, len(r.Prefill))
	thp := make([]float64, len(r.Prefill))
	for i, p := range r.Prefill {
		lat[i], thp[i] = p.TTFTMs, p.ThptPerGPU
	}
	i, meets, ok := SelectIndex(lat, thp, r.Input.SLA.TTFT)
	if !ok {
		log.Errorf("%s", MsgNoPrefill)
		return &PhaseError{Phase: Prefill, Status: StatusNoPrefill, Msg: MsgNoPrefill}
	}
	if !meets {
		log.Warnf("%s", MsgTTFTUnmet)
	}
	p := r.Prefill[i]
	r.Selection.Prefill = &results.Choice{Mapping: p.Mapping, LatencyMs: p.TTFTMs, ThptPerGPU: p.ThptPerGPU, MeetsSLA: meets}
	log.Infof("%s", results.SuggestedLine("prefill", "TTFT", r.Selection.Prefill))
	log.Infof("Suggested prefill parallel mapping: %s on %d GPU(s) (TTFT %.2f ms, throughput %.2f tokens/s/GPU)",
		p.Mapping.Label(), p.Mapping.N, p.TTFTMs, p.ThptPerGPU)
	fp, _ := r.FrontierLines() // the decode line needs the decode choice below
	if fp != "" {
		log.Infof("%s", fp)
	}

	if len(r.Decode) == 0 {
		log.Errorf("%s", MsgNoDecode)
		return &PhaseError{Phase: Decode, Status: StatusNoDecode, Msg: MsgNoDecode}
	}
	c, ok := selectDecode(r.Decode, r.Input.SLA.ITL, func(results.DecodePoint) bool { return true })
	if !ok {
		log.Errorf("%s", MsgNoDecode)
		return &PhaseError{Phase: Decode, Status: StatusNoDecode, Msg: MsgNoDecode}
	}
	if !c.MeetsSLA {
		log.Warnf("%s", MsgITLUnmet)
	}
	r.Selection.Decode = c
	if r.Frontier != nil {
		r.Selection.CoarseDecode, _ = selectDecode(r.Decode, r.Input.SLA.ITL, func(d results.DecodePoint) bool { return !d.Frontier })
	}
	log.Infof("%s", results.SuggestedLine("decode", "ITL", c))
	log.Infof("Suggested decode parallel mapping: %s on %d GPU(s) (ITL %.2f ms, throughput %.2f tokens/s/GPU)",
		c.Mapping.Label(), c.Mapping.N, c.LatencyMs, c.ThptPerGPU)
	_, fd := r.FrontierLines()
	if fd != "" {
		log.Infof("%s", fd)
	}
	return nil
}

// selectDecode is §8's rule over the decode points that keep says to.
func selectDecode(pts []results.DecodePoint, itl float64, keep func(results.DecodePoint) bool) (*results.Choice, bool) {
	var lat, thp []float64
	var idx []int
	for i, d := range pts {
		if keep(d) {
			lat, thp, idx = append(lat, d.ITLMs), append(thp, d.ThptPerGPU), append(idx, i)
		}
	}
	i, meets, ok := SelectIndex(lat, thp, itl)
	if !ok {
		return nil, false
	}
	d := pts[idx[i]]
	return &results.Choice{Mapping: d.Mapping, LatencyMs: d.ITLMs, ThptPerGPU: d.ThptPerGPU, MeetsSLA: meets,
		Concurrency: d.Concurrency, KVUsage: kvUsage(d)}, true
}

// PhaseError is a run that produced no usable point for a phase.
type PhaseError struct {
	Phase  Phase
	Status string // profiler_status.yaml message
	Msg    string
}

func (e *PhaseError) Error() string { return e.Msg }
