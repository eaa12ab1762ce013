// Package profiler is the SLA profiler of profiler.md: plan the sweep,
// measure every candidate through a Measurer, select the prefill and decode
// engines, and measure the interpolation grids the SLA planner reads.
// It writes no files: the caller renders results.Results (pkg/output).
package profiler

import (
	"context"
	"fmt"
	"math"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Config is one profiling run, already validated and defaulted by admission.
type Config struct {
	Model    ModelInfo
	Hardware Hardware
	// Space holds the user's hardware.* values; zeros are derived (§4.1).
	Space SearchSpace
	SLA   profileconfig.SLA
	// MaxContextLength is engine.maxContextLength (0: the model's).
	MaxContextLength   int
	PrefillGranularity int
	DecodeGranularity  int
	// AICHeadRule adds AI Configurator's heads/TP >= 4 filter (simulation).
	AICHeadRule bool
	// DryRun plans and estimates, and measures nothing.
	DryRun bool
	// InterpolateAll also measures the grids of every swept mapping, so that
	// `profile --from` can re-select for a new SLA without measuring. Cheap
	// in simulation; an online run leaves it off.
	InterpolateAll bool
}

// ProgressFunc reports done of total steps (one per mapping measured).
type ProgressFunc func(done, total int, msg string)

// Profiler runs Config against a Measurer.
type Profiler struct {
	Measurer Measurer
	Log      *Logger
	Progress ProgressFunc
}

// Estimated online cost of one step, for the dry-run GPU-time figure: a
// deployment's start plus its measurements (AIPerf-like runs of §6.4/§7.4).
const (
	estDeploySeconds       = 300.0
	estPrefillPointSeconds = 15.0
	estDecodePointSeconds  = 30.0
)

func (c *Config) validate() error {
	sla := c.SLA
	switch {
	case sla.ISL < 1:
		return fmt.Errorf("spec.profilingConfig.config.sla.isl: %d must be a positive integer (tokens); set sla.isl (or --isl)", sla.ISL)
	case sla.OSL < 1:
		return fmt.Errorf("spec.profilingConfig.config.sla.osl: %d must be a positive integer (tokens); set sla.osl (or --osl)", sla.OSL)
	case !(sla.TTFT >= 0.01) || math.IsInf(sla.TTFT, 0):
		return fmt.Errorf("spec.profilingConfig.config.sla.ttft: %v must be a finite number of milliseconds >= 0.01; set sla.ttft (or --ttft)", sla.TTFT)
	case !(sla.ITL >= 0.01) || math.IsInf(sla.ITL, 0):
		return fmt.Errorf("spec.profilingConfig.config.sla.itl: %v must be a finite number of milliseconds >= 0.01; set sla.itl (or --itl)", sla.ITL)
	case c.PrefillGranularity < 1:
		return fmt.Errorf("spec.profilingConfig.config.sweep.prefillInterpolationGranularity: %d must be >= 1", c.PrefillGranularity)
	case c.DecodeGranularity < 2:
		return fmt.Errorf("spec.profilingConfig.config.sweep.decodeInterpolationGranularity: %d must be >= 2", c.DecodeGranularity)
	}
	return nil
}

// Run plans, measures, selects and interpolates. On a PhaseError the partial
// results (plan and points) come back with the error.
func (p *Profiler) Run(ctx context.Context, cfg Config) (*results.Results, error) {
	log := p.Log
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &results.Results{SchemaVersion: results.SchemaVersion}
	r.Versions.Measurer = p.Measurer.Name()
	r.Input.SLA = cfg.SLA
	r.Input.IsMoE = cfg.Model.IsMoE
	r.Input.System = cfg.Hardware.System
	r.Input.GPUMemMiB = cfg.Hardware.VRAMMiB
	log.Infof("Model %s has size %.1f, is_moe=%s, and max_context_length=%d%s", cfg.Model.Name, cfg.Model.SizeMiB,
		pyBool(cfg.Model.IsMoE), cfg.Model.MaxContext, moeSuffix(cfg.Model))

	space, err := ResolveSearchSpace(cfg.Space, cfg.Hardware, cfg.Model, log)
	if err != nil {
		return nil, err
	}
	r.Input.GPUsPerNode = space.GPUsPerNode
	plan, err := BuildPlan(space, cfg.Model, FilterOptions{AICHeadRule: cfg.AICHeadRule}, log)
	r.Plan = plan
	if err != nil {
		return nil, err
	}
	maxCtx, err := SweepContextLength(cfg.MaxContextLength, cfg.Model.MaxContext, log)
	if err != nil {
		return nil, err
	}
	r.Input.MaxContext = maxCtx
	if cfg.Model.MaxContext > 0 && cfg.SLA.ISL+cfg.SLA.OSL > int64(cfg.Model.MaxContext) {
		return nil, fmt.Errorf("spec.profilingConfig.config.sla: isl %d + osl %d = %d exceeds the model's maximum context length %d; lower sla.isl or sla.osl",
			cfg.SLA.ISL, cfg.SLA.OSL, cfg.SLA.ISL+cfg.SLA.OSL, cfg.Model.MaxContext)
	}
	prefillISLs, err := grid.PrefillISLs(maxCtx, cfg.PrefillGranularity)
	if err != nil {
		return nil, err
	}
	decodeISLs := grid.DecodeISLs(maxCtx, cfg.DecodeGranularity)
	estimatePlan(&r.Plan, cfg, len(prefillISLs), len(decodeISLs))
	if cfg.DryRun {
		log.Infof("Skipping recommendations in dry run mode")
		r.DryRun = true
		return r, nil
	}

	total := len(plan.PrefillMappings) + len(plan.DecodeMappings) + 2
	if cfg.InterpolateAll {
		total = 2 * (len(plan.PrefillMappings) + len(plan.DecodeMappings))
	}
	done := 0
	step := func(msg string) {
		done++
		if p.Progress != nil {
			p.Progress(done, total, msg)
		}
	}
	if p.Progress != nil {
		p.Progress(0, total, "planned "+PyInts(plan.GPUCounts)+" GPUs")
	}

	if pr, ok := p.Measurer.(Preparer); ok {
		if err := pr.PrepareSweep(ctx, r.Plan, cfg); err != nil {
			return r, err
		}
	}
	if err := p.sweepPrefill(ctx, r, cfg, step); err != nil {
		return r, err
	}
	if err := p.sweepDecode(ctx, r, cfg, step); err != nil {
		return r, err
	}
	if err := Select(r, log); err != nil {
		return r, err
	}
	if err := p.interpolate(ctx, r, cfg, maxCtx, prefillISLs, decodeISLs, step); err != nil {
		return r, err
	}
	r.Warnings = append(r.Warnings, slaWarnings(r)...)
	return r, nil
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func moeSuffix(m ModelInfo) string {
	if !m.IsMoE {
		return ""
	}
	return fmt.Sprintf(", num_experts=%d", m.NumExperts)
}

func slaWarnings(r *results.Results) []string {
	var w []string
	if c := r.Selection.Prefill; c != nil && !c.MeetsSLA {
		w = append(w, fmt.Sprintf("%s (best TTFT %.2f ms with %s, SLA %s ms)", MsgTTFTUnmet, c.LatencyMs, c.Mapping.Label(), fmtNum(r.Input.SLA.TTFT)))
	}
	if c := r.Selection.Decode; c != nil && !c.MeetsSLA {
		w = append(w, fmt.Sprintf("%s (best ITL %.2f ms with %s, SLA %s ms)", MsgITLUnmet, c.LatencyMs, c.Mapping.Label(), fmtNum(r.Input.SLA.ITL)))
	}
	return w
}

func fmtNum(v float64) string { return fmt.Sprint(v) }

// estimatePlan counts the measurement points and the GPU time an online run
// of this plan would take (simulation itself costs no GPU time).
func estimatePlan(plan *results.Plan, cfg Config, nPrefillISL, nDecodeISL int) {
	var gpuSec float64
	for _, m := range plan.PrefillMappings {
		plan.PrefillPoints++
		gpuSec += float64(m.N) * (estDeploySeconds + estPrefillPointSeconds)
	}
	for _, m := range plan.DecodeMappings {
		plan.DecodePoints += cfg.DecodeGranularity
		gpuSec += float64(m.N) * (estDeploySeconds + float64(cfg.DecodeGranularity)*estDecodePointSeconds)
	}
	// Interpolation on the chosen engines: assume the largest candidates.
	var pn, dn int
	for _, m := range plan.PrefillMappings {
		pn = max(pn, m.N)
	}
	for _, m := range plan.DecodeMappings {
		dn = max(dn, m.N)
	}
	plan.InterpolationPoints = nPrefillISL + nDecodeISL*cfg.DecodeGranularity
	gpuSec += float64(pn)*(estDeploySeconds+float64(nPrefillISL)*estPrefillPointSeconds) +
		float64(dn)*(estDeploySeconds+float64(nDecodeISL*cfg.DecodeGranularity)*estDecodePointSeconds)
	plan.EstimatedGPUHours = math.Round(gpuSec/3600*100) / 100
}

func (p *Profiler) sweepPrefill(ctx context.Context, r *results.Results, cfg Config, step func(string)) error {
	log := p.Log
	isl := int(cfg.SLA.ISL)
	log.Infof("Profiling prefill...")
	lastN := 0
	for _, m := range r.Plan.PrefillMappings {
		if m.N != lastN {
			log.Infof("Profiling prefill with %d GPUs...", m.N)
			lastN = m.N
		}
		ttft, err := p.Measurer.PrefillTTFT(ctx, m, isl)
		if s, ok := IsSkip(err); ok {
			log.Warnf("%s", s.Reason)
			step(fmt.Sprintf("prefill %s: skipped", m.Label()))
			continue
		}
		if err != nil {
			return fmt.Errorf("prefill %s at isl %d: %w", m.Label(), isl, err)
		}
		if !finite(ttft) || ttft <= 0 {
			log.Warnf("Failed to extract TTFT for %s: got %v", m.Label(), ttft)
			continue
		}
		thpt := PrefillThroughputPerGPU(isl, ttft, m)
		r.Prefill = append(r.Prefill, results.PrefillPoint{Mapping: m, ISL: isl, TTFTMs: ttft, ThptPerGPU: thpt})
		step(fmt.Sprintf("prefill %s: TTFT %.2f ms", m.Label(), ttft))
	}
	return nil
}

func (p *Profiler) sweepDecode(ctx context.Context, r *results.Results, cfg Config, step func(string)) error {
	log := p.Log
	isl, osl := int(cfg.SLA.ISL), int(cfg.SLA.OSL)
	log.Infof("Profiling decode...")
	lastN := 0
	for _, m := range r.Plan.DecodeMappings {
		if m.N != lastN {
			log.Infof("Profiling decode with %d GPUs...", m.N)
			lastN = m.N
		}
		kv, err := p.Measurer.MaxKVTokens(ctx, m)
		if s, ok := IsSkip(err); ok {
			log.Warnf("%s", s.Reason)
			step(fmt.Sprintf("decode %s: skipped", m.Label()))
			continue
		}
		if err != nil {
			return fmt.Errorf("decode %s: KV capacity: %w", m.Label(), err)
		}
		concs := grid.NumRequestRange(m.AttnDP, kv/(isl+osl), cfg.DecodeGranularity)
		log.Infof("Sweeping num_request range based on maximum number of kv tokens: %s", PyInts(concs))
		best := math.Inf(1)
		for _, n := range concs {
			d, err := p.Measurer.Decode(ctx, m, isl, osl, n)
			if err != nil {
				if s, ok := IsSkip(err); ok {
					log.Warnf("%s", s.Reason)
					break
				}
				return fmt.Errorf("decode %s at concurrency %d: %w", m.Label(), n, err)
			}
			if !d.valid() {
				log.Warnf("Failed to extract decode metrics for %s at concurrency %d: got ITL %v, throughput %v", m.Label(), n, d.ITLMs, d.ThptPerGPU)
				continue
			}
			r.Decode = append(r.Decode, results.DecodePoint{Mapping: m, Concurrency: n, ContextLength: float64(isl) + float64(osl)/2,
				ITLMs: d.ITLMs, ThptPerGPU: d.ThptPerGPU, MaxKVTokens: kv})
			best = math.Min(best, d.ITLMs)
		}
		if len(concs) == 0 {
			log.Warnf("max_kv_tokens %d is too small for isl %d + osl %d, skipping.", kv, isl, osl)
		}
		step(fmt.Sprintf("decode %s: %d points, best ITL %.2f ms", m.Label(), len(concs), best))
	}
	return nil
}

// interpolate measures the grids of §12.2/§12.3 on the selected engines
// (and, with InterpolateAll, on every other swept mapping, quietly).
func (p *Profiler) interpolate(ctx context.Context, r *results.Results, cfg Config, maxCtx int, prefillISLs, decodeISLs []int, step func(string)) error {
	log := p.Log
	bp, bd := r.Selection.Prefill.Mapping, r.Selection.Decode.Mapping
	if pr, ok := p.Measurer.(Preparer); ok {
		g := GridPlan{Config: cfg, PrefillMapping: []results.Mapping{bp}, DecodeMapping: []results.Mapping{bd},
			PrefillISLs: prefillISLs, DecodeISLs: decodeISLs, DecodeOSL: grid.DecodeInterpolationOSL}
		if cfg.InterpolateAll {
			g.PrefillMapping = append(g.PrefillMapping, otherMappings(r.Plan.PrefillMappings, bp, func(m results.Mapping) bool { return hasPrefill(r, m) })...)
			g.DecodeMapping = append(g.DecodeMapping, otherMappings(r.Plan.DecodeMappings, bd, func(m results.Mapping) bool { return hasDecode(r, m) })...)
		}
		if err := pr.PrepareGrids(ctx, g); err != nil {
			return err
		}
	}
	log.Infof("Profiling prefill under best %d GPU(s) with parallel mapping [%s] with different ISL...", bp.N, bp.Label())
	pi, err := p.prefillGrid(ctx, bp, prefillISLs)
	if err != nil {
		return err
	}
	log.Infof("Interpolating prefill TTFT and throughput vs ISL...")
	if len(pi.ISL) < MinPrefillInterpPoints {
		log.Warnf("Not enough data points to perform interpolation (need at least %d points)", MinPrefillInterpPoints)
	} else {
		r.PrefillInterpolation = pi
	}
	step(fmt.Sprintf("prefill grid %s: %d ISLs", bp.Label(), len(pi.ISL)))

	log.Infof("Profiling decode with %d GPUs with parallel mapping [%s]...", bd.N, bd.Label())
	di, err := p.decodeGrid(ctx, bd, decodeISLs, cfg.DecodeGranularity, log)
	if err != nil {
		return err
	}
	if len(di.ITLMs) == 0 {
		return fmt.Errorf("No decode interpolation points produced (max_kv_tokens=%d): the %s decode engine cannot hold one request of %d+%d tokens; raise hardware.minNumGpusPerEngine or use a GPU with more memory",
			di.MaxKVTokens, bd.Label(), grid.PrefillMinISL, grid.DecodeInterpolationOSL)
	}
	r.DecodeInterpolation = di
	step(fmt.Sprintf("decode grid %s: %d points", bd.Label(), len(di.ITLMs)))

	if !cfg.InterpolateAll {
		return nil
	}
	for _, m := range r.Plan.PrefillMappings {
		if m == bp || !hasPrefill(r, m) {
			continue
		}
		g, err := p.prefillGrid(ctx, m, prefillISLs)
		if err != nil {
			return err
		}
		if len(g.ISL) >= MinPrefillInterpPoints {
			r.PrefillGrids = append(r.PrefillGrids, results.PrefillGrid{Mapping: m, PrefillInterpolation: *g})
		}
		step(fmt.Sprintf("prefill grid %s", m.Label()))
	}
	for _, m := range r.Plan.DecodeMappings {
		if m == bd || !hasDecode(r, m) {
			continue
		}
		g, err := p.decodeGrid(ctx, m, decodeISLs, cfg.DecodeGranularity, nil)
		if err != nil {
			return err
		}
		if len(g.ITLMs) > 0 {
			r.DecodeGrids = append(r.DecodeGrids, results.DecodeGrid{Mapping: m, DecodeInterpolation: *g})
		}
		step(fmt.Sprintf("decode grid %s", m.Label()))
	}
	if r.PrefillInterpolation != nil {
		r.PrefillGrids = append(r.PrefillGrids, results.PrefillGrid{Mapping: bp, PrefillInterpolation: *r.PrefillInterpolation})
	}
	r.DecodeGrids = append(r.DecodeGrids, results.DecodeGrid{Mapping: bd, DecodeInterpolation: *di})
	return nil
}

func hasPrefill(r *results.Results, m results.Mapping) bool {
	for _, p := range r.Prefill {
		if p.Mapping == m {
			return true
		}
	}
	return false
}

func hasDecode(r *results.Results, m results.Mapping) bool {
	for _, d := range r.Decode {
		if d.Mapping == m {
			return true
		}
	}
	return false
}

func (p *Profiler) prefillGrid(ctx context.Context, m results.Mapping, isls []int) (*results.PrefillInterpolation, error) {
	out := &results.PrefillInterpolation{}
	for _, isl := range isls {
		ttft, err := p.Measurer.PrefillTTFT(ctx, m, isl)
		if _, ok := IsSkip(err); ok {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("prefill interpolation %s at isl %d: %w", m.Label(), isl, err)
		}
		if !finite(ttft) || ttft <= 0 {
			continue
		}
		out.ISL = append(out.ISL, float64(isl))
		out.TTFTMs = append(out.TTFTMs, ttft)
		out.ThptPerGPU = append(out.ThptPerGPU, PrefillThroughputPerGPU(isl, ttft, m))
	}
	return out, nil
}

func (p *Profiler) decodeGrid(ctx context.Context, m results.Mapping, isls []int, g int, log *Logger) (*results.DecodeInterpolation, error) {
	kv, err := p.Measurer.MaxKVTokens(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("decode interpolation %s: KV capacity: %w", m.Label(), err)
	}
	out := &results.DecodeInterpolation{MaxKVTokens: kv}
	const osl = grid.DecodeInterpolationOSL
	for _, isl := range isls {
		maxConc := kv / (isl + osl)
		if maxConc == 0 {
			log.Warnf("max_kv_tokens %d is too small for isl %d + osl %d, skipping.", kv, isl, osl)
			break
		}
		for _, n := range grid.NumRequestRange(m.AttnDP, maxConc, g) {
			d, err := p.Measurer.Decode(ctx, m, isl, osl, n)
			if _, ok := IsSkip(err); ok {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("decode interpolation %s at isl %d, concurrency %d: %w", m.Label(), isl, n, err)
			}
			if !d.valid() {
				continue
			}
			ctxLen := float64(isl) + float64(osl)/2
			out.KVUsage = append(out.KVUsage, ctxLen*float64(n)/float64(kv))
			out.ContextLength = append(out.ContextLength, ctxLen)
			out.ITLMs = append(out.ITLMs, d.ITLMs)
			out.ThptPerGPU = append(out.ThptPerGPU, d.ThptPerGPU)
		}
	}
	return out, nil
}

func otherMappings(all []results.Mapping, best results.Mapping, measured func(results.Mapping) bool) []results.Mapping {
	var out []results.Mapping
	for _, m := range all {
		if m != best && measured(m) {
			out = append(out, m)
		}
	}
	return out
}
