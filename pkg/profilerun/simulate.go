package profilerun

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Profiler runs one profile of a defaulted DGDR against discovered hardware.
type Profiler interface {
	Profile(ctx context.Context, dgdr *v1alpha1.DynamoGraphDeploymentRequest, s profileconfig.Settings, hw cluster.Hardware) (*results.Results, error)
}

// Simulation profiles with the analytic estimator (profiler.md §11): no GPU
// is used and nothing runs in the cluster.
type Simulation struct {
	// Now stamps log lines; nil means time.Now.
	Now func() time.Time
	// Progress, when set, gets one call per measured mapping.
	Progress profiler.ProgressFunc

	log []byte
}

// Log is the profile_sla.log of the last run.
func (s *Simulation) Log() []byte { return s.log }

// Profile implements Profiler.
func (s *Simulation) Profile(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, st profileconfig.Settings, hw cluster.Hardware) (*results.Results, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	model, err := profiler.LookupModel(st)
	if err != nil {
		return nil, fmt.Errorf("%w; simulation mode needs a model from the estimator's catalog (set sweep.aicHfId or aic.model_name)", err)
	}
	setup, err := profiler.NewSetup(d, st, model, hw.System, hw.GPUsPerNode)
	if err != nil {
		return nil, err
	}
	setup.Config.Hardware.VRAMMiB = cmp.Or(hw.MemoryMiB, setup.Config.Hardware.VRAMMiB)
	log := profiler.NewLogger(now)
	sim := profiler.NewSimulation(setup.Estimator)
	sim.Log = log
	p := &profiler.Profiler{Measurer: sim, Log: log, Progress: s.Progress}
	cfg := setup.Config
	r, err := p.Run(ctx, cfg)
	s.log = log.Bytes()
	if err != nil {
		return r, err
	}
	profiler.Stamp(r, d, st)
	return r, nil
}
