package profiler

import (
	"math"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/plannersim"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// plannerCase is one profile whose planner data the check reads.
type plannerCase struct {
	model, system, backend string
	space                  SearchSpace
	sla                    profileconfig.SLA
	aic                    bool
}

// plannerCheck is what the SLA planner believes at the SLA against the
// estimator at the same point.
type plannerCheck struct {
	cell                 plannersim.Cell
	concurrency          int
	estITL, estThpt      float64
	itlErr, thptErr      float64 // decode, relative
	ttftErr, prefThptErr float64 // prefill at the SLA's ISL, relative
}

// checkPlanner reads r's grids as the SLA planner does
// (internal/plannersim): the decode cell find_best_throughput_per_gpu
// lands on for the ITL target at the SLA's context, and the prefill spline
// at the SLA's ISL; and compares them with the estimator at the same
// point. The decode cell's KV usage and context (the planner's lattice
// row nearest to isl + osl/2) give the concurrency the estimator runs.
func checkPlanner(t *testing.T, est *estimator.Estimator, r *results.Results) plannerCheck {
	t.Helper()
	sla := r.Input.SLA
	dec, err := plannersim.NewDecode(r.DecodeInterpolation)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Selection.Decode.Mapping
	var c plannerCheck
	c.cell = dec.BestThroughput(sla.ITL, float64(sla.ISL)+float64(sla.OSL)/2)
	c.concurrency = max(1, int(math.Round(c.cell.KVUsage*float64(r.DecodeInterpolation.MaxKVTokens)/c.cell.Context)))
	if c.estITL, err = est.DecodeITL(toEst(m), c.concurrency, c.cell.Context); err != nil {
		t.Fatal(err)
	}
	c.estThpt = DecodeThroughputPerGPU(c.concurrency, c.estITL, m)
	c.itlErr = math.Abs(c.cell.ITLMs-c.estITL) / c.estITL
	c.thptErr = math.Abs(c.cell.ThptPerGPU-c.estThpt) / c.estThpt

	pre, err := plannersim.NewPrefill(r.PrefillInterpolation)
	if err != nil {
		t.Fatal(err)
	}
	pm := r.Selection.Prefill.Mapping
	ttft, thpt := pre.At(float64(sla.ISL))
	eTTFT, err := est.PrefillTTFT(toEst(pm), int(sla.ISL))
	if err != nil {
		t.Fatal(err)
	}
	c.ttftErr = math.Abs(ttft-eTTFT) / eTTFT
	eThpt := PrefillThroughputPerGPU(int(sla.ISL), eTTFT, pm)
	c.prefThptErr = math.Abs(thpt-eThpt) / eThpt
	return c
}

// plannerCases span the three examples' setups and other models, GPUs,
// backends and SLAs, dense and MoE.
var plannerCases = []plannerCase{
	{"Qwen/Qwen3-32B", "h200_sxm", "trtllm", SearchSpace{MaxGPUs: 8}, profileconfig.SLA{ISL: 4000, OSL: 500, TTFT: 300, ITL: 10}, true},
	{"Qwen/Qwen3-32B", "h200_sxm", "trtllm", SearchSpace{MaxGPUs: 8}, profileconfig.SLA{ISL: 4000, OSL: 500, TTFT: 300, ITL: 20}, true},
	{"Qwen/Qwen3-0.6B", "h100_sxm", "vllm", SearchSpace{MinGPUs: 1, MaxGPUs: 8}, profileconfig.SLA{ISL: 3000, OSL: 150, TTFT: 200, ITL: 20}, false},
	{"deepseek-ai/DeepSeek-R1", "h200_sxm", "sglang", SearchSpace{MaxGPUs: 32, GPUsPerNode: 8}, profileconfig.SLA{ISL: 2048, OSL: 512, TTFT: 300, ITL: 25}, false},
	{"meta-llama/Llama-3.1-70B", "h200_sxm", "trtllm", SearchSpace{MaxGPUs: 8}, profileconfig.SLA{ISL: 4000, OSL: 1000, TTFT: 500, ITL: 20}, false},
	{"Qwen/Qwen3-8B", "h100_sxm", "vllm", SearchSpace{MaxGPUs: 8}, profileconfig.SLA{ISL: 2000, OSL: 200, TTFT: 100, ITL: 8}, false},
	{"meta-llama/Llama-3.1-8B", "a100_sxm", "sglang", SearchSpace{MaxGPUs: 8}, profileconfig.SLA{ISL: 1000, OSL: 500, TTFT: 50, ITL: 15}, false},
}

// The planner-method check (issue 13): what the SLA planner's own
// interpolation of our npz believes at the SLA is within 10 % of the
// estimator, for ITL and throughput (decode) and TTFT and throughput
// (prefill). With upstream's coarse grids it is not: the test logs those
// errors and requires that some case shows them, so the comparison is live.
func TestPlannerInterpolationAtTheSLA(t *testing.T) {
	worstUpstream := 0.0
	for _, c := range plannerCases {
		for _, rule := range []string{results.RuleUpstream, results.RuleFrontier} {
			p, cfg := simulate(t, c.model, c.system, c.backend, c.space, c.sla, c.aic)
			cfg.Selection = rule
			r, err := p.Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("%s %s: %v", c.model, rule, err)
			}
			k := checkPlanner(t, p.Measurer.(*Simulation).Est, r)
			t.Logf("%s on %s, ITL %v ms, %s grid (%d decode points): planner %.2f ms, %.1f tokens/s/GPU at KV %.3f, context %.0f; estimator %.2f ms, %.1f at concurrency %d: errors ITL %.1f %%, throughput %.1f %%; prefill TTFT %.2f %%, throughput %.2f %%",
				c.model, c.system, c.sla.ITL, rule, len(r.DecodeInterpolation.ITLMs), k.cell.ITLMs, k.cell.ThptPerGPU, k.cell.KVUsage, k.cell.Context,
				k.estITL, k.estThpt, k.concurrency, 100*k.itlErr, 100*k.thptErr, 100*k.ttftErr, 100*k.prefThptErr)
			if rule == results.RuleUpstream {
				worstUpstream = math.Max(worstUpstream, math.Max(k.itlErr, k.thptErr))
				continue
			}
			for name, e := range map[string]float64{"decode ITL": k.itlErr, "decode throughput": k.thptErr, "prefill TTFT": k.ttftErr, "prefill throughput": k.prefThptErr} {
				if e > 0.10 {
					t.Errorf("%s ITL %v: the planner's %s is %.1f %% off the estimator at the SLA (limit 10 %%)", c.model, c.sla.ITL, name, 100*e)
				}
			}
			if k.cell.ITLMs > c.sla.ITL || k.estITL > c.sla.ITL*1.1 {
				t.Errorf("%s: the planner plans at ITL %.2f ms (estimator %.2f ms) for a %v ms target", c.model, k.cell.ITLMs, k.estITL, c.sla.ITL)
			}
		}
	}
	if worstUpstream <= 0.10 {
		t.Errorf("upstream's grids read within 10 %% in every case (worst %.1f %%): the check no longer shows what the frontier grids fix", 100*worstUpstream)
	}
}
