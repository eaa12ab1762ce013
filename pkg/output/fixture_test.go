package output

import (
	"encoding/json"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mapping(kind string, n int) results.Mapping {
	switch kind {
	case "TEP":
		return results.Mapping{Kind: kind, N: n, TP: n, EP: n, AttnDP: 1}
	case "DEP":
		return results.Mapping{Kind: kind, N: n, TP: 1, EP: n, AttnDP: n}
	}
	return results.Mapping{Kind: kind, N: n, TP: n, EP: 1, AttnDP: 1}
}

// typicalResults mirrors TV-12 (vLLM Qwen3-0.6B, isl 3000 osl 150, ttft 200,
// itl 20): a 4-count sweep, 17 prefill ISLs and the 36-point decode grid.
func typicalResults(backend string, pre, dec results.Mapping) *results.Results {
	r := &results.Results{
		SchemaVersion: results.SchemaVersion,
		Versions:      results.Versions{Plugin: "v0.0.0-test", Measurer: "simulation"},
		Input: results.Input{Name: "sla-online", Namespace: "team-a", Model: "Qwen/Qwen3-0.6B", Backend: backend,
			System: "h200_sxm", GPUsPerNode: 8, SLA: profileconfig.SLA{ISL: 3000, OSL: 150, TTFT: 200, ITL: 20}, MaxContext: 40960},
		Plan: results.Plan{MinGPUs: 1, MaxGPUs: 8, GPUCounts: []int{1, 2, 4, 8}},
	}
	for i, n := range []int{1, 2, 4, 8} {
		m := mapping(pre.Kind, n)
		ttft := 260.0 / float64(n) * (1 + 0.1*float64(i))
		r.Plan.PrefillMappings = append(r.Plan.PrefillMappings, m)
		r.Prefill = append(r.Prefill, results.PrefillPoint{Mapping: m, ISL: 3000, TTFTMs: ttft, ThptPerGPU: 3000 / ttft / float64(n) * 1000 * float64(m.AttnDP)})
		dm := mapping(dec.Kind, n)
		r.Plan.DecodeMappings = append(r.Plan.DecodeMappings, dm)
		for _, c := range []int{1, 240, 480, 720, 960, 1200} {
			itl := 4 + float64(c)*0.02/float64(n)
			r.Decode = append(r.Decode, results.DecodePoint{Mapping: dm, Concurrency: c, ContextLength: 3075, ITLMs: itl,
				ThptPerGPU: float64(c) * 1000 / itl / float64(n), MaxKVTokens: 643891 * n})
		}
	}
	r.Plan.Dropped = []results.DroppedMapping{{Phase: "prefill", Mapping: mapping("TP", 16), Reason: "num_kv_heads=8 not divisible by tp_size=16"}}
	r.Selection.Prefill = &results.Choice{Mapping: pre, LatencyMs: 34.755885, ThptPerGPU: 2877.21, MeetsSLA: true}
	r.Selection.Decode = &results.Choice{Mapping: dec, LatencyMs: 18.4, ThptPerGPU: 13043.48, MeetsSLA: true, Concurrency: 480}

	ip := &results.PrefillInterpolation{}
	for isl := 100; isl < 40448; isl += 2521 {
		ttft := 20 + 0.004*float64(isl) + 2e-7*float64(isl)*float64(isl)
		ip.ISL = append(ip.ISL, float64(isl))
		ip.TTFTMs = append(ip.TTFTMs, ttft)
		ip.ThptPerGPU = append(ip.ThptPerGPU, float64(isl)/ttft/float64(pre.N)*1000*float64(pre.AttnDP))
	}
	ip.TTFTMs[0] = 34.755885
	ip.ThptPerGPU[0] = 100 / 34.755885 * 1000
	r.PrefillInterpolation = ip

	di := &results.DecodeInterpolation{MaxKVTokens: 643891}
	grid := map[int][]int{100: {1, 215, 429, 644, 858, 1073}, 6843: {1, 18, 35, 52, 69, 87}, 13586: {1, 9, 18, 27, 36, 45},
		20329: {1, 6, 12, 18, 24, 30}, 27072: {1, 5, 9, 14, 18, 23}, 33815: {1, 4, 7, 11, 14, 18}}
	for _, isl := range []int{100, 6843, 13586, 20329, 27072, 33815} {
		ctx := float64(isl) + 250
		for _, n := range grid[isl] {
			usage := ctx * float64(n) / float64(di.MaxKVTokens)
			itl := 5 + 30*usage + ctx/4000
			di.KVUsage = append(di.KVUsage, usage)
			di.ContextLength = append(di.ContextLength, ctx)
			di.ITLMs = append(di.ITLMs, itl)
			di.ThptPerGPU = append(di.ThptPerGPU, float64(n)*1000/itl/float64(dec.N))
		}
	}
	r.DecodeInterpolation = di
	return r
}

// typicalInputs is a defaulted DGDR named like the TV-12 example.
func typicalInputs(backend string, config string) Inputs {
	if config == "" {
		config = `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"deployment":{"model":"Qwen/Qwen3-0.6B","namespace":"team-a"},"engine":{"backend":"` + backend + `"}}`
	}
	c, err := profileconfig.Parse([]byte(config))
	if err != nil {
		panic(err)
	}
	s, errs := c.Settings()
	if len(errs) > 0 {
		panic(errs.ToAggregate())
	}
	raw, _ := json.Marshal(c.Root)
	req := &v1alpha1.DynamoGraphDeploymentRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "nvidia.com/v1alpha1", Kind: "DynamoGraphDeploymentRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: "sla-online", Namespace: "team-a"},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{Model: "Qwen/Qwen3-0.6B", Backend: backend,
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{ProfilerImage: "nvcr.io/nvidia/ai-dynamo/" + backend + "-runtime:0.7.1",
				Config: &apiextensionsv1.JSON{Raw: raw}}},
	}
	return Inputs{DGDR: req, Settings: s, Log: []byte("2026-01-02 03:04:05 - profiler - INFO - Profiler job started\n"), Now: fixedNow}
}
