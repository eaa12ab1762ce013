package profiler

import (
	"cmp"
	"fmt"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

// LookupModel resolves a DGDR's model in the estimator's catalog the way
// admission does: sweep.aicHfId, spec.model (deployment.model), then the AI
// Configurator model name.
func LookupModel(s profileconfig.Settings) (*estimator.Model, error) {
	m, err := estimator.LookupModel(s.ModelID())
	if err == nil {
		return m, nil
	}
	if s.AICModelName != "" {
		if m2, err2 := estimator.LookupModel(s.AICModelName); err2 == nil {
			return m2, nil
		}
	}
	return nil, fmt.Errorf("spec.model: %w", err)
}

// Setup is everything a simulation run needs.
type Setup struct {
	Estimator *estimator.Estimator
	Config    Config
}

// NewSetup builds the estimator and the profiler Config for a defaulted DGDR
// whose settings are s, on the named GPU system. gpusPerNode overrides the
// system's node size when it is known (discovery or hardware.numGpusPerNode).
func NewSetup(d *v1alpha1.DynamoGraphDeploymentRequest, s profileconfig.Settings, model *estimator.Model, system string, gpusPerNode int) (*Setup, error) {
	sys, err := estimator.LookupSystem(system)
	if err != nil {
		return nil, fmt.Errorf("spec.profilingConfig.config.sweep.aicSystem: %w", err)
	}
	if gpusPerNode == 0 {
		gpusPerNode = int(s.GPUsPerNode)
	}
	backend := cmp.Or(s.AICBackend, s.Backend, d.Spec.Backend)
	est, err := estimator.New(model, sys, estimator.Options{Backend: backend, GPUsPerNode: gpusPerNode})
	if err != nil {
		return nil, fmt.Errorf("building the estimator for %s on %s with %s: %w", model.Name, sys.Name, backend, err)
	}
	info, err := ModelInfoFrom(est)
	if err != nil {
		return nil, err
	}
	info.Name = cmp.Or(d.Spec.Model, info.Name)
	hwNode := sys.GPUsPerNode
	if gpusPerNode > 0 {
		hwNode = gpusPerNode
	}
	return &Setup{Estimator: est, Config: Config{
		Model:              info,
		Hardware:           Hardware{System: sys.Name, GPUsPerNode: hwNode, VRAMMiB: sys.MemoryMiB},
		Space:              SearchSpace{MinGPUs: int(s.MinGPUs), MaxGPUs: int(s.MaxGPUs), GPUsPerNode: int(s.GPUsPerNode)},
		SLA:                s.SLA,
		MaxContextLength:   int(s.MaxContextLength),
		PrefillGranularity: int(s.PrefillGranularity),
		DecodeGranularity:  int(s.DecodeGranularity),
		AICHeadRule:        s.UseAIC,
		DryRun:             s.DryRun,
	}}, nil
}

// Stamp records who produced the results and which DGDR was profiled.
func Stamp(r *results.Results, d *v1alpha1.DynamoGraphDeploymentRequest, s profileconfig.Settings) {
	v := version.Get()
	r.Versions.Plugin = v.Version
	r.Versions.Commit = v.Commit
	r.Versions.Estimator = "builtin"
	r.Input.Name, r.Input.Namespace = d.Name, d.Namespace
	r.Input.Model = cmp.Or(d.Spec.Model, s.Model)
	r.Input.Backend = cmp.Or(d.Spec.Backend, s.Backend)
}
