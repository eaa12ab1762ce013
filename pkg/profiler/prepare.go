package profiler

import (
	"context"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Preparer is optional for a Measurer. A measurer whose points are costly
// to produce one by one (the online Jobs) learns every point the profiler
// will ask for up front, measures them in parallel, and then answers the
// sequential calls from its results. The profiler still never knows which
// measurer it drives.
type Preparer interface {
	// PrepareSweep is called once before the sweep of §6/§7 with its plan.
	PrepareSweep(ctx context.Context, plan results.Plan, cfg Config) error
	// PrepareGrids is called once before the interpolation of §12 with the
	// mappings to measure (the selected ones first) and the grid ISLs.
	PrepareGrids(ctx context.Context, g GridPlan) error
}

// GridPlan is what the interpolation phase will measure.
type GridPlan struct {
	Config         Config
	PrefillMapping []results.Mapping
	DecodeMapping  []results.Mapping
	PrefillISLs    []int
	DecodeISLs     []int
	// DecodeOSL is grid.DecodeInterpolationOSL.
	DecodeOSL int
}
