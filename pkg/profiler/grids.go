package profiler

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// SweepContextLength is §12.1: the smaller of the user's cap and the model's.
func SweepContextLength(user, model int, log *Logger) (int, error) {
	switch {
	case user <= 0 && model <= 0:
		return 0, fmt.Errorf("No max_context_length available from args.max_context_length or model_info from HF config; set spec.profilingConfig.config.engine.maxContextLength")
	case user <= 0:
		log.Infof("Using model's maximum context length: %d", model)
		return model, nil
	case model <= 0:
		log.Infof("Using user-provided max_context_length: %d", user)
		return user, nil
	}
	c := min(user, model)
	log.Infof("Using minimum of user-provided and model's maximum context length: %d", c)
	return c, nil
}

// The planner's lookup grid (perf_interpolation.DecodeInterpolator): 100
// values of KV usage in [0, 1] and of context in [0, max context].
const plannerResolution = 100

// DecodeRow is one context length of a decode interpolation grid.
type DecodeRow struct {
	ISL int
	// Concurrencies are measured as given (those within the KV capacity);
	// nil means upstream's grid.NumRequestRange for the row.
	Concurrencies []int
}

// decodeRows is the decode interpolation grid of one mapping: upstream's
// rows (profiler.md §12.3), plus, with a frontier, two rows at the SLA's
// context (the exact one, and the planner's lookup row nearest to it) whose
// concurrencies concentrate around the ITL crossing. The planner reads the
// grid on a 100×100 lattice and takes the largest KV usage that meets the
// ITL target, so these points are what it lands on at the SLA.
func decodeRows(isls []int, maxCtx, kv, attnDP, g int, fr *results.DecodeFrontier, ctxSLA float64) []DecodeRow {
	const osl = grid.DecodeInterpolationOSL
	var rows []DecodeRow
	ymax := 0.0
	for _, isl := range isls {
		rows = append(rows, DecodeRow{ISL: isl})
		if kv/(isl+osl) > 0 { // the rows beyond are not measured
			ymax = math.Max(ymax, float64(isl)+osl/2)
		}
	}
	if fr == nil || kv <= 0 {
		return rows
	}
	ymax = math.Max(ymax, ctxSLA)
	lattice := math.Round(ctxSLA*(plannerResolution-1)/ymax) * ymax / (plannerResolution - 1)
	step := max(attnDP, 1)
	for _, y := range []float64{ctxSLA, lattice} {
		isl := int(math.Round(y - osl/2))
		cmax := min(kv/(isl+osl), grid.DecodeMaxConcurrency) / step * step
		if isl < 1 || isl+osl > maxCtx || cmax < step {
			continue
		}
		concs := grid.NumRequestRange(step, kv/(isl+osl), g)
		concs = append(concs, crossingConcurrencies(fr, kv, float64(isl)+osl/2, step, cmax)...)
		i := slices.IndexFunc(rows, func(r DecodeRow) bool { return r.ISL == isl })
		if i < 0 {
			rows = append(rows, DecodeRow{ISL: isl})
			i = len(rows) - 1
		}
		rows[i].Concurrencies = sortedUnique(append(rows[i].Concurrencies, concs...))
	}
	slices.SortFunc(rows, func(a, b DecodeRow) int { return cmp.Compare(a.ISL, b.ISL) })
	return rows
}

// crossingConcurrencies are the points around the frontier on a row of
// context ctx: the bracket, and the concurrencies nearest to the planner's
// KV-usage lattice (steps of 1/99) on either side of the crossing.
func crossingConcurrencies(fr *results.DecodeFrontier, kv int, ctx float64, step, cmax int) []int {
	if fr.Bound == results.BoundNone || fr.Concurrency == 0 {
		return nil
	}
	c := fr.Concurrency
	out := []int{c - step, c, c + step}
	x := float64(c) * ctx / float64(kv)
	col := math.Floor(x * (plannerResolution - 1))
	for j := -2.0; j <= 2; j++ {
		xc := (col + j) / (plannerResolution - 1)
		out = append(out, int(math.Round(xc*float64(kv)/ctx/float64(step)))*step)
	}
	kept := out[:0]
	for _, v := range out {
		if v >= step && v <= cmax {
			kept = append(kept, v)
		}
	}
	return kept
}

func sortedUnique(v []int) []int {
	slices.Sort(v)
	return slices.Compact(v)
}

// concentratePrefillISLs is the prefill interpolation grid of one mapping: upstream's
// ISLs (profiler.md §12.2), plus, with a frontier, the SLA's ISL and the
// largest ISL within the TTFT target, so that the planner's cubic spline
// passes through both. Upstream ISLs closer than a quarter step to an added
// one are dropped (knots that close make the spline wiggle), the range's
// ends are kept.
func concentratePrefillISLs(isls []int, slaISL int, fr *results.PrefillFrontier) []int {
	if fr == nil || len(isls) < 2 {
		return isls
	}
	add := []int{slaISL}
	if fr.Bound != results.BoundNone && fr.MaxISL > 0 {
		add = append(add, fr.MaxISL)
	}
	lo, hi := isls[0], isls[len(isls)-1]
	gap := (isls[1] - isls[0]) / 4
	var out []int
	for _, v := range add {
		if v > lo && v < hi {
			out = append(out, v)
		}
	}
	for i, v := range isls {
		near := slices.ContainsFunc(out, func(a int) bool { return abs(a-v) < gap })
		if i == 0 || i == len(isls)-1 || !near {
			out = append(out, v)
		}
	}
	return sortedUnique(out)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
