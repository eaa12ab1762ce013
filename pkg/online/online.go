// Package online is the online Measurer of profiler.md §6.4/§7.4/§12: every
// (phase, mapping) is a profiling Job (pkg/jobs) whose measure container
// writes a result ConfigMap. The measurer implements profiler.Preparer: it
// learns the whole sweep up front, runs the Jobs in parallel on the GPUs
// that are free, and then answers the profiler's sequential calls from the
// results. Jobs outlive the process; a second run re-attaches to them.
package online

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// State is a Job's progress as the display shows it.
type State string

// Job states, in order.
const (
	StatePending        State = "pending"
	StateEngineStarting State = "engine starting"
	StateMeasuring      State = "measuring"
	StateDone           State = "done"
	StateFailed         State = "failed"
)

// JobEvent is one state change of one Job.
type JobEvent struct {
	Job     string
	Phase   string
	Mapping results.Mapping
	State   State
	// Reused is true for a Job or result found from an earlier run.
	Reused bool
	// Message says why (the scheduler's reason, the failure).
	Message string
}

// Options configure the online measurer.
type Options struct {
	Client kubernetes.Interface
	// DGDR owns the Jobs; it must come from the API server (UID set).
	DGDR *v1alpha1.DynamoGraphDeploymentRequest
	// Template is the Job spec every Job starts from: Backend, Model,
	// WorkerImage, GPUsPerNode, Mocker, ModelCache, ... The measurer sets
	// DGDR, Phase, Mapping, ISLs, OSL, Granularity and EnginePort.
	Template jobs.Spec
	// MaxParallel caps the Jobs running at once (0: as many as fit).
	MaxParallel int
	// Poll is how often Jobs are checked (0: 2 s).
	Poll time.Duration
	// EnginePort picks the engine port of a Job (nil: jobs.EnginePort). A
	// harness running several pods on one host gives each its own.
	EnginePort func(job string) int
	// EngineRestartLimit fails a Job whose engine crashed this many times
	// (0: 3): a crash-looping engine never gets ready.
	EngineRestartLimit int32
	// OnJob, when set, gets every state change (the progress display).
	OnJob func(JobEvent)
	// Logf, when set, gets one line per decision (created, reused, ...).
	Logf func(format string, args ...any)
	// Warnf, when set, gets the workers' warnings (else Logf does).
	Warnf func(format string, args ...any)
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("online: Client is nil: pass a Kubernetes client for the DGDR's cluster")
	case o.DGDR == nil || o.DGDR.UID == "" || o.DGDR.Namespace == "":
		return errors.New("online: DGDR is missing or has no UID/namespace: read the DGDR from the API server first")
	case o.MaxParallel < 0:
		return fmt.Errorf("online: MaxParallel %d is negative: use 0 (no cap) or a positive number (--max-parallel)", o.MaxParallel)
	case o.Template.GPUsPerNode < 1:
		return fmt.Errorf("online: Template.GPUsPerNode %d is invalid: set the GPUs per node from GPU discovery", o.Template.GPUsPerNode)
	case o.Template.WorkerImage == "":
		return errors.New("online: Template.WorkerImage is empty: set the dgdr-worker image")
	}
	return nil
}

// Measurer implements profiler.Measurer and profiler.Preparer with Jobs.
type Measurer struct {
	opts Options

	mu    sync.Mutex
	tasks map[string]*task // by Job name
	stats Stats
}

// Stats count what the measurer did with the API server.
type Stats struct {
	// Created is the number of Jobs this measurer created.
	Created int
	// ReusedJobs were found running or finished from an earlier run.
	ReusedJobs int
	// ReusedResults were finished result ConfigMaps, never re-run.
	ReusedResults int
}

// New checks the options and returns the measurer.
func New(opts Options) (*Measurer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.EngineRestartLimit <= 0 {
		opts.EngineRestartLimit = 3
	}
	return &Measurer{opts: opts, tasks: map[string]*task{}}, nil
}

var (
	_ profiler.Measurer = (*Measurer)(nil)
	_ profiler.Preparer = (*Measurer)(nil)
	_ profiler.Budgeted = (*Measurer)(nil)
)

// FrontierPoints implements profiler.Budgeted: each sweep Job measures up to
// grid.DefaultProbes points around the SLA crossing while its engine is up.
func (o *Measurer) FrontierPoints() int { return grid.DefaultProbes }

// Name implements profiler.Measurer.
func (o *Measurer) Name() string { return "online" }

// Stats returns the counters so far.
func (o *Measurer) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

func (o *Measurer) logf(format string, args ...any) {
	if o.opts.Logf != nil {
		o.opts.Logf(format, args...)
	}
}

func (o *Measurer) warnf(format string, args ...any) {
	if o.opts.Warnf != nil {
		o.opts.Warnf(format, args...)
		return
	}
	o.logf(format, args...)
}

// timeScale undoes the mocker's --time-scale so that measurements read as
// the simulated engine's real-time figures.
func (o *Measurer) timeScale() float64 {
	t := o.opts.Template
	if t.Backend == jobs.BackendMocker && t.Mocker.TimeScale > 0 {
		return t.Mocker.TimeScale
	}
	return 1
}

// PrepareSweep implements profiler.Preparer: one Job per prefill and per
// decode mapping of the plan, run to completion in parallel. With the
// frontier rule each Job also searches its SLA crossing (targets in the
// engine's clock, which --time-scale speeds up).
func (o *Measurer) PrepareSweep(ctx context.Context, plan results.Plan, cfg profiler.Config) error {
	isl, osl := int(cfg.SLA.ISL), int(cfg.SLA.OSL)
	search := func(t *task, target float64) *task {
		if cfg.Frontier() {
			t.spec.SLATarget, t.spec.FrontierPoints, t.spec.MaxISL = target*o.timeScale(), o.FrontierPoints(), plan.MaxISL
			t.hash = taskHash(t.spec)
		}
		return t
	}
	var ts []*task
	for _, m := range plan.PrefillMappings {
		ts = append(ts, search(o.newTask(jobs.PhasePrefill, m, []int{isl}, 0, 0, cfg), cfg.SLA.TTFT))
	}
	for _, m := range plan.DecodeMappings {
		ts = append(ts, search(o.newTask(jobs.PhaseDecode, m, []int{isl}, osl, cfg.DecodeGranularity, cfg), cfg.SLA.ITL))
	}
	return o.run(ctx, ts)
}

// PrepareGrids implements profiler.Preparer: the in-depth Jobs of §12.
func (o *Measurer) PrepareGrids(ctx context.Context, g profiler.GridPlan) error {
	// One Job per ISL: the grid points are independent, so on free GPUs they
	// run side by side instead of one after another in a single engine.
	var ts []*task
	for _, p := range g.Prefill {
		for _, isl := range p.ISLs {
			ts = append(ts, o.newPartTask(jobs.PhasePrefillGrid, fmt.Sprintf("isl%d", isl), p.Mapping, []int{isl}, 0, 0, g.Config))
		}
	}
	for _, d := range g.Decode {
		for _, row := range d.Rows {
			t := o.newPartTask(jobs.PhaseDecodeGrid, fmt.Sprintf("isl%d", row.ISL), d.Mapping, []int{row.ISL}, g.DecodeOSL, g.Config.DecodeGranularity, g.Config)
			if row.Concurrencies != nil {
				t.spec.Concurrencies = slices.Clone(row.Concurrencies)
				t.hash = taskHash(t.spec)
			}
			ts = append(ts, t)
		}
	}
	return o.run(ctx, ts)
}

// find returns the finished tasks of m in the given phases.
func (o *Measurer) find(m results.Mapping, phases ...string) []*task {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*task
	m = normalize(m)
	for _, p := range phases {
		var parts []*task
		for _, t := range o.tasks {
			if t.phase == p && t.mapping == m {
				parts = append(parts, t)
			}
		}
		// Map order is random; answer deterministically, phase by phase.
		slices.SortFunc(parts, func(a, b *task) int { return strings.Compare(a.name, b.name) })
		out = append(out, parts...)
	}
	return out
}

func notPrepared(what string, m results.Mapping) error {
	return fmt.Errorf("online: %s of %s was not measured: the online measurer answers only what PrepareSweep/PrepareGrids ran (use it through profiler.Run)", what, m.Label())
}

// PrefillTTFT implements profiler.Measurer.
func (o *Measurer) PrefillTTFT(ctx context.Context, m results.Mapping, isl int) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ts := o.find(m, jobs.PhasePrefill, jobs.PhasePrefillGrid)
	if len(ts) == 0 {
		return 0, notPrepared(fmt.Sprintf("prefill at isl %d", isl), m)
	}
	for _, t := range ts {
		if t.err != nil {
			return 0, t.err
		}
		for _, p := range t.result.Prefill {
			if p.ISL == isl {
				return p.TTFTMs / o.timeScale(), nil
			}
		}
	}
	// The worker dropped the point with a warning: the profiler drops it too.
	o.logf("%s: no TTFT at isl %d (%s)", m.Label(), isl, warnings(ts))
	return math.NaN(), nil
}

// MaxKVTokens implements profiler.Measurer.
func (o *Measurer) MaxKVTokens(ctx context.Context, m results.Mapping) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ts := o.find(m, jobs.PhaseDecode, jobs.PhaseDecodeGrid)
	if len(ts) == 0 {
		return 0, notPrepared("KV capacity", m)
	}
	for _, t := range ts {
		if t.err != nil {
			return 0, t.err
		}
		if t.result.MaxKVTokens > 0 {
			return t.result.MaxKVTokens, nil
		}
	}
	return 0, nil
}

// Decode implements profiler.Measurer with the engine's measured ITL and
// output throughput (profiler.md §7.4), both undoing --time-scale.
func (o *Measurer) Decode(ctx context.Context, m results.Mapping, isl, osl, concurrency int) (profiler.DecodeSample, error) {
	if err := ctx.Err(); err != nil {
		return profiler.DecodeSample{}, err
	}
	ts := o.find(m, jobs.PhaseDecode, jobs.PhaseDecodeGrid)
	if len(ts) == 0 {
		return profiler.DecodeSample{}, notPrepared(fmt.Sprintf("decode at isl %d, osl %d, concurrency %d", isl, osl, concurrency), m)
	}
	for _, t := range ts {
		if t.err != nil {
			return profiler.DecodeSample{}, t.err
		}
		for _, p := range t.result.Decode {
			if p.ISL == isl && p.OSL == osl && p.Concurrency == concurrency {
				return profiler.DecodeSample{ITLMs: p.ITLMs / o.timeScale(), ThptPerGPU: p.ThptPerGPU * o.timeScale()}, nil
			}
		}
	}
	o.logf("%s: no ITL at isl %d, osl %d, concurrency %d (%s)", m.Label(), isl, osl, concurrency, warnings(ts))
	return profiler.DecodeSample{ITLMs: math.NaN(), ThptPerGPU: math.NaN()}, nil
}

func warnings(ts []*task) string {
	for _, t := range ts {
		if t.result != nil && len(t.result.Warnings) > 0 {
			return t.result.Warnings[0]
		}
	}
	return "no warning from the worker"
}

func normalize(m results.Mapping) results.Mapping {
	t := workerproto.Task{Mapping: m}
	t.Normalize()
	return t.Mapping
}
