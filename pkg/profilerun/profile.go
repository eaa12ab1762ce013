package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
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
	// OutputDir, when set, also gets the local outputs (plots, npz, report).
	OutputDir string
	// Timeout is the profiling deadline; 0 means DefaultSimulationTimeout.
	Timeout time.Duration
	// Apply is used when the DGDR has autoApply: true.
	Apply ApplyOptions
	// Simulate profiles with the estimator even when the DGDR asks for
	// online profiling (sweep.useAiConfigurator false).
	Simulate bool
	// Online profiles in Jobs when the DGDR asks for it; nil refuses online
	// profiling with a message that names --simulate.
	Online *Online
}

// Profile profiles the DGDR namespace/name on the client in simulation mode
// and writes everything back (spec/dgdr-api.md §7, §8.2–§8.5): the state
// machine Pending → Profiling → Ready/Failed with its conditions, events,
// observedGeneration, the ConfigMaps dgdr-output-<name> and
// planner-profile-data, profilingResults and generatedDeployment. With
// autoApply it goes on into Apply. A DGDR already profiled is left as it is.
func Profile(ctx context.Context, c *Clients, name, namespace string, opts ProfileOptions) error {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Client.Get(ctx, key, &d); err != nil {
		return err
	}
	switch d.Status.State {
	case v1alpha1.StateReady, v1alpha1.StateDeploying:
		printf(opts.Out, "dynamographdeploymentrequest.nvidia.com/%s is already profiled (state %s)", name, d.Status.State)
		if d.Spec.AutoApply && d.Status.Deployment == nil {
			_, err := Apply(ctx, c, name, namespace, opts.Apply)
			return err
		}
		return nil
	case v1alpha1.StateFailed:
		return &WrongStateError{Namespace: namespace, Name: name, State: d.Status.State, Verb: "profile",
			Need: "a DGDR that has not failed", Detail: failureDetail(&d),
			Next: fmt.Sprintf("kubectl delete dgdr %s -n %s, fix the spec and create it again", name, namespace)}
	case v1alpha1.StateDeploymentDeleted:
		return &WrongStateError{Namespace: namespace, Name: name, State: d.Status.State, Verb: "profile",
			Need: "a DGDR whose deployment was not deleted",
			Next: fmt.Sprintf("delete and recreate DGDR %s to redeploy", name)}
	}

	// Initializing → Pending: validate with the shared rules on a defaulted copy.
	work := d.DeepCopy()
	_, derr := admission.Default(work)
	var verrs error
	if derr != nil {
		verrs = derr
	} else if _, errs := admission.Validate(work); len(errs) > 0 {
		verrs = admission.InvalidError(name, errs)
	}
	cfg, settings, serr := settingsOf(work)
	if verrs == nil {
		verrs = serr
	}
	var hw Hardware
	if verrs == nil {
		hw, verrs = DiscoverGPUs(ctx, c.Client, settings)
	}
	if verrs != nil {
		return c.fail(ctx, key, opts.Out, v1alpha1.ConditionValidation, ReasonValidationFailed, EventValidationFailed, verrs)
	}
	printf(opts.Out, "GPU discovery: %s", hw.Summary())
	hwCfg(cfg, hw)
	if j, err := cfg.JSON(); err == nil {
		work.Spec.ProfilingConfig.Config = j
		if s, errs := cfg.Settings(); len(errs) == 0 {
			settings = s
		}
	}

	cur, err := c.updateStatus(ctx, key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		if x.Status.State == "" || x.Status.State == v1alpha1.StateInitializing {
			x.Status.ObservedGeneration = x.Generation
		}
		x.Status.Backend = x.Spec.Backend
		x.Status.State = v1alpha1.StatePending
		c.setCondition(x, v1alpha1.ConditionValidation, metav1.ConditionTrue, ReasonValidated, "DGDR passed validation")
		return nil
	})
	if err != nil {
		return err
	}
	c.warnEvent(ctx, cur, opts.Out, corev1.EventTypeNormal, EventInitialized, "DGDR initialized successfully")

	// Pending → Profiling.
	if err := c.deleteOutput(ctx, cur); err != nil {
		return err
	}
	cur, err = c.updateStatus(ctx, key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		x.Status.State = v1alpha1.StateProfiling
		x.Status.GeneratedDeployment, x.Status.ProfilingResults = nil, ""
		c.setCondition(x, v1alpha1.ConditionProfiling, metav1.ConditionFalse, ReasonProfilingRunning, MsgProfilingRunning)
		return nil
	})
	if err != nil {
		return err
	}
	p, mode, timeout := opts.pick(c, settings)
	if p == nil {
		return c.fail(ctx, key, opts.Out, v1alpha1.ConditionProfiling, ReasonProfilingFailed, EventProfilingJobFailed,
			errors.New("online profiling (sweep.use_ai_configurator false) needs a connection to create Jobs; pass --simulate to use the estimator"))
	}
	event := "Profiling job created"
	if mode == "simulation" {
		event = "AIC profiling job created (simulation, run on the client by kubectl-dgdr)"
	}
	c.warnEvent(ctx, cur, opts.Out, corev1.EventTypeNormal, EventProfilingJobCreated, event)
	printf(opts.Out, "profiling %s/%s in %s mode (model %s, backend %s, system %s)", namespace, name, mode, d.Spec.Model, d.Spec.Backend, hw.System)

	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := p.Profile(pctx, work, settings, hw)
	if err == nil && r == nil {
		err = errors.New("the profiler returned no results")
	}
	if err != nil && ctx.Err() != nil && mode == "online" {
		// Interrupted (Ctrl-C): the Jobs are server-side and keep running;
		// the DGDR stays Profiling so that the next run re-attaches.
		return fmt.Errorf("interrupted: the profiling Jobs keep running; re-attach with `kubectl dgdr profile %s -n %s`, or stop them with --cancel", name, namespace)
	}
	if err != nil {
		reason := ReasonProfilingFailed
		if errors.Is(pctx.Err(), context.DeadlineExceeded) {
			reason = ReasonTimeout
			err = fmt.Errorf("profiling did not finish within %s: %w", timeout, err)
		}
		return c.fail(ctx, key, opts.Out, v1alpha1.ConditionProfiling, reason, EventProfilingCheckFailed, err)
	}

	// Profiling → Ready: generate, store, write back.
	in := output.Inputs{DGDR: work, Settings: settings, GPUsPerNode: hw.GPUsPerNode, Now: c.now()}
	if l, ok := p.(interface{ Log() []byte }); ok {
		in.Log = l.Log()
	}
	gen, err := c.storeOutputs(ctx, cur, r, in, hw)
	if err != nil {
		return c.fail(ctx, key, opts.Out, v1alpha1.ConditionSpecGenerated, ReasonGenerationFailed, EventGenerationFailed, err)
	}
	if opts.OutputDir != "" {
		files, err := output.Write(opts.OutputDir, r, in)
		if err != nil {
			printf(opts.Out, "Warning: writing local outputs to %s: %v", opts.OutputDir, err)
		} else {
			printf(opts.Out, "wrote %d files to %s", len(files), opts.OutputDir)
		}
	}
	if err := c.markProfiled(ctx, cur); err != nil {
		printf(opts.Out, "Warning: %v", err)
	}
	msg := MsgSpecGeneratedNoApply
	if d.Spec.AutoApply {
		msg = MsgSpecGeneratedApply
	}
	cur, err = c.updateStatus(ctx, key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		x.Status.State = v1alpha1.StateReady
		x.Status.ProfilingResults = "configmap/" + OutputConfigMapName(name)
		x.Status.GeneratedDeployment = gen
		c.setCondition(x, v1alpha1.ConditionProfiling, metav1.ConditionTrue, ReasonProfilingCompleted, "Profiling completed successfully ("+mode+")")
		c.setCondition(x, v1alpha1.ConditionSpecGenerated, metav1.ConditionTrue, ReasonSpecGenerated, msg)
		return nil
	})
	if err != nil {
		return err
	}
	c.warnEvent(ctx, cur, opts.Out, corev1.EventTypeNormal, EventSpecGenerated, MsgSpecGeneratedApply)
	printf(opts.Out, "%s", recommendation(r))
	printf(opts.Out, "dynamographdeploymentrequest.nvidia.com/%s profiled: state Ready, results in configmap/%s", name, OutputConfigMapName(name))
	if d.Spec.AutoApply {
		_, err := Apply(ctx, c, name, namespace, opts.Apply)
		return err
	}
	printf(opts.Out, "next: kubectl dgdr apply %s -n %s", name, namespace)
	return nil
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
func hwCfg(cfg *profileconfig.Config, hw Hardware) {
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

// storeOutputs renders config_with_planner.yaml, writes planner-profile-data
// (renamed on conflict) and dgdr-output-<name>, and returns the DGD for
// status.generatedDeployment.
func (c *Clients) storeOutputs(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, r *results.Results, in output.Inputs, hw Hardware) (*runtime.RawExtension, error) {
	cwp, err := output.ConfigWithPlanner(r, in)
	if err != nil {
		return nil, err
	}
	docs, err := splitConfigWithPlanner(cwp)
	if err != nil {
		return nil, err
	}
	var mocker *plannerDocs
	var mockerYAML []byte
	if d.Spec.UseMocker {
		if mockerYAML, err = output.MockerConfigWithPlanner(r, in); err != nil {
			return nil, err
		}
		if mocker, err = splitConfigWithPlanner(mockerYAML); err != nil {
			return nil, err
		}
	}
	if docs.configMap != nil {
		data, err := output.PlannerProfileData(r)
		if err != nil {
			return nil, err
		}
		target := targetNamespace(d)
		cmName, err := c.ensurePlannerConfigMap(ctx, d, target, data)
		if err != nil {
			c.warnEvent(ctx, d, nil, corev1.EventTypeWarning, EventConfigMapCreationFailed,
				"Failed to create ConfigMaps from profiling output: "+err.Error())
			return nil, err
		}
		if cmName != PlannerProfileData {
			for _, pd := range []*plannerDocs{docs, mocker} {
				if pd == nil {
					continue
				}
				renamePlannerVolume(pd.dgd, PlannerProfileData, cmName)
				if pd.configMap != nil {
					_ = setNested(pd.configMap, cmName, "metadata", "name")
				}
			}
			if cwp, err = joinDocs(docs.configMap, docs.dgd); err != nil {
				return nil, err
			}
			if mocker != nil {
				if mockerYAML, err = joinDocs(mocker.configMap, mocker.dgd); err != nil {
					return nil, err
				}
			}
		}
	}
	rj, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding results.json: %w", err)
	}
	hj, err := json.Marshal(hw)
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: OutputConfigMapName(d.Name), Namespace: d.Namespace,
			Labels:          map[string]string{v1alpha1.LabelDGDRName: d.Name, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{ownerRef(d)},
		},
		Data: map[string]string{KeyConfigWithPlanner: string(cwp), KeyResults: string(rj), KeyHardware: string(hj)},
	}
	if mocker != nil {
		cm.Data[KeyMockerConfigPlanner] = string(mockerYAML)
	}
	if err := c.createOrUpdateConfigMap(ctx, cm); err != nil {
		c.warnEvent(ctx, d, nil, corev1.EventTypeWarning, EventConfigMapCreationFailed,
			"Failed to create ConfigMaps from profiling output: "+err.Error())
		return nil, err
	}
	chosen := docs.dgd
	if mocker != nil {
		chosen = mocker.dgd
	}
	raw, err := json.Marshal(chosen)
	if err != nil {
		return nil, fmt.Errorf("encoding the generated DGD: %w", err)
	}
	return &runtime.RawExtension{Raw: raw}, nil
}

func setNested(m map[string]any, v any, path ...string) error {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", p)
		}
		m = next
	}
	m[path[len(path)-1]] = v
	return nil
}

// markProfiled records the hash of the profiled spec (D19).
func (c *Clients) markProfiled(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest) error {
	b, err := json.Marshal(d.Spec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationProfiledHash, hex.EncodeToString(sum[:8]))
	obj := &v1alpha1.DynamoGraphDeploymentRequest{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace}}
	if err := c.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch)), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("recording annotation %s: %w", v1alpha1.AnnotationProfiledHash, err)
	}
	return nil
}

// fail moves the DGDR to Failed with one False condition and a Warning
// event, and returns cause.
func (c *Clients) fail(ctx context.Context, key types.NamespacedName, out io.Writer, condType, reason, eventReason string, cause error) error {
	msg := cause.Error()
	cur, err := c.updateStatus(ctx, key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		x.Status.State = v1alpha1.StateFailed
		if x.Status.Backend == "" {
			x.Status.Backend = x.Spec.Backend
		}
		c.setCondition(x, condType, metav1.ConditionFalse, reason, msg)
		return nil
	})
	if err != nil {
		return errors.Join(cause, err)
	}
	c.warnEvent(ctx, cur, out, corev1.EventTypeWarning, eventReason, msg)
	return fmt.Errorf("DynamoGraphDeploymentRequest %s is now Failed (%s/%s): %w", key, condType, reason, cause)
}

// warnEvent records an event; a failure is only printed.
func (c *Clients) warnEvent(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, out io.Writer, typ, reason, msg string) {
	if err := c.event(ctx, d, typ, reason, msg); err != nil && !apierrors.IsNotFound(err) {
		printf(out, "Warning: %v", err)
	}
}

// failureDetail is the message of the first False condition.
func failureDetail(d *v1alpha1.DynamoGraphDeploymentRequest) string {
	for _, cond := range d.Status.Conditions {
		if cond.Status == metav1.ConditionFalse && cond.Type != v1alpha1.ConditionDeploymentReady {
			return cond.Type + ": " + cond.Message
		}
	}
	return ""
}

func targetNamespace(d *v1alpha1.DynamoGraphDeploymentRequest) string {
	if o := d.Spec.DeploymentOverrides; o != nil && o.Namespace != "" {
		return o.Namespace
	}
	return d.Namespace
}

// pick chooses the profiler: the caller's, the estimator in AI Configurator
// mode (or with Simulate), else Jobs on real engines.
func (o ProfileOptions) pick(c *Clients, s profileconfig.Settings) (Profiler, string, time.Duration) {
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
		return &Simulation{Now: c.now}, "simulation", timeout
	case o.Online != nil:
		if timeout == 0 {
			timeout = DefaultOnlineTimeout
		}
		on := *o.Online
		on.Now = c.now
		return &on, "online", timeout
	}
	return nil, "online", timeout
}
