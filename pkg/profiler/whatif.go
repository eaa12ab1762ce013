package profiler

import (
	"fmt"
	"slices"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Reselect is the what-if of `profile --from`: it re-runs selection on saved
// measurements for a new TTFT/ITL target and takes the interpolation grids of
// the newly chosen mappings from the saved grids. Nothing is measured; ISL
// and OSL cannot change, since the sweep points were measured at them.
func Reselect(r *results.Results, ttft, itl float64, log *Logger) error {
	if r.DryRun {
		return fmt.Errorf("the results are from a dry run and hold no measurements; run profile without --dry-run first")
	}
	cfg := Config{SLA: profileconfig.SLA{ISL: r.Input.SLA.ISL, OSL: r.Input.SLA.OSL, TTFT: ttft, ITL: itl},
		PrefillGranularity: 1, DecodeGranularity: 2}
	if err := cfg.validate(); err != nil {
		return err
	}
	old := r.Selection
	oldP, oldD := r.PrefillInterpolation, r.DecodeInterpolation
	oldSLA := r.Input.SLA
	r.Input.SLA.TTFT, r.Input.SLA.ITL = ttft, itl
	r.Warnings = nil
	if r.Frontier != nil {
		f := savedFrontier(r)
		// An unchanged target keeps the frontier that was searched for it.
		if ttft == oldSLA.TTFT {
			f.Prefill = r.Frontier.Prefill
		}
		if itl == oldSLA.ITL {
			f.Decode = r.Frontier.Decode
		}
		r.Frontier = f
	}
	if err := Select(r, log); err != nil {
		return err
	}
	bp, bd := r.Selection.Prefill.Mapping, r.Selection.Decode.Mapping
	pi, di := findPrefillGrid(r, bp), findDecodeGrid(r, bd)
	// Without saved grids (an online run) an unchanged choice keeps its grid.
	if pi == nil && old.Prefill != nil && old.Prefill.Mapping == bp {
		pi = oldP
	}
	if di == nil && old.Decode != nil && old.Decode.Mapping == bd {
		di = oldD
	}
	if pi == nil || di == nil {
		missing := bp.Label() + " (prefill)"
		if pi != nil {
			missing = bd.Label() + " (decode)"
		}
		return fmt.Errorf("the new SLA selects %s, whose interpolation grid is not in the results file; re-run `kubectl dgdr profile` with the new SLA to measure it", missing)
	}
	r.PrefillInterpolation, r.DecodeInterpolation = pi, di
	r.Warnings = append(slaWarnings(r), frontierWarnings(r)...)
	if r.Frontier != nil && !frontierExact(r) {
		r.Warnings = append(r.Warnings, msgInexact+": the saved measurements do not bracket the new targets one step apart, and a what-if measures nothing; run profile again with the new SLA for exact frontiers")
	}
	return nil
}

// DropFrontier turns frontier results into upstream's: the coarse sweep
// alone, selected by upstream's rule. The grids stay as they were measured.
func DropFrontier(r *results.Results) {
	r.Frontier = nil
	r.Decode = slices.DeleteFunc(r.Decode, func(d results.DecodePoint) bool { return d.Frontier })
}

// savedFrontier is the frontier for the new targets from what was measured:
// the decode sweep and frontier points, and the prefill sweep point with the
// saved prefill grid of each mapping. Nothing new is measured, so a
// frontier is exact only where saved points happen to bracket it.
func savedFrontier(r *results.Results) *results.Frontier {
	f := &results.Frontier{}
	sla := r.Input.SLA
	for _, pt := range r.Prefill {
		samples := []grid.Sample{{X: pt.ISL, Y: pt.TTFTMs}}
		if g := findPrefillGrid(r, pt.Mapping); g != nil {
			for i := range g.ISL {
				samples = append(samples, grid.Sample{X: int(g.ISL[i]), Y: g.TTFTMs[i]})
			}
		}
		f.Prefill = append(f.Prefill, PrefillFrontierOf(pt.Mapping, samples, sla.TTFT, max(r.Plan.MaxISL, pt.ISL)))
	}
	for _, m := range decodeMappings(r.Decode) {
		f.Decode = append(f.Decode, DecodeFrontierOf(pointsOf(r.Decode, m), sla.ITL))
	}
	return f
}

func frontierExact(r *results.Results) bool {
	for _, f := range r.Frontier.Prefill {
		if !f.Exact {
			return false
		}
	}
	for _, f := range r.Frontier.Decode {
		if !f.Exact {
			return false
		}
	}
	return true
}

func findPrefillGrid(r *results.Results, m results.Mapping) *results.PrefillInterpolation {
	for i := range r.PrefillGrids {
		if r.PrefillGrids[i].Mapping == m {
			g := r.PrefillGrids[i].PrefillInterpolation
			return &g
		}
	}
	return nil
}

func findDecodeGrid(r *results.Results, m results.Mapping) *results.DecodeInterpolation {
	for i := range r.DecodeGrids {
		if r.DecodeGrids[i].Mapping == m {
			g := r.DecodeGrids[i].DecodeInterpolation
			return &g
		}
	}
	return nil
}
