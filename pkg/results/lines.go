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
	for i := range r.Frontier.Decode {
		if r.Frontier.Decode[i].Mapping == m {
			return &r.Frontier.Decode[i]
		}
	}
	return nil
}

// PrefillFrontierOf returns the prefill frontier of m, or nil.
func (r *Results) PrefillFrontierOf(m Mapping) *PrefillFrontier {
	if r.Frontier == nil {
		return nil
	}
	for i := range r.Frontier.Prefill {
		if r.Frontier.Prefill[i].Mapping == m {
			return &r.Frontier.Prefill[i]
		}
	}
	return nil
}
