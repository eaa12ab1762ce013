package profiler

import (
	"fmt"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
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
	r.Input.SLA.TTFT, r.Input.SLA.ITL = ttft, itl
	r.Warnings = nil
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
	r.Warnings = slaWarnings(r)
	return nil
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
