// Package profilerun is the profiling state machine of `kubectl dgdr
// profile` against a cluster. It takes one DGDR through small named steps,
// load → validate → discover → pending → run → store → ready (spec/dgdr-api.md
// §7), profiling in simulation mode (the estimator, on the client) or online
// (Jobs on real engines or the engine simulator, through pkg/online). Every
// read and write of the cluster goes through pkg/cluster.
package profilerun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/output"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// DefaultSimulationTimeout is the profiling deadline in simulation mode (D18).
const DefaultSimulationTimeout = 5 * time.Minute

// ProfileOptions tune Profile.
type ProfileOptions struct {
	// Out gets progress lines and non-fatal warnings; nil discards them.
	Out io.Writer
	// Profiler runs the profile; nil means a Simulation.
	Profiler Profiler
	// OutputDir, when set, also gets the local outputs (plots, npz, report),
	// with profile --local's rules: checked before profiling, replaced only
	// if it holds nothing but a previous profile, never through a symbolic
	// link unless FollowSymlinks.
	OutputDir      string
	FollowSymlinks bool
	// Timeout is the profiling deadline; 0 means DefaultSimulationTimeout.
	Timeout time.Duration
	// Apply is used when the DGDR has autoApply: true.
	Apply cluster.ApplyOptions
	// Simulate profiles with the estimator even when the DGDR asks for
	// online profiling (sweep.useAiConfigurator false).
	Simulate bool
	// Online profiles in Jobs when the DGDR asks for it; nil refuses online
	// profiling with a message that names --simulate.
	Online *Online
	// Selection is the profiler's rule (profiler.Config.Selection).
	Selection string
}

// Profile profiles the DGDR namespace/name and writes everything back
// (spec/dgdr-api.md §7, §8.2–§8.5): the states Pending → Profiling →
// Ready/Failed with their conditions, events, observedGeneration, the
// ConfigMaps dgdr-output-<name> and planner-profile-data, profilingResults
// and generatedDeployment. With autoApply it goes on into cluster.Apply. A
// DGDR already profiled is left as it is. Each step that fails moves the
// DGDR to Failed itself, so Profile only chains them.
func Profile(ctx context.Context, c *cluster.Clients, name, namespace string, opts ProfileOptions) error {
	m := &machine{c: c, key: types.NamespacedName{Namespace: namespace, Name: name}, opts: opts}
	if done, err := m.load(ctx); done || err != nil {
		return err
	}
	if dir := opts.OutputDir; dir != "" {
		if err := output.CheckDir(dir, opts.FollowSymlinks); err != nil {
			return err // before the DGDR changes: nothing to undo
		}
	}
	if err := m.validate(ctx); err != nil {
		return err
	}
	if err := m.discover(ctx); err != nil {
		return err
	}
	if err := m.pending(ctx); err != nil {
		return err
	}
	r, err := m.run(ctx)
	if err != nil {
		return err
	}
	gen, err := m.store(ctx, r)
	if err != nil {
		return err
	}
	if err := m.ready(ctx, r, gen); err != nil {
		return err
	}
	return m.localErr
}

// machine is one pass of Profile over one DGDR; each step fills what the
// next one reads.
type machine struct {
	c    *cluster.Clients
	key  types.NamespacedName
	opts ProfileOptions

	d        *v1alpha1.DynamoGraphDeploymentRequest // as read by load
	work     *v1alpha1.DynamoGraphDeploymentRequest // the defaulted copy the profiler sees
	cfg      *profileconfig.Config
	settings profileconfig.Settings
	hw       cluster.Hardware
	cur      *v1alpha1.DynamoGraphDeploymentRequest // after the last status write
	profiler Profiler
	mode     string // simulation or online
	recipe   *output.Recipe
	// localErr is a failed write of OutputDir: the profile in the cluster
	// stands, and Profile reports it at the end.
	localErr error
}

// load reads the DGDR and says whether there is nothing to profile: a DGDR
// already profiled is left as it is (and applied if autoApply asks and
// nothing was deployed yet); Failed and DeploymentDeleted are refused.
func (m *machine) load(ctx context.Context) (done bool, err error) {
	name, namespace := m.key.Name, m.key.Namespace
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := m.c.Client.Get(ctx, m.key, &d); err != nil {
		return true, err
	}
	m.d = &d
	switch d.Status.State {
	case v1alpha1.StateReady, v1alpha1.StateDeploying:
		printf(m.opts.Out, "dynamographdeploymentrequest.nvidia.com/%s is already profiled (state %s)", name, d.Status.State)
		if d.Spec.AutoApply && d.Status.Deployment == nil {
			_, err := cluster.Apply(ctx, m.c, name, namespace, m.opts.Apply)
			return true, err
		}
		return true, nil
	case v1alpha1.StateFailed:
		return true, &cluster.WrongStateError{Namespace: namespace, Name: name, State: d.Status.State, Verb: "profile",
			Need: "a DGDR that has not failed", Detail: cluster.FailureDetail(&d),
			Next: fmt.Sprintf("kubectl delete dgdr %s -n %s, fix the spec and create it again", name, namespace)}
	case v1alpha1.StateDeploymentDeleted:
		return true, &cluster.WrongStateError{Namespace: namespace, Name: name, State: d.Status.State, Verb: "profile",
			Need: "a DGDR whose deployment was not deleted",
			Next: fmt.Sprintf("delete and recreate DGDR %s to redeploy", name)}
	}
	return false, nil
}

// validate defaults a copy of the DGDR and checks it with the webhook's
// rules, then reads its profiling config.
func (m *machine) validate(ctx context.Context) error {
	m.work = m.d.DeepCopy()
	// A cluster that stores v1beta1 gets v1beta1's defaults and field names,
	// as upstream's v1.0 operator would give them.
	hub := cluster.ServesV1beta1(m.c.Client)
	opts := admission.ProfilingOptions{SLA: admission.V1alpha1SLADefaults}
	if hub {
		opts = admission.ProfilingOptions{SLA: admission.V1beta1SLADefaults, Paths: admission.HubPath}
	}
	err := func() error {
		if _, err := admission.Default(m.work); err != nil {
			return err
		}
		ws, err := admission.ForProfiling(m.work, opts)
		if err != nil {
			return err
		}
		for _, w := range ws {
			printf(m.opts.Out, "Warning: %s", w)
		}
		if _, errs := admission.ValidateInternal(m.work, hub); len(errs) > 0 {
			return admission.InvalidError(m.key.Name, errs)
		}
		if m.recipe, err = m.c.Recipe(ctx, m.work); err != nil {
			return err
		}
		m.cfg, m.settings, err = settingsOf(m.work)
		return err
	}()
	if err != nil {
		return m.failValidation(ctx, err)
	}
	return nil
}

// discover finds the GPUs from the nodes' labels (or the config's
// hardware.*) and fills the absent hardware.* of the working copy.
func (m *machine) discover(ctx context.Context) error {
	hw, err := cluster.DiscoverGPUs(ctx, m.c.Client, m.settings)
	if err != nil {
		return m.failValidation(ctx, err)
	}
	m.hw = hw
	printf(m.opts.Out, "GPU discovery: %s", hw.Summary())
	hwCfg(m.cfg, hw)
	if j, err := m.cfg.JSON(); err == nil {
		m.work.Spec.ProfilingConfig.Config = j
		if s, errs := m.cfg.Settings(); len(errs) == 0 {
			m.settings = s
		}
	}
	return nil
}

func (m *machine) failValidation(ctx context.Context, err error) error {
	return m.fail(ctx, v1alpha1.ConditionValidation, cluster.ReasonValidationFailed, cluster.EventValidationFailed, err)
}

// pending records Initializing → Pending: the DGDR passed validation.
func (m *machine) pending(ctx context.Context) error {
	cur, err := m.c.UpdateStatus(ctx, m.key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		if x.Status.State == "" || x.Status.State == v1alpha1.StateInitializing {
			x.Status.ObservedGeneration = x.Generation
		}
		x.Status.Backend = m.work.Spec.Backend // auto resolved
		x.Status.State = v1alpha1.StatePending
		m.c.SetCondition(x, v1alpha1.ConditionValidation, metav1.ConditionTrue, cluster.ReasonValidated, "DGDR passed validation")
		return nil
	})
	if err != nil {
		return err
	}
	m.cur = cur
	m.c.RecordEvent(ctx, cur, m.opts.Out, corev1.EventTypeNormal, cluster.EventInitialized, "DGDR initialized successfully")
	return nil
}

// run moves Pending → Profiling, drops the previous outputs, picks the
// profiler for the DGDR's mode and runs it under the deadline.
func (m *machine) run(ctx context.Context) (*results.Results, error) {
	name, namespace := m.key.Name, m.key.Namespace
	if err := m.c.DeleteOutput(ctx, m.cur); err != nil {
		return nil, err
	}
	cur, err := m.c.UpdateStatus(ctx, m.key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		x.Status.State = v1alpha1.StateProfiling
		x.Status.GeneratedDeployment, x.Status.ProfilingResults = nil, ""
		m.c.SetCondition(x, v1alpha1.ConditionProfiling, metav1.ConditionFalse, cluster.ReasonProfilingRunning, cluster.MsgProfilingRunning)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.cur = cur
	p, mode, timeout := m.opts.pick(m.c, m.settings)
	m.profiler, m.mode = p, mode
	if on, ok := p.(*Online); ok {
		on.Recipe = m.recipe
	}
	if p == nil {
		return nil, m.fail(ctx, v1alpha1.ConditionProfiling, cluster.ReasonProfilingFailed, cluster.EventProfilingJobFailed,
			errors.New("online profiling (sweep.use_ai_configurator false) needs a connection to create Jobs; pass --simulate to use the estimator"))
	}
	event := "Profiling job created"
	if mode == "simulation" {
		event = "AIC profiling job created (simulation, run on the client by kubectl-dgdr)"
	}
	m.c.RecordEvent(ctx, cur, m.opts.Out, corev1.EventTypeNormal, cluster.EventProfilingJobCreated, event)
	printf(m.opts.Out, "profiling %s/%s in %s mode (model %s, backend %s, system %s)", namespace, name, mode, m.d.Spec.Model, m.d.Spec.Backend, m.hw.System)

	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := p.Profile(pctx, m.work, m.settings, m.hw)
	if err == nil && r == nil {
		err = errors.New("the profiler returned no results")
	}
	if err != nil && ctx.Err() != nil && mode == "online" {
		// Interrupted (Ctrl-C): the Jobs are server-side and keep running;
		// the DGDR stays Profiling so that the next run re-attaches.
		return nil, fmt.Errorf("interrupted: the profiling Jobs keep running; re-attach with `kubectl dgdr profile %s -n %s`, or stop them with --cancel", name, namespace)
	}
	if err != nil {
		reason := cluster.ReasonProfilingFailed
		if errors.Is(pctx.Err(), context.DeadlineExceeded) {
			reason = cluster.ReasonTimeout
			err = fmt.Errorf("profiling did not finish within %s: %w", timeout, err)
		}
		return nil, m.fail(ctx, v1alpha1.ConditionProfiling, reason, cluster.EventProfilingCheckFailed, err)
	}
	return r, nil
}

// store generates the outputs and writes them to the cluster (and to
// OutputDir when set), then records the profiled spec's hash.
func (m *machine) store(ctx context.Context, r *results.Results) (*runtime.RawExtension, error) {
	in := output.Inputs{DGDR: m.work, Settings: m.settings, GPUsPerNode: m.hw.GPUsPerNode, Now: m.c.Now(), Recipe: m.recipe}
	if l, ok := m.profiler.(interface{ Log() []byte }); ok {
		in.Log = l.Log()
	}
	gen, err := m.c.StoreOutputs(ctx, m.cur, r, in, m.hw)
	if err != nil {
		return nil, m.fail(ctx, v1alpha1.ConditionSpecGenerated, cluster.ReasonGenerationFailed, cluster.EventGenerationFailed, err)
	}
	if dir := m.opts.OutputDir; dir != "" {
		in.FollowSymlinks = m.opts.FollowSymlinks
		files, err := output.Write(dir, r, in)
		if err != nil {
			m.localErr = fmt.Errorf("the profile is stored in the cluster, but writing its local outputs failed: %w", err)
		} else {
			printf(m.opts.Out, "wrote %d files to %s", len(files), dir)
		}
	}
	if err := m.c.MarkProfiled(ctx, m.cur); err != nil {
		printf(m.opts.Out, "Warning: %v", err)
	}
	return gen, nil
}

// ready moves Profiling → Ready with the generated deployment, and applies
// it when the DGDR asks for autoApply.
func (m *machine) ready(ctx context.Context, r *results.Results, gen *runtime.RawExtension) error {
	name, namespace := m.key.Name, m.key.Namespace
	msg := cluster.MsgSpecGeneratedNoApply
	if m.d.Spec.AutoApply {
		msg = cluster.MsgSpecGeneratedApply
	}
	cur, err := m.c.UpdateStatus(ctx, m.key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		x.Status.State = v1alpha1.StateReady
		x.Status.ProfilingResults = "configmap/" + cluster.OutputConfigMapName(name)
		x.Status.GeneratedDeployment = gen
		m.c.SetCondition(x, v1alpha1.ConditionProfiling, metav1.ConditionTrue, cluster.ReasonProfilingCompleted, "Profiling completed successfully ("+m.mode+")")
		m.c.SetCondition(x, v1alpha1.ConditionSpecGenerated, metav1.ConditionTrue, cluster.ReasonSpecGenerated, msg)
		return nil
	})
	if err != nil {
		return err
	}
	m.cur = cur
	m.c.RecordEvent(ctx, cur, m.opts.Out, corev1.EventTypeNormal, cluster.EventSpecGenerated, cluster.MsgSpecGeneratedApply)
	printf(m.opts.Out, "%s", recommendation(r))
	printf(m.opts.Out, "dynamographdeploymentrequest.nvidia.com/%s profiled: state Ready, results in configmap/%s", name, cluster.OutputConfigMapName(name))
	if m.d.Spec.AutoApply {
		_, err := cluster.Apply(ctx, m.c, name, namespace, m.opts.Apply)
		return err
	}
	printf(m.opts.Out, "next: kubectl dgdr apply %s -n %s", name, namespace)
	return nil
}

// fail moves the DGDR to Failed with one False condition and a Warning
// event, and returns cause.
func (m *machine) fail(ctx context.Context, condType, reason, eventReason string, cause error) error {
	msg := cause.Error()
	cur, err := m.c.UpdateStatus(ctx, m.key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		x.Status.State = v1alpha1.StateFailed
		if x.Status.Backend == "" && m.work != nil {
			x.Status.Backend = m.work.Spec.Backend
		}
		m.c.SetCondition(x, condType, metav1.ConditionFalse, reason, msg)
		return nil
	})
	if err != nil {
		return errors.Join(cause, err)
	}
	m.c.RecordEvent(ctx, cur, m.opts.Out, corev1.EventTypeWarning, eventReason, msg)
	return fmt.Errorf("DynamoGraphDeploymentRequest %s is now Failed (%s/%s): %w", m.key, condType, reason, cause)
}

// printf writes a progress line when w is set.
func printf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func recommendation(r *results.Results) string {
	s := r.Selection
	if s.Prefill == nil || s.Decode == nil {
		return "no recommendation"
	}
	return fmt.Sprintf("recommendation: prefill %s (TTFT %.2f ms, %.1f tok/s/GPU), decode %s (ITL %.2f ms, %.1f tok/s/GPU)",
		s.Prefill.Mapping.Label(), s.Prefill.LatencyMs, s.Prefill.ThptPerGPU,
		s.Decode.Mapping.Label(), s.Decode.LatencyMs, s.Decode.ThptPerGPU)
}

// settingsOf reads the defaulted config.
func settingsOf(d *v1alpha1.DynamoGraphDeploymentRequest) (*profileconfig.Config, profileconfig.Settings, error) {
	cfg, err := profileconfig.FromJSON(d.Spec.ProfilingConfig.Config)
	if err != nil {
		return nil, profileconfig.Settings{}, fmt.Errorf("failed to parse spec.profilingConfig.config: %w", err)
	}
	s, errs := cfg.Settings()
	if len(errs) > 0 {
		return nil, s, admission.InvalidError(d.Name, errs)
	}
	return cfg, s, nil
}

// hwCfg fills hardware.* from discovery where absent (§5 row 9); the copy
// is what the profiler and the generator see, never the stored spec.
func hwCfg(cfg *profileconfig.Config, hw cluster.Hardware) {
	if cfg == nil {
		return
	}
	set := func(k profileconfig.Key, v any) {
		if _, _, ok := cfg.Lookup(k); !ok {
			_ = cfg.Set(k, v)
		}
	}
	if hw.GPUsPerNode > 0 {
		set(profileconfig.KeyHardwareGPUsPerNode, hw.GPUsPerNode)
	}
	if hw.Product != "" {
		set(profileconfig.KeyHardwareGPUModel, hw.Product)
	}
	if hw.MemoryMiB > 0 {
		set(profileconfig.KeyHardwareGPUVramMiB, hw.MemoryMiB)
	}
	if hw.System != "" {
		set(profileconfig.KeyHardwareSystem, hw.System)
	}
}

// pick chooses the profiler: the caller's, the estimator in AI Configurator
// mode (or with Simulate), else Jobs on real engines.
func (o ProfileOptions) pick(c *cluster.Clients, s profileconfig.Settings) (Profiler, string, time.Duration) {
	timeout := o.Timeout
	switch {
	case o.Profiler != nil:
		if timeout == 0 {
			timeout = DefaultSimulationTimeout
		}
		return o.Profiler, "simulation", timeout
	case s.UseAIC || o.Simulate:
		if timeout == 0 {
			timeout = DefaultSimulationTimeout
		}
		return &Simulation{Now: c.Now, Selection: o.Selection}, "simulation", timeout
	case o.Online != nil:
		if timeout == 0 {
			timeout = DefaultOnlineTimeout
		}
		on := *o.Online
		on.Now = c.Now
		on.Selection = o.Selection
		return &on, "online", timeout
	}
	return nil, "online", timeout
}
