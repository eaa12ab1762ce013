package estimator

import (
	"fmt"
	"math"
)

// Memory is the per-GPU memory breakdown of one mapping, in the engine's
// own accounting (see engineMemory for each term and its source).
type Memory struct {
	// BudgetGiBPerGPU is what the engine sizes against: vLLM total × u,
	// SGLang mem_fraction_static × the memory free at start-up, TensorRT-LLM
	// the total (of which it gives 90 % of what stays free to the KV cache).
	BudgetGiBPerGPU float64
	// WeightsGiBPerGPU are one rank's weights.
	WeightsGiBPerGPU float64
	// ActivationsGiBPerGPU is the activation peak the engine measures while
	// sizing the KV cache (0 for SGLang, whose fraction leaves room for it).
	ActivationsGiBPerGPU float64
	// ReserveGiBPerGPU is memory outside the model's tensors that the engine
	// counts: cuBLAS workspaces, NCCL and custom all-reduce buffers, and for
	// TensorRT-LLM its runtime and CUDA graphs.
	ReserveGiBPerGPU float64
	// KVGiBPerGPU is the KV cache of one rank.
	KVGiBPerGPU float64
	// KVBytesPerToken is per GPU (one rank's share of a token's KV).
	KVBytesPerToken float64
	// BlockTokens is the KV page the capacity rounds down to.
	BlockTokens int
	// MaxKVTokens is the whole engine's capacity (per rank × attn_dp).
	MaxKVTokens int
	// Fits is false when not even one KV page is left.
	Fits bool
}

const gib = 1 << 30

// Constants measured on real engines (H100, 80 GB).
const (
	// cudaContextGiB is in use before an engine loads anything: vLLM v0.11
	// logs "Free memory on device 78.57/79.18 GiB on startup" (llm-d/
	// llm-d-benchmark config_explorer/empirical-vllm-memory-results.md).
	cudaContextGiB = 0.61
	// vllmNonTorchGiB is vLLM's "non-torch memory" at TP=1 (cuBLAS
	// workspace); vllmCommGiB is what TP > 1 adds (NCCL communicators and the
	// custom all-reduce IPC buffers): 0.13 and 0.55 GiB in the same file.
	vllmNonTorchGiB = 0.13
	vllmCommGiB     = 0.42
	// vllmSamplerBytes is the activation peak per sequence and vocabulary
	// entry of vLLM's start-up sampler run (gpu_model_runner.py
	// _dummy_sampler_run: fp32 logits of max_num_seqs rows plus the
	// sampler's sort and probability copies): 4.76, 5.56, 5.64, 7.38 and
	// 4.84 GiB for Llama-3.1-8B, Qwen3-0.6B, Qwen3-32B, gpt-oss and
	// Llama-3.3-70B-FP8 at 1024 sequences give 38.4 to 39.6 bytes.
	vllmSamplerBytes = 39
	// trtllmOtherGiB is TensorRT-LLM's runtime memory outside weights,
	// activations and KV (CUDA context, cuBLAS, runtime buffers, CUDA
	// graphs), measured by AI Configurator (systems/*.yaml misc.other_mem).
	trtllmOtherGiB = 3.5
	// trtllmMinActivationBytes is AI Configurator's floor for the
	// activation pool (trtllm_backend.py _get_memory_usage).
	trtllmMinActivationBytes = 70 << 20
)

// TRTLLMNCCLGiB is NCCL's buffers by TP group size (AI Configurator
// misc.nccl_mem: 342 MiB for two GPUs, 392 MiB for four or more).
func TRTLLMNCCLGiB(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 342.0 / 1024
	}
	return 392.0 / 1024
}

// TRTLLMActivationScale is AI Configurator's measured TensorRT-LLM
// activation multiplier per TP size (LLAMA family; MoE and MLA models twice
// as much): activations = 2 · max_num_tokens · heads·head_dim · scale.
func TRTLLMActivationScale(tp int, moe bool) float64 {
	s := 5.0
	switch {
	case tp <= 1:
		s = 11
	case tp == 2:
		s = 6.5
	}
	if moe {
		s *= 2
	}
	return s
}

// weightBytesPerGPU counts one rank's weights (spec §3.1).
func (e *Estimator) weightBytesPerGPU(m Mapping) float64 {
	md := &e.model
	h := float64(md.Hidden)
	tp := float64(m.TP)
	nh := float64(md.Heads) / tp
	bw := e.attnBytes()
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
		routed := e.bw * 3 * h * ie * float64(md.NumExperts) / float64(m.EP) / e.moeTP(m)
		shared := e.bw * 3 * h * ie * float64(md.SharedExperts) / tp
		router := 2 * h * float64(md.NumExperts)
		mlp = dl*e.bw*3*h*float64(md.Intermediate)/tp + (L-dl)*(routed+shared+router)
	} else {
		mlp = L * e.bw * 3 * h * float64(md.Intermediate) / tp
	}
	emb := 2 * float64(md.Vocab) / tp * h
	if !md.TiedEmbeddings {
		emb *= 2
	}
	return L*(attn+norms) + mlp + emb
}

// kvBytesPerToken is one rank's KV bytes for one token (GQA: K and V of its
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
	cfg := e.engine(m)
	out := e.engineMemory(m, cfg)
	out.KVBytesPerToken = e.kvBytesPerToken(m)
	out.BlockTokens = cfg.blockTokens
	kv := out.BudgetGiBPerGPU - out.WeightsGiBPerGPU - out.ActivationsGiBPerGPU - out.ReserveGiBPerGPU
	if e.opts.Backend == "trtllm" {
		// _util.py KvCacheCreator._cal_max_memory: (total − peak) × fraction.
		kv *= e.fraction(m)
	}
	block := float64(cfg.blockTokens)
	perRank := math.Floor(kv*gib/out.KVBytesPerToken/block) * block
	if kv <= 0 || perRank < block {
		return out, nil
	}
	out.Fits = true
	out.KVGiBPerGPU = kv
	out.MaxKVTokens = int(math.Min(perRank*float64(m.AttnDP), math.MaxInt32))
	return out, nil
}

// engineMemory fills the budget and the non-KV terms of each engine.
//
//   - vLLM (vllm/v1/worker/gpu_worker.py determine_available_memory): KV =
//     total × gpu_memory_utilization − weights − the torch activation peak
//     of the profile run − non-torch memory. The profile run
//     (gpu_model_runner.py profile_run) runs max_num_batched_tokens through
//     the model and then samples max_num_seqs sequences; the peak is the
//     larger of the two. CUDA graphs are captured after the KV cache is
//     allocated and live in the (1 − u) headroom.
//   - SGLang (python/sglang/srt/model_executor/model_runner.py
//     profile_max_num_token): KV = free memory after loading − the memory
//     free before loading × (1 − mem_fraction_static), i.e. f × free − weights;
//     activations and CUDA graphs live in the (1 − f) share, which
//     server_args.py sizes from chunked_prefill_size and cuda_graph_max_bs.
//   - TensorRT-LLM (tensorrt_llm/_torch/pyexecutor/_util.py KvCacheCreator
//     _cal_max_memory): KV = (total − peak during the estimation run) ×
//     free_gpu_memory_fraction, the peak being weights, activations at
//     max_num_tokens, NCCL buffers and the runtime's other memory.
func (e *Estimator) engineMemory(m Mapping, cfg engineConfig) Memory {
	md := &e.model
	M := e.sys.UsableGiB
	out := Memory{WeightsGiBPerGPU: e.weightBytesPerGPU(m) / gib}
	switch e.opts.Backend {
	case "sglang":
		out.BudgetGiBPerGPU = e.fraction(m) * (M - cudaContextGiB - commGiB(m.N))
	case "trtllm":
		out.BudgetGiBPerGPU = M
		act := 2 * float64(cfg.batchTokens) * float64(md.Heads*md.headDim()) * TRTLLMActivationScale(m.TP, md.IsMoE() || md.IsMLA())
		out.ActivationsGiBPerGPU = math.Max(act, trtllmMinActivationBytes) / gib
		out.ReserveGiBPerGPU = trtllmOtherGiB + TRTLLMNCCLGiB(m.TP)
	default:
		out.BudgetGiBPerGPU = M * e.fraction(m)
		sampler := vllmSamplerBytes * float64(cfg.maxSeqs) * float64(md.Vocab)
		out.ActivationsGiBPerGPU = math.Max(sampler, float64(cfg.batchTokens)*e.forwardBytesPerToken(m)) / gib
		out.ReserveGiBPerGPU = vllmNonTorchGiB + commGiB(m.N)
	}
	return out
}

// commGiB is what NCCL and custom all-reduce buffers add when ranks talk.
func commGiB(n int) float64 {
	if n > 1 {
		return vllmCommGiB
	}
	return 0
}

// forwardBytesPerToken is the live activation set of one token in a
// layer's forward pass: residual, normed input and attention output (4·h)
// plus the MLP's gate/up output and its activation (3 × the per-rank
// intermediate width; for MoE the top-k experts' widths), BF16.
func (e *Estimator) forwardBytesPerToken(m Mapping) float64 {
	md := &e.model
	inter := float64(md.Intermediate) / float64(m.TP)
	if md.IsMoE() {
		inter = math.Max(inter, float64(md.TopK*md.ExpertIntermediate)/e.moeTP(m))
	}
	return 2 * (4*float64(md.Hidden) + 3*inter)
}

// fraction is the engine's memory fraction: the option when set, else
// vLLM's gpu_memory_utilization 0.9 (vllm/config/cache.py), TensorRT-LLM's
// free_gpu_memory_fraction 0.9 (KvCacheConfig) or SGLang's derived
// mem_fraction_static.
func (e *Estimator) fraction(m Mapping) float64 {
	if u := e.opts.GPUMemoryUtilization; u > 0 {
		return u
	}
	if e.opts.Backend == "sglang" {
		return sglangMemFraction(e.sys.MemoryMiB, m.N, e.engine(m))
	}
	return 0.9
}

// sglangMemFraction is mem_fraction_static as server_args.py
// _handle_gpu_memory_settings derives it: reserve 512 MiB + 1.5 MiB per
// chunked-prefill token + 2 MiB per CUDA-graph batch + tp/8 GiB, at least
// 10 GiB on GPUs above 60 GiB. With DP attention the engine adds 3 (+1.5)
// MiB × cuda_graph_max_bs × dp_size of padding, which is more than an 80 GB
// GPU from dp ≈ 24 on; deployments with DP attention therefore set the
// fraction themselves, and we take the derivation without that padding as
// the value they set.
func sglangMemFraction(memMiB, tp int, cfg engineConfig) float64 {
	if memMiB <= 0 {
		return 0.88 // the engine's own fallback when the capacity is unknown
	}
	reserved := 512 + 1.5*float64(max(cfg.batchTokens, 2048)) + 2*float64(cfg.graphBatch) + float64(tp)/8*1024
	mem := float64(memMiB)
	if mem > 60*1024 {
		reserved = math.Max(reserved, 10*1024)
	}
	return math.Round((mem-reserved)/mem*1000) / 1000
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
