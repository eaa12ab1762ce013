package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

// Profiler runs one profile of a defaulted DGDR against discovered hardware.
type Profiler interface {
	Profile(ctx context.Context, dgdr *v1alpha1.DynamoGraphDeploymentRequest, s profileconfig.Settings, hw Hardware) (*results.Results, error)
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
func (s *Simulation) Profile(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, st profileconfig.Settings, hw Hardware) (*results.Results, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	model, err := lookupModel(d, st)
	if err != nil {
		return nil, err
	}
	sys, err := estimator.LookupSystem(hw.System)
	if err != nil {
		return nil, fmt.Errorf("spec.profilingConfig.config.sweep.aicSystem: %w", err)
	}
	backend := firstNonEmpty(st.AICBackend, st.Backend, d.Spec.Backend)
	est, err := estimator.New(model, sys, estimator.Options{Backend: backend, GPUsPerNode: hw.GPUsPerNode})
	if err != nil {
		return nil, fmt.Errorf("building the estimator for %s on %s (%s): %w", model.Name, sys.Name, backend, err)
	}
	info, err := profiler.ModelInfoFrom(est)
	if err != nil {
		return nil, err
	}
	log := profiler.NewLogger(now)
	sim := profiler.NewSimulation(est)
	sim.Log = log
	p := &profiler.Profiler{Measurer: sim, Log: log, Progress: s.Progress}
	cfg := profiler.Config{
		Model:              info,
		Hardware:           profiler.Hardware{System: sys.Name, GPUsPerNode: hw.GPUsPerNode, VRAMMiB: hw.MemoryMiB},
		Space:              profiler.SearchSpace{MinGPUs: int(st.MinGPUs), MaxGPUs: int(st.MaxGPUs), GPUsPerNode: int(st.GPUsPerNode)},
		SLA:                st.SLA,
		MaxContextLength:   int(st.MaxContextLength),
		PrefillGranularity: int(st.PrefillGranularity),
		DecodeGranularity:  int(st.DecodeGranularity),
		AICHeadRule:        st.UseAIC,
	}
	r, err := p.Run(ctx, cfg)
	s.log = log.Bytes()
	if err != nil {
		return r, err
	}
	r.Input.Name, r.Input.Namespace = d.Name, d.Namespace
	r.Input.Model = firstNonEmpty(d.Spec.Model, st.Model)
	r.Input.Backend = firstNonEmpty(d.Spec.Backend, st.Backend)
	r.Versions.Plugin = version.Get().Version
	r.Versions.Commit = version.Get().Commit
	return r, nil
}

// lookupModel resolves the model the way admission does: sweep.aicHfId,
// spec.model, then the AI Configurator model name.
func lookupModel(d *v1alpha1.DynamoGraphDeploymentRequest, st profileconfig.Settings) (*estimator.Model, error) {
	var firstErr error
	for _, id := range []string{st.AICHfID, d.Spec.Model, st.Model, st.AICModelName} {
		if id == "" {
			continue
		}
		m, err := estimator.LookupModel(id)
		if err == nil {
			return m, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("no model given")
	}
	return nil, fmt.Errorf("spec.model %q: %w; simulation mode needs a model from the estimator's catalog (set sweep.aicHfId or aic.model_name)", d.Spec.Model, firstErr)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
