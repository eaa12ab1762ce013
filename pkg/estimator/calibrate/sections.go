package calibrate

import (
	"math"
	"sort"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// ShortRow is one single-stream row with at most shortISL new tokens.
type ShortRow struct {
	Row                       Row
	HeldOutTTFT, InSampleTTFT float64
}

func shortRows(held, inSample []Prediction) []ShortRow {
	in := map[string]float64{}
	for _, p := range inSample {
		in[p.Row.ID] = p.TTFT
	}
	var out []ShortRow
	for _, p := range held {
		out = append(out, ShortRow{Row: p.Row, HeldOutTTFT: p.TTFT, InSampleTTFT: in[p.Row.ID]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Row.ID < out[j].Row.ID })
	return out
}

// RatioRow is SGLang's TPOT over vLLM's on configurations both measured.
type RatioRow struct {
	System, Shape    string
	N                int
	Median, Min, Max float64
}

// matchedRatios compares SGLang and vLLM on the same GPU, model shape,
// TP, concurrency, ISL and OSL.
func matchedRatios(rows []Row) []RatioRow {
	type key struct {
		system, shape      string
		tp, conc, isl, osl int
	}
	tpot := map[key]map[string]float64{}
	for _, r := range rows {
		if r.Concurrency < 2 {
			continue
		}
		k := key{r.System, shapeOf(r.Model), r.TP, r.Concurrency, r.ISL, r.OSL}
		if tpot[k] == nil {
			tpot[k] = map[string]float64{}
		}
		tpot[k][r.Backend] = r.TPOT
	}
	groups := map[[2]string][]float64{}
	for k, v := range tpot {
		s, ok1 := v["sglang"]
		l, ok2 := v["vllm"]
		if ok1 && ok2 {
			g := [2]string{k.system, k.shape}
			groups[g] = append(groups[g], s/l)
		}
	}
	var out []RatioRow
	for g, rs := range groups {
		sort.Float64s(rs)
		out = append(out, RatioRow{System: g[0], Shape: g[1], N: len(rs), Median: quantile(rs, 0.5), Min: rs[0], Max: rs[len(rs)-1]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].System < out[j].System })
	return out
}

// shapeOf names a model by its architecture, so that FP8 and Instruct
// checkpoints of one model compare with each other.
func shapeOf(model string) string {
	md, err := estimator.LookupModel(model)
	if err != nil {
		return model
	}
	name := md.Name
	for _, id := range estimator.Models() {
		other, _ := estimator.LookupModel(id)
		same := other.Layers == md.Layers && other.Hidden == md.Hidden && other.Intermediate == md.Intermediate &&
			other.Heads == md.Heads && other.KVHeads == md.KVHeads && other.Vocab == md.Vocab
		if same && len(other.Name) < len(name) {
			name = other.Name // the plainest name of the shape
		}
	}
	return name
}

// IssueKVRow is the KV-capacity example of issue 16 (Qwen3-32B, H200,
// TensorRT-LLM, ISL 4000 + OSL 500) at one TP size.
type IssueKVRow struct {
	TP                       int
	Ours, AICBudget, Wrapper int // KV tokens
	WrapperBatch             int
}

const issueISL, issueOSL = 4000, 500

func issueKV() []IssueKVRow {
	md, _ := estimator.LookupModel("Qwen/Qwen3-32B")
	sys, _ := estimator.LookupSystem("h200_sxm")
	e, err := estimator.New(md, sys, estimator.Options{Backend: "trtllm"})
	if err != nil {
		return nil
	}
	var out []IssueKVRow
	for _, tp := range []int{1, 2, 4, 8} {
		mem, err := e.Memory(estimator.NewMapping("TP", tp))
		if err != nil {
			continue
		}
		budget := aicKVGiB(e, MemoryRow{Engine: "trtllm", TP: tp, Fraction: 0.9})
		b := AICWrapperMaxBatch(e, tp, issueISL, issueOSL)
		out = append(out, IssueKVRow{TP: tp, Ours: mem.MaxKVTokens, AICBudget: int(budget * (1 << 30) / mem.KVBytesPerToken),
			Wrapper: b * (issueISL + issueOSL), WrapperBatch: b})
	}
	return out
}

// ReferencePoint is an engine-level batch-1 TTFT quoted in issue 16 (the
// issue's author measured it on data not in ../shared; AI Configurator was
// within 8–23 % there).
type ReferencePoint struct {
	Model, System string
	ISL           int
	Measured      float64
	Ours          float64
}

func referencePoints(c *estimator.Coefficients) []ReferencePoint {
	pts := []ReferencePoint{
		{Model: "meta-llama/Llama-2-7b-hf", System: "h200_sxm", ISL: 128, Measured: 5.7},
		{Model: "meta-llama/Llama-2-7b-hf", System: "h100_sxm", ISL: 128, Measured: 6.3},
		{Model: "meta-llama/Llama-2-7b-hf", System: "a100_sxm", ISL: 128, Measured: 16.2},
	}
	for i := range pts {
		md, _ := estimator.LookupModel(pts[i].Model)
		sys, _ := estimator.LookupSystem(pts[i].System)
		if e, err := estimator.New(md, sys, estimator.Options{Backend: "vllm", Coefficients: c}); err == nil {
			pts[i].Ours, _ = e.PrefillTTFT(estimator.NewMapping("TP", 1), pts[i].ISL)
		} else {
			pts[i].Ours = math.NaN()
		}
	}
	return pts
}
