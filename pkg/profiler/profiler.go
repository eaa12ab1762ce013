// Package profiler is the SLA profiler of profiler.md: plan the sweep,
// measure every candidate through a Measurer, select the prefill and decode
// engines, and measure the interpolation grids the SLA planner reads.
// It writes no files: the caller renders results.Results (pkg/output).
package profiler

import (
	"context"
	"fmt"
	"math"
	"slices"

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
	// Selection is the rule: results.RuleFrontier ("" means it) searches
	// every mapping's SLA frontier and concentrates the planner's grids
	// around the SLA; results.RuleUpstream is Dynamo's rule on the coarse
	// sweep, with upstream's grids, for comparing with Dynamo.
	Selection string
}

// Frontier reports whether the run searches the SLA frontier.
func (c *Config) Frontier() bool { return c.Selection != results.RuleUpstream }

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
	case c.Selection != "" && c.Selection != results.RuleFrontier && c.Selection != results.RuleUpstream:
		return fmt.Errorf("--selection %q is not a selection rule; use %s (the highest throughput per GPU at each mapping's SLA frontier) or %s (Dynamo's rule on the coarse sweep)",
			c.Selection, results.RuleFrontier, results.RuleUpstream)
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
	r.Plan.MaxISL = maxCtx - grid.PrefillContextHeadroom
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
	if cfg.Frontier() {
		total++
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
	if cfg.Frontier() {
		if err := p.searchFrontier(ctx, r, cfg); err != nil {
			return r, err
		}
		step(fmt.Sprintf("SLA frontier: %d decode points", frontierPoints(r)))
	}
	if err := Select(r, log); err != nil {
		return r, err
	}
	if err := p.interpolate(ctx, r, cfg, maxCtx, prefillISLs, decodeISLs, step); err != nil {
		return r, err
	}
	r.Warnings = append(r.Warnings, slaWarnings(r)...)
	for _, w := range frontierWarnings(r) {
		log.Warnf("%s", w)
		r.Warnings = append(r.Warnings, w)
	}
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

func frontierPoints(r *results.Results) int {
	n := 0
	for _, d := range r.Decode {
		if d.Frontier {
			n++
		}
	}
	return n
}

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
	if cfg.Frontier() {
		// The frontier search: up to grid.DefaultProbes more points in each
		// sweep Job (its engine is up: no new Job), then the grids' rows near
		// the SLA, one Job each: two decode rows of the coarse concurrencies
		// plus up to 8 around the crossing, and two prefill ISLs.
		for _, m := range plan.PrefillMappings {
			plan.FrontierPoints += grid.DefaultProbes
			gpuSec += float64(m.N) * grid.DefaultProbes * estPrefillPointSeconds
		}
		for _, m := range plan.DecodeMappings {
			plan.FrontierPoints += grid.DefaultProbes
			gpuSec += float64(m.N) * grid.DefaultProbes * estDecodePointSeconds
		}
		const decodeRows, prefillISLs, crossingPoints = 2, 2, 8
		plan.FrontierGridJobs = decodeRows + prefillISLs
		plan.InterpolationPoints += prefillISLs + decodeRows*(cfg.DecodeGranularity+crossingPoints)
		gpuSec += float64(pn)*prefillISLs*(estDeploySeconds+estPrefillPointSeconds) +
			float64(dn)*decodeRows*(estDeploySeconds+float64(cfg.DecodeGranularity+crossingPoints)*estDecodePointSeconds)
	}
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
	g := gridPlan(r, cfg, maxCtx, prefillISLs, decodeISLs)
	if pr, ok := p.Measurer.(Preparer); ok {
		if err := pr.PrepareGrids(ctx, g); err != nil {
			return err
		}
	}
	bp, bd := g.Prefill[0].Mapping, g.Decode[0].Mapping
	log.Infof("Profiling prefill under best %d GPU(s) with parallel mapping [%s] with different ISL...", bp.N, bp.Label())
	pi, err := p.prefillGrid(ctx, bp, g.Prefill[0].ISLs)
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
	di, err := p.decodeGrid(ctx, bd, g.Decode[0].Rows, cfg.DecodeGranularity, log)
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
	for _, pg := range g.Prefill[1:] {
		gr, err := p.prefillGrid(ctx, pg.Mapping, pg.ISLs)
		if err != nil {
			return err
		}
		if len(gr.ISL) >= MinPrefillInterpPoints {
			r.PrefillGrids = append(r.PrefillGrids, results.PrefillGrid{Mapping: pg.Mapping, PrefillInterpolation: *gr})
		}
		step(fmt.Sprintf("prefill grid %s", pg.Mapping.Label()))
	}
	for _, dg := range g.Decode[1:] {
		gr, err := p.decodeGrid(ctx, dg.Mapping, dg.Rows, cfg.DecodeGranularity, nil)
		if err != nil {
			return err
		}
		if len(gr.ITLMs) > 0 {
			r.DecodeGrids = append(r.DecodeGrids, results.DecodeGrid{Mapping: dg.Mapping, DecodeInterpolation: *gr})
		}
		step(fmt.Sprintf("decode grid %s", dg.Mapping.Label()))
	}
	if r.PrefillInterpolation != nil {
		r.PrefillGrids = append(r.PrefillGrids, results.PrefillGrid{Mapping: bp, PrefillInterpolation: *r.PrefillInterpolation})
	}
	r.DecodeGrids = append(r.DecodeGrids, results.DecodeGrid{Mapping: bd, DecodeInterpolation: *di})
	return nil
}

// gridPlan lays out the grids to measure: the selected engines first, then
// with InterpolateAll every other measured mapping; with the frontier rule
// each grid is concentrated around that mapping's SLA crossing.
func gridPlan(r *results.Results, cfg Config, maxCtx int, prefillISLs, decodeISLs []int) GridPlan {
	bp, bd := r.Selection.Prefill.Mapping, r.Selection.Decode.Mapping
	pm, dm := []results.Mapping{bp}, []results.Mapping{bd}
	if cfg.InterpolateAll {
		pm = append(pm, otherMappings(r.Plan.PrefillMappings, bp, func(m results.Mapping) bool { return hasPrefill(r, m) })...)
		dm = append(dm, otherMappings(r.Plan.DecodeMappings, bd, func(m results.Mapping) bool { return hasDecode(r, m) })...)
	}
	g := GridPlan{Config: cfg, DecodeOSL: grid.DecodeInterpolationOSL}
	for _, m := range pm {
		isls := prefillISLs
		if cfg.Frontier() {
			isls = concentratePrefillISLs(prefillISLs, int(cfg.SLA.ISL), r.PrefillFrontierOf(m))
		}
		g.Prefill = append(g.Prefill, PrefillGridPlan{Mapping: m, ISLs: isls})
	}
	ctxSLA := float64(cfg.SLA.ISL) + float64(cfg.SLA.OSL)/2
	for _, m := range dm {
		var fr *results.DecodeFrontier
		if cfg.Frontier() {
			fr = r.DecodeFrontierOf(m)
		}
		kv := 0
		if pts := pointsOf(r.Decode, m); len(pts) > 0 {
			kv = pts[0].MaxKVTokens
		}
		g.Decode = append(g.Decode, DecodeGridPlan{Mapping: m, Rows: decodeRows(decodeISLs, maxCtx, kv, m.AttnDP, cfg.DecodeGranularity, fr, ctxSLA)})
	}
	return g
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

func (p *Profiler) decodeGrid(ctx context.Context, m results.Mapping, rows []DecodeRow, g int, log *Logger) (*results.DecodeInterpolation, error) {
	kv, err := p.Measurer.MaxKVTokens(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("decode interpolation %s: KV capacity: %w", m.Label(), err)
	}
	out := &results.DecodeInterpolation{MaxKVTokens: kv}
	const osl = grid.DecodeInterpolationOSL
	for _, row := range rows {
		isl := row.ISL
		maxConc := kv / (isl + osl)
		if maxConc == 0 {
			log.Warnf("max_kv_tokens %d is too small for isl %d + osl %d, skipping.", kv, isl, osl)
			break
		}
		concs := grid.NumRequestRange(m.AttnDP, maxConc, g)
		if row.Concurrencies != nil {
			concs = slices.DeleteFunc(slices.Clone(row.Concurrencies), func(n int) bool { return n > min(maxConc, grid.DecodeMaxConcurrency) })
		}
		for _, n := range concs {
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
