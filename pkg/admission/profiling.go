package admission

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/images"
	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// The values of sla.optimizationType.
const (
	OptimizeLatency    = "latency"
	OptimizeThroughput = "throughput"
)

// SLADefaults are the workload and targets profiling uses for what a
// request leaves out.
type SLADefaults struct {
	ISL, OSL  int64
	TTFT, ITL float64
	Source    string // for the warning
}

// The defaults of each version: v1alpha1 profiles with profiler_argparse.py's,
// v1beta1 with its CRD (isl, osl) and profiler (ttft, itl) defaults.
var (
	V1alpha1SLADefaults = SLADefaults{ISL: 3000, OSL: 500, TTFT: 50, ITL: 10, Source: "the profiler's defaults"}
	V1beta1SLADefaults  = SLADefaults{ISL: 4000, OSL: 1000, TTFT: 2000, ITL: 30, Source: "v1beta1's defaults"}
)

// Targets used for optimizationType alone: throughput takes any latency,
// latency asks for one nothing reaches, so the lowest latency is chosen.
const (
	unboundedLatencyMs = 1e9
	lowestLatencyMs    = MinLatencyMs
	// e2eTTFTShare splits an end-to-end target: TTFT = e2eTTFTShare × ITL.
	e2eTTFTShare = 10
)

// ProfilingOptions say how ForProfiling fills what the request leaves out.
type ProfilingOptions struct {
	SLA SLADefaults
	// Local: no GPU discovery will size the nodes (profile --local).
	Local bool
	// Paths turns v1alpha1 field paths into the ones the user wrote (v1beta1).
	Paths func(string) string
}

// ForProfiling completes a defaulted, valid DGDR for a profile, in place on
// the copy being profiled (never the stored object): spec.backend auto is
// resolved, the SLA targets it leaves out take the version's defaults (an
// end-to-end target or an optimization type become TTFT and ITL targets),
// and, without a cluster, a MoE model's missing GPUs per node become
// upstream's 8. Each change comes back as a warning.
func ForProfiling(d *v1alpha1.DynamoGraphDeploymentRequest, o ProfilingOptions) (warnings []string, err error) {
	if o.Paths == nil {
		o.Paths = func(s string) string { return s }
	}
	cfg, perr := pc.FromJSON(d.Spec.ProfilingConfig.Config)
	if perr != nil {
		return nil, InvalidError(d.Name, field.ErrorList{field.Invalid(pc.BasePath, "", "failed to parse spec.profilingConfig.config: "+perr.Error())})
	}
	warn := func(format string, args ...any) { warnings = append(warnings, o.Paths(fmt.Sprintf(format, args...))) }
	set := func(k pc.Key, v any) error {
		if err := cfg.Set(k, v); err != nil {
			return InvalidError(d.Name, field.ErrorList{field.InternalError(k.Path(k.Camel), err)})
		}
		return nil
	}

	if d.Spec.Backend == v1alpha1.BackendAuto || d.Spec.Backend == "" {
		b, why := ResolveBackend(d)
		d.Spec.Backend = b
		if err := set(pc.KeyEngineBackend, b); err != nil {
			return nil, err
		}
		warn("spec.backend auto: profiling with %s (%s)", b, why)
	}

	if err := fillSLA(cfg, o, warn, set); err != nil {
		return nil, err
	}

	if o.Local {
		if m, err := estimator.LookupModel(d.Spec.Model); err == nil && m.IsMoE() && !hasKey(cfg, pc.KeyHardwareGPUsPerNode) {
			if err := set(pc.KeyHardwareGPUsPerNode, json.Number(fmt.Sprint(DefaultGPUsPerNode))); err != nil {
				return nil, err
			}
			warn("spec.profilingConfig.config.hardware.num_gpus_per_node is not set for the MoE model %s and no GPU discovery runs: "+
				"assuming %d GPUs per node (upstream's default); set hardware.num_gpus_per_node to the GPUs of your nodes", d.Spec.Model, DefaultGPUsPerNode)
		}
	}

	j, jerr := cfg.JSON()
	if jerr != nil {
		return nil, InvalidError(d.Name, field.ErrorList{field.InternalError(pc.BasePath, jerr)})
	}
	d.Spec.ProfilingConfig.Config = j
	return warnings, nil
}

// fillSLA completes the sla block.
func fillSLA(cfg *pc.Config, o ProfilingOptions, warn func(string, ...any), set func(pc.Key, any) error) error {
	// A value that is there but malformed (ttft: 200ms) counts as given:
	// validation reports it, a default must not replace it.
	num := func(k pc.Key) (float64, bool) {
		x, ok, _ := cfg.Float(k)
		return x, ok
	}
	_, hasISL := num(pc.KeySLAISL)
	osl, hasOSL := num(pc.KeySLAOSL)
	_, hasTTFT := num(pc.KeySLATTFT)
	_, hasITL := num(pc.KeySLAITL)
	var filled []string
	if !hasISL {
		filled = append(filled, fmt.Sprintf("isl %d", o.SLA.ISL))
		if err := set(pc.KeySLAISL, json.Number(fmt.Sprint(o.SLA.ISL))); err != nil {
			return err
		}
	}
	if !hasOSL {
		osl = float64(o.SLA.OSL)
		filled = append(filled, fmt.Sprintf("osl %d", o.SLA.OSL))
		if err := set(pc.KeySLAOSL, json.Number(fmt.Sprint(o.SLA.OSL))); err != nil {
			return err
		}
	}
	ttft, itl := 0.0, 0.0
	e2e, hasE2E := num(pc.KeySLAE2E)
	opt, _, _ := cfg.String(pc.KeySLAOptimize)
	switch {
	case hasTTFT && hasITL:
	case hasE2E:
		// E2E = TTFT + (OSL-1)·ITL, split with TTFT = e2eTTFTShare·ITL.
		itl = e2e / (osl - 1 + e2eTTFTShare)
		ttft = e2eTTFTShare * itl
		warn("spec.profilingConfig.config.sla.e2eLatency %g ms: profiling targets ttft %.4g ms and itl %.4g ms "+
			"(TTFT + (OSL-1) × ITL = %g ms with TTFT = %d × ITL); set sla.ttft and sla.itl instead to choose the split", e2e, ttft, itl, e2e, e2eTTFTShare)
	case opt == OptimizeThroughput:
		ttft, itl = unboundedLatencyMs, unboundedLatencyMs
		warn("spec.profilingConfig.config.sla.optimizationType throughput: profiling picks the highest throughput per GPU with no latency target")
	case opt == OptimizeLatency:
		ttft, itl = lowestLatencyMs, lowestLatencyMs
		warn("spec.profilingConfig.config.sla.optimizationType latency: profiling picks the lowest latency (targets of %g ms, which the profiler reports as not met)", lowestLatencyMs)
	default:
		if !hasTTFT {
			ttft = o.SLA.TTFT
			filled = append(filled, fmt.Sprintf("ttft %g ms", o.SLA.TTFT))
		}
		if !hasITL {
			itl = o.SLA.ITL
			filled = append(filled, fmt.Sprintf("itl %g ms", o.SLA.ITL))
		}
	}
	if !hasTTFT && ttft > 0 {
		if err := set(pc.KeySLATTFT, json.Number(fmt.Sprint(ttft))); err != nil {
			return err
		}
	}
	if !hasITL && itl > 0 {
		if err := set(pc.KeySLAITL, json.Number(fmt.Sprint(itl))); err != nil {
			return err
		}
	}
	if len(filled) > 0 {
		warn("spec.profilingConfig.config.sla: profiling with %s (%s) for what the request leaves out", strings.Join(filled, ", "), o.SLA.Source)
	}
	// The targets now say everything: the alternatives are answered.
	if sec, _ := cfg.SectionMap("sla"); sec != nil {
		delete(sec, pc.KeySLAE2E.Camel)
		delete(sec, pc.KeySLAOptimize.Camel)
	}
	return nil
}

// ResolveBackend picks the backend of a request with spec.backend auto, and
// says why: the runtime image it names (workers first, then the profiler),
// else the config's engine.backend, else vLLM, the profiler's default.
func ResolveBackend(d *v1alpha1.DynamoGraphDeploymentRequest) (backend, reason string) {
	var refs []struct{ field, image string }
	if o := d.Spec.DeploymentOverrides; o != nil && o.WorkersImage != "" {
		refs = append(refs, struct{ field, image string }{"spec.deploymentOverrides.workersImage", o.WorkersImage})
	}
	refs = append(refs, struct{ field, image string }{"spec.profilingConfig.profilerImage", d.Spec.ProfilingConfig.ProfilerImage})
	for _, im := range refs {
		repo := im.image
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		repo = repo[strings.LastIndex(repo, "/")+1:]
		if b := images.BackendOf(repo); b != "" {
			return b, fmt.Sprintf("%s %s is the %s runtime", im.field, im.image, b)
		}
	}
	if cfg, err := pc.FromJSON(d.Spec.ProfilingConfig.Config); err == nil {
		if b, ok, _ := cfg.String(pc.KeyEngineBackend); ok {
			switch b {
			case v1alpha1.BackendVLLM, v1alpha1.BackendSGLang, v1alpha1.BackendTRTLLM:
				return b, "spec.profilingConfig.config.engine.backend names it"
			}
		}
	}
	return v1alpha1.BackendVLLM, "no runtime image or engine.backend names one; vllm is the profiler's default"
}
