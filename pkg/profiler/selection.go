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
	return float64(isl) / ttftMs / float64(m.N) * 1000 * float64(max(m.AttnDP, 1))
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
func Select(r *results.Results, log *Logger) error {
	log.Infof("%s", MsgAnalyzing)
	r.Selection = results.Selection{}
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
	log.Infof("%s", formatSuggested("prefill", "TTFT", r.Selection.Prefill))
	log.Infof("Suggested prefill parallel mapping: %s on %d GPU(s) (TTFT %.2f ms, throughput %.2f tokens/s/GPU)",
		p.Mapping.Label(), p.Mapping.N, p.TTFTMs, p.ThptPerGPU)

	if len(r.Decode) == 0 {
		log.Errorf("%s", MsgNoDecode)
		return &PhaseError{Phase: Decode, Status: StatusNoDecode, Msg: MsgNoDecode}
	}
	lat = make([]float64, len(r.Decode))
	thp = make([]float64, len(r.Decode))
	for i, d := range r.Decode {
		lat[i], thp[i] = d.ITLMs, d.ThptPerGPU
	}
	i, meets, ok = SelectIndex(lat, thp, r.Input.SLA.ITL)
	if !ok {
		log.Errorf("%s", MsgNoDecode)
		return &PhaseError{Phase: Decode, Status: StatusNoDecode, Msg: MsgNoDecode}
	}
	if !meets {
		log.Warnf("%s", MsgITLUnmet)
	}
	d := r.Decode[i]
	r.Selection.Decode = &results.Choice{Mapping: d.Mapping, LatencyMs: d.ITLMs, ThptPerGPU: d.ThptPerGPU, MeetsSLA: meets, Concurrency: d.Concurrency}
	log.Infof("%s", formatSuggested("decode", "ITL", r.Selection.Decode))
	log.Infof("Suggested decode parallel mapping: %s on %d GPU(s) (ITL %.2f ms, throughput %.2f tokens/s/GPU)",
		d.Mapping.Label(), d.Mapping.N, d.ITLMs, d.ThptPerGPU)
	return nil
}

// PhaseError is a run that produced no usable point for a phase.
type PhaseError struct {
	Phase  Phase
	Status string // profiler_status.yaml message
	Msg    string
}

func (e *PhaseError) Error() string { return e.Msg }

// SuggestedLines are the seed's two summary lines (profiler.md §9).
func SuggestedLines(s results.Selection) []string {
	var out []string
	if p := s.Prefill; p != nil {
		out = append(out, formatSuggested("prefill", "TTFT", p))
	}
	if d := s.Decode; d != nil {
		out = append(out, formatSuggested("decode", "ITL", d))
	}
	return out
}

func formatSuggested(phase, metric string, c *results.Choice) string {
	return "Suggested " + phase + " " + c.Mapping.Short() + " (" + metric + " " + f2(c.LatencyMs) +
		" ms, throughput " + f2(c.ThptPerGPU) + " tokens/s/GPU)"
}
