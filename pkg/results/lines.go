package results

import (
	"fmt"
	"strconv"
)

// SuggestedLines are the seed's two summary lines (profiler.md §9), e.g.
// "Suggested prefill TP:4 (TTFT 48.37 ms, throughput 15505.23 tokens/s/GPU)",
// each followed, after a frontier search, by how far the chosen engine goes
// within its target (FrontierLines).
func (r *Results) SuggestedLines() []string {
	var out []string
	fp, fd := r.FrontierLines()
	for _, l := range []struct {
		phase, metric, frontier string
		c                       *Choice
	}{{"prefill", "TTFT", fp, r.Selection.Prefill}, {"decode", "ITL", fd, r.Selection.Decode}} {
		if l.c == nil {
			continue
		}
		out = append(out, SuggestedLine(l.phase, l.metric, l.c))
		if l.frontier != "" {
			out = append(out, l.frontier)
		}
	}
	return out
}

// SuggestedLine is one seed line; the throughput comes from the unrounded
// latency and both print with two decimals, as Python's "{:.2f}".
func SuggestedLine(phase, metric string, c *Choice) string {
	return "Suggested " + phase + " " + c.Mapping.Short() + " (" + metric + " " + f2(c.LatencyMs) +
		" ms, throughput " + f2(c.ThptPerGPU) + " tokens/s/GPU)"
}

func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// FrontierLines say how far the chosen engines go within their targets, e.g.
// "Max concurrency per decode replica within ITL 10 ms: 55 (TP=8)"; empty
// without a frontier search.
func (r *Results) FrontierLines() (prefill, decode string) {
	if c := r.Selection.Prefill; c != nil {
		if f := r.PrefillFrontierOf(c.Mapping); f != nil && f.Bound != "" {
			prefill = fmt.Sprintf("Max ISL per prefill replica within TTFT %v ms: %s (%s)", r.Input.SLA.TTFT, frontierValue(f.MaxISL, f.Exact, f.NextISL), c.Mapping.Label())
		}
	}
	if c := r.Selection.Decode; c != nil {
		if f := r.DecodeFrontierOf(c.Mapping); f != nil {
			decode = fmt.Sprintf("Max concurrency per decode replica within ITL %v ms: %s (%s)", r.Input.SLA.ITL, frontierValue(f.Concurrency, f.Exact, f.NextConcurrency), c.Mapping.Label())
		}
	}
	return prefill, decode
}

func frontierValue(v int, exact bool, next int) string {
	if exact || next == 0 {
		return strconv.Itoa(v)
	}
	return fmt.Sprintf("at least %d (%d misses)", v, next)
}

// DecodeFrontierOf returns the decode frontier of m, or nil.
func (r *Results) DecodeFrontierOf(m Mapping) *DecodeFrontier {
	if r.Frontier == nil {
		return nil
	}
	return find(r.Frontier.Decode, m, func(f *DecodeFrontier) Mapping { return f.Mapping })
}

// PrefillFrontierOf returns the prefill frontier of m, or nil.
func (r *Results) PrefillFrontierOf(m Mapping) *PrefillFrontier {
	if r.Frontier == nil {
		return nil
	}
	return find(r.Frontier.Prefill, m, func(f *PrefillFrontier) Mapping { return f.Mapping })
}

func find[T any](v []T, m Mapping, mapping func(*T) Mapping) *T {
	for i := range v {
		if mapping(&v[i]) == m {
			return &v[i]
		}
	}
	return nil
}

// PrefillThroughputPerGPU is isl / ttft / n × 1000 × attn_dp (profiler.md §6.2).
func PrefillThroughputPerGPU(isl int, ttftMs float64, m Mapping) float64 {
	return float64(isl) / ttftMs / float64(m.N) * 1000 * float64(max(m.AttnDP, 1))
}

// FrontierRow is one mapping's SLA frontier in the compact form that
// profiler_status.yaml, `status NAME` and report.html show.
type FrontierRow struct {
	Phase   string `json:"phase"`
	Mapping string `json:"mapping"`
	GPUs    int    `json:"gpus"`
	// Max is the largest ISL (prefill) or concurrency (decode) within the
	// target; Exact is false when it is only a lower bound.
	Max   int  `json:"max"`
	Exact bool `json:"exact"`
	// LatencyMs and ThptPerGPU are measured at Max.
	LatencyMs  float64 `json:"latencyMs,omitempty"`
	ThptPerGPU float64 `json:"throughputPerGpu,omitempty"`
	// CoarseThptPerGPU is the coarse sweep's best within the target (decode).
	CoarseThptPerGPU float64 `json:"coarseThroughputPerGpu,omitempty"`
	Bound            string  `json:"bound"`
	Chosen           bool    `json:"chosen,omitempty"`
}

// Reach is Max with its unit, e.g. "concurrency 67" or ">= ISL 4977".
func (f FrontierRow) Reach() string {
	s := "ISL "
	if f.Phase == "decode" {
		s = "concurrency "
	}
	if !f.Exact {
		s = ">= " + s
	}
	return s + strconv.Itoa(f.Max)
}

// FrontierRows lists the frontier of every mapping, prefill first; nil
// without a frontier search.
func (r *Results) FrontierRows() []FrontierRow {
	if r.Frontier == nil {
		return nil
	}
	var rows []FrontierRow
	for _, f := range r.Frontier.Prefill {
		row := FrontierRow{Phase: "prefill", Mapping: f.Mapping.Label(), GPUs: f.Mapping.N, Max: f.MaxISL, Exact: f.Exact,
			LatencyMs: f.TTFTMs, Bound: f.Bound, Chosen: r.Selection.Prefill != nil && r.Selection.Prefill.Mapping == f.Mapping}
		if f.MaxISL > 0 && f.TTFTMs > 0 {
			row.ThptPerGPU = PrefillThroughputPerGPU(f.MaxISL, f.TTFTMs, f.Mapping)
		}
		rows = append(rows, row)
	}
	for _, f := range r.Frontier.Decode {
		rows = append(rows, FrontierRow{Phase: "decode", Mapping: f.Mapping.Label(), GPUs: f.Mapping.N, Max: f.Concurrency, Exact: f.Exact,
			LatencyMs: f.ITLMs, ThptPerGPU: f.ThptPerGPU, CoarseThptPerGPU: f.CoarseThptPerGPU, Bound: f.Bound,
			Chosen: r.Selection.Decode != nil && r.Selection.Decode.Mapping == f.Mapping})
	}
	return rows
}
