package admission

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// plan is what the hardware, AI Configurator and feasibility rules share:
// the resolved model and system and the GPU counts as written.
type plan struct {
	aic bool // sweep.useAiConfigurator / use_ai_configurator is true

	model     *estimator.Model
	modelID   string
	modelErr  *field.Error // AI Configurator mode only
	system    *estimator.System
	systemErr *field.Error // unknown or (AI Configurator mode) missing

	min, max, gpn          int64
	hasMin, hasMax, hasGPN bool // present with a valid value
	maxPresent             bool // present at all (even with a bad value)
	countErrs              field.ErrorList
	moe                    bool
}

// gpusPerNode is the node size the rules use: the config's, else the
// system's, else the profiler's fallback of 8.
func (p *plan) gpusPerNode() int64 {
	switch {
	case p.hasGPN:
		return p.gpn
	case p.system != nil && p.system.GPUsPerNode > 0:
		return int64(p.system.GPUsPerNode)
	}
	return DefaultGPUsPerNode
}

// maxRecommended is one node for dense models and four nodes for MoE
// (profiler.md §4.1): dense TP above a node is skipped by the planner.
func (p *plan) maxRecommended() int64 {
	if p.moe {
		return MoEMaxNodes * p.gpusPerNode()
	}
	return p.gpusPerNode()
}

// readPlan reads the hardware keys and resolves the model and the system.
func readPlan(dgdr *v1alpha1.DynamoGraphDeploymentRequest, c *pc.Config) *plan {
	p := &plan{}
	p.aic, _, _ = c.Bool(pc.KeySweepUseAIC)

	count := func(k pc.Key) (int64, bool) {
		x, ok, e := c.Int(k)
		if e != nil {
			p.countErrs = append(p.countErrs, e)
			return 0, false
		}
		if !ok {
			return 0, false
		}
		_, sp, _ := c.Lookup(k)
		switch {
		case x < 1:
			p.countErrs = append(p.countErrs, field.Invalid(k.Path(sp), x, fmt.Sprintf(
				"%s must be an integer of at least 1; set %s to 1 or more, or remove it to let the profiler derive it from the model and GPU", k.String(), sp)))
			return x, false
		case x > MaxGPUCount:
			p.countErrs = append(p.countErrs, field.Invalid(k.Path(sp), x, fmt.Sprintf(
				"%s (%d) is above %d GPUs; set %s to the GPUs you really have", k.String(), x, MaxGPUCount, sp)))
			return x, false
		}
		return x, true
	}
	p.min, p.hasMin = count(pc.KeyHardwareMinGPUs)
	p.max, p.hasMax = count(pc.KeyHardwareMaxGPUs)
	p.gpn, p.hasGPN = count(pc.KeyHardwareGPUsPerNode)
	_, _, p.maxPresent = c.Lookup(pc.KeyHardwareMaxGPUs)

	// The system: sweep.aicSystem, aic.system, then hardware.system.
	for _, k := range []pc.Key{pc.KeySweepAICSystem, pc.KeyAICSystem, pc.KeyHardwareSystem} {
		name, ok, e := c.String(k)
		if e != nil || !ok || strings.TrimSpace(name) == "" {
			continue
		}
		_, sp, _ := c.Lookup(k)
		s, err := estimator.LookupSystem(name)
		if err != nil {
			p.systemErr = field.NotSupported(k.Path(sp), name, estimator.Systems())
			p.systemErr.Detail = fmt.Sprintf("%s %q is not a system the estimator knows; set %s to one of %s",
				k.String(), name, sp, strings.Join(estimator.Systems(), ", "))
		} else {
			p.system = s
		}
		break
	}
	if p.aic && p.system == nil && p.systemErr == nil {
		sec, _ := c.SectionMap("sweep")
		sp := pc.SpellingIn(pc.KeySweepAICSystem, sec)
		p.systemErr = field.Required(pc.KeySweepAICSystem.Path(sp), fmt.Sprintf(
			"AI Configurator mode (sweep.use_ai_configurator: true) needs a GPU system; set spec.profilingConfig.config.sweep.%s (or aic.system) to one of %s",
			sp, strings.Join(estimator.Systems(), ", ")))
	}

	p.resolveModel(dgdr, c)
	if p.model != nil {
		p.moe = p.model.IsMoE()
	} else if b, ok, _ := c.Bool(pc.KeyEngineIsMoE); ok {
		p.moe = b
	}
	return p
}

// resolveModel finds the model: in AI Configurator mode by sweep.aic_hf_id,
// spec.model or an AI Configurator model name; otherwise by spec.model only.
func (p *plan) resolveModel(dgdr *v1alpha1.DynamoGraphDeploymentRequest, c *pc.Config) {
	if len(dgdr.Spec.Model) > MaxModelLen {
		return // refused by spec(); not worth a catalog lookup
	}
	if !p.aic {
		if m, err := estimator.LookupModel(dgdr.Spec.Model); err == nil {
			p.model, p.modelID = m, dgdr.Spec.Model
		}
		return
	}
	const fix = "set spec.profilingConfig.config.sweep.aic_hf_id to a Hugging Face id the estimator knows (e.g. Qwen/Qwen3-32B) " +
		"or aic.model_name to an AI Configurator model name (e.g. QWEN3_32B), or set sweep.use_ai_configurator: false to profile on real engines"
	if id, ok, e := c.String(pc.KeySweepAICHfID); e == nil && ok && id != "" {
		if m, err := estimator.LookupModel(id); err == nil {
			p.model, p.modelID = m, id
			return
		}
		_, sp, _ := c.Lookup(pc.KeySweepAICHfID)
		p.modelErr = field.Invalid(pc.KeySweepAICHfID.Path(sp), id, fmt.Sprintf(
			"AI Configurator mode: model %q is not in the estimator's catalog; %s", id, fix))
		return
	}
	if m, err := estimator.LookupModel(dgdr.Spec.Model); err == nil {
		p.model, p.modelID = m, dgdr.Spec.Model
		return
	}
	var namePath *field.Path
	var names []string
	for _, k := range []pc.Key{pc.KeySweepAICModelName, pc.KeyAICModelName} {
		name, ok, e := c.String(k)
		if e != nil || !ok || name == "" {
			continue
		}
		if m, err := estimator.LookupModel(name); err == nil {
			p.model, p.modelID = m, name
			return
		}
		if namePath == nil {
			_, sp, _ := c.Lookup(k)
			namePath = k.Path(sp)
		}
		names = append(names, name)
	}
	if namePath != nil {
		p.modelErr = field.Invalid(namePath, names[0], fmt.Sprintf(
			"AI Configurator mode: neither spec.model %q nor the AI Configurator model name %q is in the estimator's catalog; %s",
			dgdr.Spec.Model, names[0], fix))
		return
	}
	if strings.TrimSpace(dgdr.Spec.Model) != "" {
		p.modelErr = field.Invalid(specPath.Child("model"), dgdr.Spec.Model, fmt.Sprintf(
			"AI Configurator mode: model %q is not in the estimator's catalog; %s", dgdr.Spec.Model, fix))
	}
}

// sweptCounts are the powers of two in [lo, hi], as the profiler sweeps them.
func sweptCounts(lo, hi int64) []int64 {
	var out []int64
	for n := int64(1); n <= hi && n <= MaxGPUCount; n *= 2 {
		if n >= lo {
			out = append(out, n)
		}
	}
	return out
}

// aicMaxTP is the largest power of two TP that AI Configurator accepts for
// the heads, at most limit.
func aicMaxTP(heads int, limit int64) int64 {
	best := int64(0)
	for n := int64(1); n <= limit && n <= MaxGPUCount; n *= 2 {
		if estimator.AICCheckTP(heads, int(n)) == nil {
			best = n
		}
	}
	return best
}

// hardwareAndModel runs the rules that need the GPU counts, the model or the
// system: E5, E14, E15 (counts, MoE, context) and W9, W10.
func (v *validator) hardwareAndModel(bad map[string]bool) {
	if bad["hardware"] {
		return
	}
	p := readPlan(v.dgdr, v.cfg)
	v.errs = append(v.errs, p.countErrs...)
	c := v.cfg
	hw, _ := c.SectionMap("hardware")
	minSp, maxSp, gpnSp := pc.SpellingIn(pc.KeyHardwareMinGPUs, hw), pc.SpellingIn(pc.KeyHardwareMaxGPUs, hw), pc.SpellingIn(pc.KeyHardwareGPUsPerNode, hw)
	if _, sp, ok := c.Lookup(pc.KeyHardwareMinGPUs); ok {
		minSp = sp
	}
	if _, sp, ok := c.Lookup(pc.KeyHardwareMaxGPUs); ok {
		maxSp = sp
	}
	hwPath := pc.BasePath.Child("hardware")

	if p.hasMin && p.hasMax {
		if p.min > p.max {
			v.err(field.Invalid(hwPath.Child(minSp), p.min, fmt.Sprintf(
				"invalid GPU range: minNumGpusPerEngine (%v) cannot be greater than maxNumGpusPerEngine (%v); lower hardware.%s or raise hardware.%s",
				p.min, p.max, minSp, maxSp)))
		} else if len(sweptCounts(p.min, p.max)) == 0 {
			v.err(field.Invalid(hwPath.Child(maxSp), p.max, fmt.Sprintf(
				"no power-of-two GPU count in [%d, %d], and the profiler sweeps only powers of two; widen the range, e.g. set hardware.%s to %d",
				p.min, p.max, maxSp, nextPow2(p.max))))
		}
	}
	if p.moe && !p.hasGPN && !hasKey(c, pc.KeyHardwareGPUsPerNode) {
		// Upstream fills it from GPU discovery, else assumes 8 (search_space_autogen.py).
		v.warn("spec.profilingConfig.config.hardware.%s is not set for the MoE model %s: profiling in the cluster takes it from the GPU nodes, "+
			"profiling without a cluster assumes %d GPUs per node; set spec.profilingConfig.config.hardware.%s to size multi-node engines yourself",
			gpnSp, v.dgdr.Spec.Model, DefaultGPUsPerNode, gpnSp)
	}
	if p.hasMax && p.max > p.maxRecommended() {
		if p.moe {
			v.warn("spec.profilingConfig.config.hardware.%s (%d) is above four nodes (%d GPUs at %d per node) for a MoE model; the recommended maximum is %d",
				maxSp, p.max, p.maxRecommended(), p.gpusPerNode(), p.maxRecommended())
		} else {
			v.warn("spec.profilingConfig.config.hardware.%s (%d) is above one node (%d GPUs) for a dense model: TP engines above a node are skipped; the recommended maximum is %d",
				maxSp, p.max, p.gpusPerNode(), p.maxRecommended())
		}
	}

	switch {
	case p.system != nil || p.systemErr == nil:
	case p.aic && p.systemErr.Type == field.ErrorTypeRequired && v.rules.hub:
		// v1beta1 leaves the GPU to discovery.
		v.warn("spec.profilingConfig.config.hardware.system is not set: profiling in the cluster takes the GPU from the nodes, " +
			"profiling without a cluster takes --system")
	case p.aic:
		v.err(p.systemErr)
	default:
		v.warn("%s: %s; the SLA feasibility check is skipped", p.systemErr.Field, p.systemErr.Detail)
	}
	if p.modelErr != nil && v.rules.hub {
		// Upstream's rapid search falls back to a simple configuration for
		// models AI Configurator does not know: admit, and say what works.
		v.warn("model %q is not in the estimator's catalog: rapid profiling needs its architecture; "+
			"profile it with `kubectl dgdr profile --local -f FILE --model-config config.json`, or set spec.searchStrategy: thorough to measure it on GPUs",
			v.dgdr.Spec.Model)
	} else {
		v.err(p.modelErr)
	}

	sla, slaOK := v.slaValues()
	if p.model != nil && slaOK && p.model.MaxContext > 0 && sla.ISL+sla.OSL > int64(p.model.MaxContext) {
		v.err(field.Invalid(pc.BasePath.Child("sla", "isl"), sla.ISL, fmt.Sprintf(
			"sla.isl + sla.osl (%d + %d = %d tokens) exceeds the max context of %s (%d tokens); lower sla.isl or sla.osl so that their sum is at most %d",
			sla.ISL, sla.OSL, sla.ISL+sla.OSL, p.modelID, p.model.MaxContext, p.model.MaxContext)))
	}

	if p.aic && p.model != nil && p.model.Heads > 0 {
		v.aicHeads(p, minSp, maxSp)
	}
	if p.model != nil && p.system != nil && slaOK && len(v.errs) == 0 {
		v.warns = append(v.warns, feasibility(p, v.dgdr.Spec.Backend, sla)...)
	}
}

// aicHeads is E14's head rule: every swept TP divides the heads, heads/TP >= 4.
// Without a maximum the mutating step fills the largest allowed TP (Default),
// so the validator alone refuses only a minimum above every allowed TP: the
// result is the same with or without the mutating step.
func (v *validator) aicHeads(p *plan, minSp, maxSp string) {
	lo := int64(1)
	if p.hasMin {
		lo = p.min
	}
	hi := p.max
	if !p.hasMax {
		if aicMaxTP(p.model.Heads, p.maxRecommended()) >= lo {
			return
		}
		hi = max(lo, p.maxRecommended())
	}
	for _, n := range sweptCounts(lo, hi) {
		err := estimator.AICCheckTP(p.model.Heads, int(n))
		if err == nil {
			continue
		}
		hwPath := pc.BasePath.Child("hardware")
		if best := aicMaxTP(p.model.Heads, hi); p.hasMax && best >= lo && best > 0 {
			v.err(field.Invalid(hwPath.Child(maxSp), p.max, fmt.Sprintf(
				"%v; set spec.profilingConfig.config.hardware.%s to %d", err, maxSp, best)))
		} else {
			v.err(field.Invalid(hwPath.Child(minSp), lo, fmt.Sprintf(
				"%v; set spec.profilingConfig.config.hardware.%s to 1 and hardware.%s to %d",
				err, minSp, maxSp, max(aicMaxTP(p.model.Heads, MaxGPUCount), 1))))
		}
		return
	}
}

func hasKey(c *pc.Config, k pc.Key) bool {
	_, _, ok := c.Lookup(k)
	return ok
}

func nextPow2(x int64) int64 {
	n := int64(1)
	for n < x && n < MaxGPUCount {
		n *= 2
	}
	return n
}

// slaValues returns the SLA when all four values are valid.
func (v *validator) slaValues() (pc.SLA, bool) {
	c := v.cfg
	isl, ok1, e1 := c.Int(pc.KeySLAISL)
	osl, ok2, e2 := c.Int(pc.KeySLAOSL)
	ttft, ok3, e3 := c.Float(pc.KeySLATTFT)
	itl, ok4, e4 := c.Float(pc.KeySLAITL)
	ok := ok1 && ok2 && ok3 && ok4 && e1 == nil && e2 == nil && e3 == nil && e4 == nil &&
		isl > 0 && osl > 0 && ttft >= MinLatencyMs && itl >= MinLatencyMs && isl <= MaxSequenceTokens && osl <= MaxSequenceTokens
	return pc.SLA{ISL: isl, OSL: osl, TTFT: ttft, ITL: itl}, ok
}
