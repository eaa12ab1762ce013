package output

import (
	"errors"
	"fmt"
	"math"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// checkResults rejects results the outputs cannot be rendered from, naming
// the field at fault: JSON cannot hold NaN, and a DGD needs both picks.
func checkResults(r *results.Results) error {
	if r == nil {
		return errors.New("results are nil; run the profile (or load results.json) before writing outputs")
	}
	if err := checkSelection(r); err != nil {
		return err
	}
	for i, p := range r.Prefill {
		if err := finite(fmt.Sprintf("results.prefill[%d]", i), "ttftMs", p.TTFTMs, "throughputPerGpu", p.ThptPerGPU); err != nil {
			return err
		}
	}
	for i, p := range r.Decode {
		if err := finite(fmt.Sprintf("results.decode[%d]", i), "itlMs", p.ITLMs, "throughputPerGpu", p.ThptPerGPU, "contextLength", p.ContextLength); err != nil {
			return err
		}
	}
	if err := finite("results.input.sla", "ttft", r.Input.SLA.TTFT, "itl", r.Input.SLA.ITL); err != nil {
		return err
	}
	if r.PrefillInterpolation != nil {
		if err := checkPrefillInterpolation(r.PrefillInterpolation); err != nil {
			return err
		}
	}
	if r.DecodeInterpolation != nil {
		if err := checkDecodeInterpolation(r.DecodeInterpolation); err != nil {
			return err
		}
	}
	return nil
}

// checkSelection needs both picks with a valid mapping: the DGD is built from them.
func checkSelection(r *results.Results) error {
	if r == nil {
		return errors.New("results are nil; run the profile (or load results.json) before generating a DGD")
	}
	for _, c := range []struct {
		phase string
		ch    *results.Choice
	}{{"prefill", r.Selection.Prefill}, {"decode", r.Selection.Decode}} {
		if c.ch == nil {
			return fmt.Errorf("results.selection.%s is missing: no %s engine was selected, so no DGD can be generated; check the profile log for \"No %s results produced\"", c.phase, c.phase, c.phase)
		}
		if err := checkMapping("results.selection."+c.phase+".mapping", c.ch.Mapping); err != nil {
			return err
		}
		if err := finite("results.selection."+c.phase, "latencyMs", c.ch.LatencyMs, "throughputPerGpu", c.ch.ThptPerGPU); err != nil {
			return err
		}
	}
	return nil
}

func checkMapping(path string, m results.Mapping) error {
	switch m.Kind {
	case "TP", "TEP", "DEP":
	default:
		return fmt.Errorf("%s.kind = %q is not a parallel mapping; use TP, TEP or DEP", path, m.Kind)
	}
	if m.N < 1 || m.N > 1<<16 {
		return fmt.Errorf("%s.numGpus = %d is out of range; a mapping needs 1 to 65536 GPUs", path, m.N)
	}
	return nil
}

func finite(path string, kv ...any) error {
	for i := 0; i+1 < len(kv); i += 2 {
		f, _ := kv[i+1].(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s.%s is %v; drop non-finite measurements before writing outputs", path, kv[i], f)
		}
	}
	return nil
}

func checkPrefillInterpolation(p *results.PrefillInterpolation) error {
	if p == nil {
		return errors.New("results.prefillInterpolation is missing")
	}
	n := len(p.ISL)
	if len(p.TTFTMs) != n || len(p.ThptPerGPU) != n {
		return fmt.Errorf("results.prefillInterpolation arrays differ in length (prefill_isl %d, prefill_ttft %d, prefill_thpt_per_gpu %d); they must be parallel", n, len(p.TTFTMs), len(p.ThptPerGPU))
	}
	for i := range n {
		if err := finite(fmt.Sprintf("results.prefillInterpolation[%d]", i), "prefill_isl", p.ISL[i], "prefill_ttft", p.TTFTMs[i], "prefill_thpt_per_gpu", p.ThptPerGPU[i]); err != nil {
			return err
		}
	}
	return nil
}

func checkDecodeInterpolation(d *results.DecodeInterpolation) error {
	if d == nil {
		return errors.New("results.decodeInterpolation is missing")
	}
	n := len(d.KVUsage)
	if len(d.ContextLength) != n || len(d.ITLMs) != n || len(d.ThptPerGPU) != n {
		return fmt.Errorf("results.decodeInterpolation arrays differ in length (x_kv_usage %d, y_context_length %d, z_itl %d, z_thpt_per_gpu %d); they must be parallel", n, len(d.ContextLength), len(d.ITLMs), len(d.ThptPerGPU))
	}
	if d.MaxKVTokens < 0 {
		return fmt.Errorf("results.decodeInterpolation.max_kv_tokens = %d is negative; it is the engine's KV capacity in tokens", d.MaxKVTokens)
	}
	for i := range n {
		if err := finite(fmt.Sprintf("results.decodeInterpolation[%d]", i), "x_kv_usage", d.KVUsage[i], "y_context_length", d.ContextLength[i], "z_itl", d.ITLMs[i], "z_thpt_per_gpu", d.ThptPerGPU[i]); err != nil {
			return err
		}
	}
	return nil
}

// hasPlannerData is the ConfigMap condition of §14.1 step 4: both grids exist
// (prefill with the ≥ 4 points the planner needs, §19 P7).
func hasPlannerData(r *results.Results) bool {
	return r.PrefillInterpolation != nil && len(r.PrefillInterpolation.ISL) >= minPrefillInterpolation &&
		r.DecodeInterpolation != nil && len(r.DecodeInterpolation.KVUsage) > 0
}
