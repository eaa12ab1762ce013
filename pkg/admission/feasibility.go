package admission

import (
	"fmt"
	"math"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// feasibility is W10: when the estimator finds no swept mapping that meets
// the SLA on the chosen system, it returns a warning with the best TTFT or
// ITL achievable. It never fails admission; estimator errors only drop the
// mapping concerned. Cost: a few dozen microseconds (tables in memory).
func feasibility(p *plan, backend string, sla pc.SLA) []string {
	est, err := estimator.New(p.model, p.system, estimator.Options{Backend: backend, GPUsPerNode: int(p.gpusPerNode())})
	if err != nil {
		return nil
	}
	lo, hi := int64(1), p.maxRecommended()
	if p.hasMin {
		lo = p.min
	}
	if p.hasMax {
		hi = p.max
	}
	// Each mapping kind is checked once, then asked for TTFT, ITL or both.
	type kind struct {
		name            string
		prefill, decode bool
	}
	kinds := []kind{{"TP", true, true}}
	if p.moe {
		kinds = []kind{{"TEP", true, false}, {"DEP", false, true}}
		if p.model.Architecture == "Qwen3MoeForCausalLM" {
			kinds = append(kinds, kind{"TP", true, true})
		}
	}
	gpn := p.gpusPerNode()
	usable := func(m estimator.Mapping) bool {
		if m.Kind == "TP" && int64(m.N) > gpn {
			return false // dense TP above a node is dropped by the planner
		}
		if p.aic && estimator.AICCheckTP(p.model.Heads, m.TP) != nil {
			return false
		}
		mem, err := est.Memory(m)
		return err == nil && mem.Fits && int64(mem.MaxKVTokens) >= sla.ISL+sla.OSL
	}
	bestTTFT, bestITL := math.Inf(1), math.Inf(1)
	var ttftAt, itlAt estimator.Mapping // labelled only when a warning needs them
	counts := sweptCounts(lo, hi)
	for _, n := range counts {
		for _, k := range kinds {
			m := estimator.NewMapping(k.name, int(n))
			if !usable(m) {
				continue
			}
			if k.prefill {
				if t, err := est.PrefillTTFT(m, int(sla.ISL)); err == nil && t < bestTTFT {
					bestTTFT, ttftAt = t, m
				}
			}
			if k.decode {
				if t, err := est.DecodeITL(m, 1, float64(sla.ISL)+float64(sla.OSL)/2); err == nil && t < bestITL {
					bestITL, itlAt = t, m
				}
			}
		}
	}
	if len(counts) == 0 || bestTTFT <= sla.TTFT && bestITL <= sla.ITL {
		return nil // the usual case: nothing to format
	}
	swept := make([]string, len(counts))
	for i, n := range counts {
		swept[i] = fmt.Sprint(n)
	}
	where := fmt.Sprintf("%s on %s with %s (GPU counts %s)", p.modelID, p.system.Name, backend, strings.Join(swept, ", "))
	if math.IsInf(bestTTFT, 1) && math.IsInf(bestITL, 1) {
		return []string{fmt.Sprintf("SLA cannot be met: the estimator finds no swept mapping of %s that holds the model and an isl+osl of %d tokens; "+
			"allow more GPUs per engine (hardware.max_num_gpus_per_engine) or choose a larger GPU", where, sla.ISL+sla.OSL)}
	}
	var out []string
	if bestTTFT > sla.TTFT {
		out = append(out, fmt.Sprintf("SLA cannot be met: the best TTFT the estimator finds for %s at isl %d is %.1f ms (%s), above sla.ttft %g ms; "+
			"relax sla.ttft or allow more GPUs per engine; profiling continues and picks the closest configuration", where, sla.ISL, bestTTFT, ttftAt.Label(), sla.TTFT))
	}
	if bestITL > sla.ITL {
		out = append(out, fmt.Sprintf("SLA cannot be met: the best ITL the estimator finds for %s is %.2f ms (%s, concurrency 1), above sla.itl %g ms; "+
			"relax sla.itl or allow more GPUs per engine; profiling continues and picks the closest configuration", where, bestITL, itlAt.Label(), sla.ITL))
	}
	return out
}
