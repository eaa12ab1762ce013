package estimator

import (
	"fmt"
	"math"
)

// Memory is the per-GPU memory breakdown of one mapping.
type Memory struct {
	WeightsGiBPerGPU, ActivationsGiBPerGPU, ReserveGiBPerGPU, KVGiBPerGPU float64
	// KVBytesPerToken is per GPU (one rank's share of a token's KV).
	KVBytesPerToken float64
	// MaxKVTokens is the whole engine's capacity (per rank × attn_dp).
	MaxKVTokens int
	// Fits is false when weights + activations + reserve exceed the budget.
	Fits bool
}

const gib = 1 << 30

// kvBlock is the paged-KV block size; capacities round down to it.
const kvBlock = 16

// WeightBytesPerGPU counts one rank's weights (spec §3.1).
func (e *Estimator) weightBytesPerGPU(m Mapping) float64 {
	md := &e.model
	h := float64(md.Hidden)
	tp := float64(m.TP)
	nh := float64(md.Heads) / tp
	bw := e.bw
	var attn float64
	if md.IsMLA() {
		ql, kl, rd, nd, vd := float64(md.QLoraRank), float64(md.KVLoraRank), float64(md.RopeHeadDim), float64(md.NopeHeadDim), float64(md.VHeadDim)
		q := h * nh * (nd + rd)
		if ql > 0 {
			q = h*ql + ql*nh*(nd+rd)
		}
		attn = bw * (q + h*(kl+rd) + kl*nh*(nd+vd) + nh*vd*h)
	} else {
		d := float64(md.headDim())
		nkv := math.Ceil(float64(md.KVHeads) / tp)
		attn = bw * (h*d*(nh+2*nkv) + nh*d*h)
	}
	norms := 2.0 * h * 2
	L := float64(md.Layers)
	var mlp float64
	if md.IsMoE() {
		dl := float64(md.DenseLayers)
		ie := float64(md.ExpertIntermediate)
		moeTP := 1.0
		if m.Kind == "TP" {
			moeTP = tp
		}
		routed := bw * 3 * h * ie * float64(md.NumExperts) / float64(m.EP) / moeTP
		shared := bw * 3 * h * ie * float64(md.SharedExperts) / tp
		router := 2 * h * float64(md.NumExperts)
		mlp = dl*bw*3*h*float64(md.Intermediate)/tp + (L-dl)*(routed+shared+router)
	} else {
		mlp = L * bw * 3 * h * float64(md.Intermediate) / tp
	}
	emb := 2 * float64(md.Vocab) / tp * h
	if !md.TiedEmbeddings {
		emb *= 2
	}
	return L*(attn+norms) + mlp + emb
}

// KVBytesPerToken is one rank's KV bytes for one token (GQA: K and V of its
// KV heads, replicated when tp > n_kv; MLA: the latent, not split by tp).
func (e *Estimator) kvBytesPerToken(m Mapping) float64 {
	md := &e.model
	L := float64(md.Layers)
	if md.IsMLA() {
		return L * float64(md.KVLoraRank+md.RopeHeadDim) * e.bkv
	}
	nkv := math.Ceil(float64(md.KVHeads) / float64(m.TP))
	return 2 * L * nkv * float64(md.headDim()) * e.bkv
}

// Memory is the per-GPU memory breakdown and the engine's KV capacity.
func (e *Estimator) Memory(m Mapping) (Memory, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return Memory{}, err
	}
	md := &e.model
	w := e.weightBytesPerGPU(m) / gib
	var act, reserve float64
	switch e.opts.Backend {
	case "trtllm":
		// AIC: activations of max_num_tokens (8192) plus other_mem and NCCL.
		c := map[int]float64{1: 11, 2: 6.5, 4: 5, 8: 5}[min(m.TP, 8)]
		if c == 0 {
			c = 5
		}
		if md.IsMoE() {
			c *= 2
		}
		act = math.Max(2*8192*float64(md.Heads)/float64(m.TP)*float64(md.headDim())*c, 70<<20) / gib
		reserve = 3.5
		if m.N > 1 {
			reserve += map[bool]float64{true: 342.0 / 1024, false: 392.0 / 1024}[m.N == 2]
		}
	default:
		// llm-d capacity planner constants (vLLM profile run + non-torch memory).
		act = 5.5
		if md.IsMoE() {
			act = 8
		}
		reserve = 0.15
		if m.N > 1 {
			reserve = 0.6
		}
	}
	M := e.sys.UsableGiB
	u := e.opts.GPUMemoryUtilization
	var kv float64
	if e.opts.Backend == "trtllm" {
		kv = (M - w - act - reserve) * u
	} else {
		kv = M*u - w - act - reserve
	}
	out := Memory{WeightsGiBPerGPU: w, ActivationsGiBPerGPU: act, ReserveGiBPerGPU: reserve, KVBytesPerToken: e.kvBytesPerToken(m)}
	if kv > 0 {
		out.Fits = true
		out.KVGiBPerGPU = kv
		perRank := math.Floor(kv*gib/out.KVBytesPerToken/kvBlock) * kvBlock
		total := perRank * float64(m.AttnDP)
		if total > math.MaxInt32 {
			total = math.MaxInt32
		}
		out.MaxKVTokens = int(total)
	}
	return out, nil
}

// MaxKVTokens is the engine's KV capacity in tokens (all attention-DP ranks).
func (e *Estimator) MaxKVTokens(m Mapping) (int, error) {
	mem, err := e.Memory(m)
	if err != nil {
		return 0, err
	}
	return mem.MaxKVTokens, nil
}

// MaxConcurrency is how many isl+osl sequences the engine's KV cache holds.
func (e *Estimator) MaxConcurrency(m Mapping, isl, osl int) (int, error) {
	if isl < 1 || osl < 0 || isl > 1<<24 || osl > 1<<24 {
		return 0, fmt.Errorf("isl %d / osl %d out of range: use isl >= 1 and osl >= 0", isl, osl)
	}
	kv, err := e.MaxKVTokens(m)
	if err != nil {
		return 0, err
	}
	return kv / (isl + osl), nil
}

// LayerCounts are one dense (GQA, SwiGLU) decoder layer's GEMM FLOPs for a
// number of tokens and its weight bytes on one GPU at tensor parallelism tp:
// QKV, O, gate+up and down projections; attention and norms excluded.
func (e *Estimator) LayerCounts(tp int, tokens float64) (flops, weightBytes float64, err error) {
	md := &e.model
	if md.IsMoE() || md.IsMLA() {
		return 0, 0, fmt.Errorf("layer counts cover dense GQA models; %s is MoE or MLA", md.Name)
	}
	if tp < 1 || md.Heads%tp != 0 {
		return 0, 0, fmt.Errorf("tp %d must divide num_attention_heads %d", tp, md.Heads)
	}
	h := float64(md.Hidden)
	d := float64(md.headDim())
	nh := float64(md.Heads / tp)
	nkv := math.Ceil(float64(md.KVHeads) / float64(tp))
	ig := float64(md.Intermediate) / float64(tp)
	params := h*(nh+2*nkv)*d + nh*d*h + h*2*ig + ig*h
	return 2 * tokens * params, params * e.bw, nil
}
