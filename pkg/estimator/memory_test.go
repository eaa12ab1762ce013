package estimator

import (
	"math"
	"strings"
	"testing"
)

// vLLM v0.11 on H100 logged 51.38 GiB of KV for Llama-3.1-8B at TP 1
// (llm-d config_explorer/empirical-vllm-memory-results.md).
func TestVLLMMemoryByHand(t *testing.T) {
	e := mustEstimator(t, "meta-llama/Llama-3.1-8B", "h100_sxm", "vllm")
	mem, err := e.Memory(NewMapping("TP", 1))
	if err != nil {
		t.Fatal(err)
	}
	const weights = 16060514304.0        // 2 × (32 layers × 218 112 000 + 2 × 128256 × 4096)
	const sampler = 39 * 1024 * 128256.0 // bytes per logit × max_num_seqs × vocabulary
	kv := 79.18*0.9 - weights/gib - sampler/gib - 0.13
	if mem.WeightsGiBPerGPU != weights/gib || mem.ActivationsGiBPerGPU != sampler/gib || mem.ReserveGiBPerGPU != 0.13 ||
		!near(mem.BudgetGiBPerGPU, 79.18*0.9, 1e-12) || !near(mem.KVGiBPerGPU, kv, 1e-12) {
		t.Fatalf("breakdown %+v, want weights %g, activations %g, reserve 0.13, KV %g GiB", mem, weights/gib, sampler/gib, kv)
	}
	if want := math.Floor(kv*gib/131072/16) * 16; float64(mem.MaxKVTokens) != want {
		t.Errorf("capacity %d tokens, want %g", mem.MaxKVTokens, want)
	}
	if math.Abs(mem.KVGiBPerGPU-51.38) > 0.1 {
		t.Errorf("KV %g GiB is more than 0.1 GiB from the engine's 51.38", mem.KVGiBPerGPU)
	}
}

// The forward term wins over the sampler when the vocabulary is small and
// the MLP wide; A100 keeps vLLM's small defaults (2048 tokens, 256 seqs).
func TestVLLMActivationTerms(t *testing.T) {
	md, err := ParseModelConfig([]byte(`{"num_hidden_layers":2,"hidden_size":8192,"num_attention_heads":64,"num_key_value_heads":8,
"intermediate_size":65536,"vocab_size":1000}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		system       string
		tokens, seqs float64
	}{{"h100_sxm", 8192, 1024}, {"a100_sxm", 2048, 256}, {"l40s", 2048, 256}, {"b200_sxm", 8192, 1024}} {
		sys, _ := LookupSystem(c.system)
		e, err := New(md, sys, Options{Backend: "vllm"})
		if err != nil {
			t.Fatal(err)
		}
		mem, _ := e.Memory(NewMapping("TP", 1))
		forward := c.tokens * 2 * (4*8192 + 3*65536)
		want := math.Max(forward, 39*c.seqs*1000) / gib
		if mem.ActivationsGiBPerGPU != want {
			t.Errorf("%s: activations %g GiB, want %g", c.system, mem.ActivationsGiBPerGPU, want)
		}
	}
	// max_num_batched_tokens set by the caller replaces the default.
	sys, _ := LookupSystem("h100_sxm")
	e, _ := New(md, sys, Options{Backend: "vllm", MaxNumBatchedTokens: 32768})
	mem, _ := e.Memory(NewMapping("TP", 1))
	if want := 32768 * 2 * (4*8192 + 3*65536.0) / gib; mem.ActivationsGiBPerGPU != want {
		t.Errorf("32768 batched tokens: activations %g GiB, want %g", mem.ActivationsGiBPerGPU, want)
	}
}

// mem_fraction_static as SGLang's server_args.py derives it, by hand.
func TestSGLangMemFraction(t *testing.T) {
	for _, c := range []struct {
		memMiB, tp int
		want       float64
	}{
		{81559, 1, 0.835},  // H100: 512 + 1.5·8192 + 2·256 + 128 = 13440 MiB
		{81559, 4, 0.824},  // 512 + 12288 + 2·512 + 512 = 14336
		{143771, 1, 0.907}, // H200: 13440
		{143771, 8, 0.897}, // 512 + 12288 + 1024 + 1024 = 14848 (DP padding left out)
		{183359, 1, 0.857}, // B200: 512 + 1.5·16384 + 1024 + 128 = 26240
		{46068, 1, 0.851},  // L40S: 512 + 1.5·4096 + 64 + 128 = 6848, no 10 GiB floor
		{0, 1, 0.88},       // capacity unknown: the engine's fallback
	} {
		if got := sglangMemFraction(c.memMiB, c.tp, sglangConfig(c.memMiB, c.tp)); got != c.want {
			t.Errorf("%d MiB tp %d: %g, want %g", c.memMiB, c.tp, got, c.want)
		}
	}
	// KV = fraction × (total − CUDA context) − weights, in 1-token pages.
	e := mustEstimator(t, "meta-llama/Llama-3.1-8B", "h200_sxm", "sglang")
	mem, _ := e.Memory(NewMapping("TP", 1))
	kv := 0.907*(139.81-0.61) - 16060514304.0/gib
	if !near(mem.KVGiBPerGPU, kv, 1e-12) || mem.ActivationsGiBPerGPU != 0 || mem.BlockTokens != 1 ||
		float64(mem.MaxKVTokens) != math.Floor(kv*gib/131072) {
		t.Errorf("SGLang H200 TP1: %+v, want KV %g GiB", mem, kv)
	}
	// vLLM on the same GPU keeps less: its activation peak counts against it.
	v := mustEstimator(t, "meta-llama/Llama-3.1-8B", "h200_sxm", "vllm")
	vm, _ := v.Memory(NewMapping("TP", 1))
	if vm.MaxKVTokens >= mem.MaxKVTokens {
		t.Errorf("vLLM %d tokens, SGLang %d: the engines' accounting differs and SGLang keeps more here", vm.MaxKVTokens, mem.MaxKVTokens)
	}
}

// TensorRT-LLM on H100 admitted 78 Llama-3.1-8B sequences of 2048+2048
// (+1000 slack) tokens at free_gpu_memory_fraction 0.8 and max_num_tokens
// 4096 (AI Configurator tests/integration/test_kv_cache_capacity.py).
func TestTRTLLMMemoryByHand(t *testing.T) {
	md, _ := LookupModel("meta-llama/Llama-3.1-8B")
	sys, _ := LookupSystem("h100_sxm")
	e, err := New(md, sys, Options{Backend: "trtllm", GPUMemoryUtilization: 0.8, MaxNumBatchedTokens: 4096})
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := e.Memory(NewMapping("TP", 1))
	act := 2 * 4096 * 4096 * 11.0 / gib // 2 · tokens · heads·head_dim · 11 (TP 1)
	kv := 0.8 * (79.18 - 16060514304.0/gib - act - 3.5)
	if mem.ActivationsGiBPerGPU != act || mem.ReserveGiBPerGPU != 3.5 || !near(mem.KVGiBPerGPU, kv, 1e-12) || mem.BlockTokens != 32 {
		t.Fatalf("breakdown %+v, want activations %g, reserve 3.5, KV %g", mem, act, kv)
	}
	if mem.MaxKVTokens%32 != 0 || float64(mem.MaxKVTokens) != math.Floor(kv*gib/131072/32)*32 {
		t.Errorf("capacity %d is not KV/κ rounded down to 32-token blocks", mem.MaxKVTokens)
	}
	seqs, _ := e.MaxConcurrency(NewMapping("TP", 1), 2048, 2048+1000)
	if seqs < 76 || seqs > 80 {
		t.Errorf("%d sequences fit, the engine admitted 78", seqs)
	}
	// NCCL buffers at TP 2 and 4.
	for tp, want := range map[int]float64{2: 3.5 + 342.0/1024, 4: 3.5 + 392.0/1024} {
		m, _ := e.Memory(NewMapping("TP", tp))
		if !near(m.ReserveGiBPerGPU, want, 1e-12) {
			t.Errorf("TP%d reserve %g, want %g", tp, m.ReserveGiBPerGPU, want)
		}
	}
}

// gpt-oss keeps attention in BF16; only its experts are MXFP4.
func TestExpertOnlyQuantWeights(t *testing.T) {
	e := mustEstimator(t, "openai/gpt-oss-120b", "h100_sxm", "vllm")
	all := *e
	all.model.ExpertOnlyQuant = false
	m := NewMapping("TP", 1)
	// 36 layers × (2880·64·(64 + 16) + 64·64·2880) attention parameters, at
	// 2 instead of 0.5625 bytes.
	const attnParams = 36 * (2880*64*80 + 64*64*2880)
	if d := e.weightBytesPerGPU(m) - all.weightBytesPerGPU(m); d != attnParams*(2-0.5625) {
		t.Errorf("BF16 attention adds %g bytes, want %g", d, attnParams*(2-0.5625))
	}
	if w := e.weightBytesPerGPU(m) / gib; math.Abs(w-64.38)/64.38 > 0.01 {
		t.Errorf("weights %g GiB, the engine loaded 64.38", w)
	}
	cfg := `{"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":9,"num_local_experts":8,"num_experts_per_tok":2,
"intermediate_size":16,"quantization_config":{"quant_method":"mxfp4"}}`
	md, err := ParseModelConfig([]byte(cfg))
	if err != nil || !md.ExpertOnlyQuant || md.WeightDtype != "fp4" {
		t.Errorf("an MXFP4 MoE config parsed as %+v, %v", md, err)
	}
}

// Above the largest captured CUDA graph a decode step launches its layers
// one by one: SGLang captures 256 sequences below TP 4 on H200, vLLM 512.
func TestCUDAGraphLimit(t *testing.T) {
	md, _ := LookupModel("meta-llama/Llama-3.1-8B")
	sys, _ := LookupSystem("h200_sxm")
	itl := func(be string, eager float64, c int) float64 {
		v, _ := eagerEstimator(t, be, eager).DecodeITL(NewMapping("TP", 1), c, 2048)
		return v
	}
	for _, c := range []struct {
		backend string
		graph   int
	}{{"sglang", 256}, {"vllm", 512}, {"trtllm", 128}} {
		e, _ := New(md, sys, Options{Backend: c.backend})
		if g, _ := e.CUDAGraphBatch(NewMapping("TP", 1)); g != c.graph {
			t.Errorf("%s captures %d, want %d", c.backend, g, c.graph)
		}
		if d := itl(c.backend, 10, c.graph) - itl(c.backend, 0, c.graph); d != 0 {
			t.Errorf("%s at its limit pays %g ms of eager launches", c.backend, d)
		}
		if d := itl(c.backend, 10, c.graph+1) - itl(c.backend, 0, c.graph+1); !near(d, 10*32/1000.0, 1e-9) {
			t.Errorf("%s above its limit pays %g ms, want 32 layers × 10 µs", c.backend, d)
		}
	}
	// Same step costs, different graph limits: at 300 sequences SGLang pays
	// the launches and vLLM does not.
	if s, v := itl("sglang", 10, 300), itl("vllm", 10, 300); !(s > v) {
		t.Errorf("SGLang %g ms vs vLLM %g ms at 300 sequences on H200 TP1", s, v)
	}
}

// eagerEstimator is Llama-3.1-8B on H200 with every backend's eager launch
// cost per layer set to eagerUs.
func eagerEstimator(t *testing.T, backend string, eagerUs float64) *Estimator {
	t.Helper()
	co := DefaultCoefficients()
	for b, v := range co.Backends {
		v.EagerLayerUs = eagerUs
		co.Backends[b] = v
	}
	md, _ := LookupModel("meta-llama/Llama-3.1-8B")
	sys, _ := LookupSystem("h200_sxm")
	e, err := New(md, sys, Options{Backend: backend, Coefficients: co})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A prefill step outside the CUDA graphs pays the same per-layer launch
// cost: vLLM replays graphs for steps of up to 512 tokens, SGLang and
// TensorRT-LLM only for decode. Hand-computed for Llama-3.1-8B (32 layers)
// at 10 µs a layer: 0.32 ms per eager step.
func TestEagerPrefillLaunches(t *testing.T) {
	md, _ := LookupModel("meta-llama/Llama-3.1-8B")
	sys, _ := LookupSystem("h200_sxm")
	ttft := func(be string, eager float64, isl int) float64 {
		v, err := eagerEstimator(t, be, eager).PrefillTTFT(NewMapping("TP", 1), isl)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m := NewMapping("TP", 1)
	for _, c := range []struct {
		backend string
		isl     int
		layers  int
	}{
		{"vllm", 512, 0}, {"vllm", 513, 32}, {"vllm", 40000, 64}, // 32768 + 7232 tokens: both chunks above 512
		{"vllm", 32769, 32}, // the 1-token second chunk replays a graph
		{"sglang", 1, 32}, {"trtllm", 128, 32}, {"sglang", 40000, 64},
	} {
		e, _ := New(md, sys, Options{Backend: c.backend})
		got, err := e.EagerPrefillLayers(m, c.isl)
		if err != nil || got != c.layers {
			t.Errorf("%s isl %d: %d eager layers (%v), want %d", c.backend, c.isl, got, err, c.layers)
		}
		if d := ttft(c.backend, 10, c.isl) - ttft(c.backend, 0, c.isl); !near(d, float64(c.layers)*10/1000, 1e-9) && !(c.layers == 0 && d == 0) {
			t.Errorf("%s isl %d: %g ms of launches, want %d layers × 10 µs", c.backend, c.isl, d, c.layers)
		}
	}
	e, _ := New(md, sys, Options{Backend: "vllm"})
	if _, err := e.EagerPrefillLayers(m, 0); err == nil || !strings.Contains(err.Error(), "isl 0") {
		t.Errorf("isl 0: %v, want an error naming it", err)
	}
}

// Step costs apply per GPU generation; PrefillTTFT is one step per chunk
// plus the forward pass, with no client-side cost.
func TestStepCostsByGeneration(t *testing.T) {
	co := DefaultCoefficients()
	md, _ := LookupModel("Qwen/Qwen3-32B")
	ttft := func(system string, c *Coefficients, isl int) float64 {
		sys, _ := LookupSystem(system)
		e, err := New(md, sys, Options{Backend: "vllm", Coefficients: c})
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.PrefillTTFT(NewMapping("TP", 2), isl)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	bw := co.Clone()
	bw.GenerationStepMs["vllm/blackwell"] = co.GenerationStepMs["vllm/blackwell"] + 5
	if d := ttft("b200_sxm", bw, 1000) - ttft("b200_sxm", co, 1000); !near(d, 5, 1e-9) {
		t.Errorf("a Blackwell step 5 ms dearer moved B200 TTFT by %g ms", d)
	}
	if d := ttft("h100_sxm", bw, 1000) - ttft("h100_sxm", co, 1000); d != 0 {
		t.Errorf("the Blackwell step moved H100 TTFT by %g ms", d)
	}
	hop := co.Clone()
	v := hop.Backends["vllm"]
	v.StepMs += 2
	hop.Backends["vllm"] = v
	for isl, steps := range map[int]float64{1000: 1, 32768: 1, 40000: 2, 70000: 3} {
		if d := ttft("h100_sxm", hop, isl) - ttft("h100_sxm", co, isl); !near(d, 2*steps, 1e-9) {
			t.Errorf("ISL %d: a step 2 ms dearer moved TTFT by %g ms, want %g (one step per 32768-token chunk)", isl, d, 2*steps)
		}
	}
}

// The fused-MoE scale of one backend and expert dtype slows only its experts.
func TestMoEScale(t *testing.T) {
	md, _ := LookupModel("Qwen/Qwen3-235B-A22B-FP8")
	sys, _ := LookupSystem("h200_sxm")
	itl := func(backend string, scale float64) float64 {
		co := DefaultCoefficients()
		co.MoEScale = map[string]float64{"vllm/fp8": scale}
		e, err := New(md, sys, Options{Backend: backend, Coefficients: co})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.DecodeITL(NewMapping("TP", 4), 32, 2048)
		return v
	}
	if a, b := itl("vllm", 1), itl("vllm", 3); !(b > a*1.2) {
		t.Errorf("vLLM FP8 experts 3× slower moved ITL from %g to %g ms", a, b)
	}
	if a, b := itl("trtllm", 1), itl("trtllm", 3); a != b {
		t.Errorf("a vLLM scale moved TensorRT-LLM from %g to %g ms", a, b)
	}
}

func TestMaxNumBatchedTokensValidation(t *testing.T) {
	md, _ := LookupModel("Qwen/Qwen3-8B")
	sys, _ := LookupSystem("h100_sxm")
	_, err := New(md, sys, Options{Backend: "trtllm", MaxNumBatchedTokens: -1})
	if err == nil || !strings.Contains(err.Error(), "max num batched tokens -1") {
		t.Errorf("negative max_num_batched_tokens: %v", err)
	}
	a, _ := New(md, sys, Options{Backend: "trtllm", MaxNumBatchedTokens: 4096})
	b, _ := New(md, sys, Options{Backend: "trtllm", MaxNumBatchedTokens: 16384})
	ma, _ := a.Memory(NewMapping("TP", 1))
	mb, _ := b.Memory(NewMapping("TP", 1))
	if !near(mb.ActivationsGiBPerGPU, 4*ma.ActivationsGiBPerGPU, 1e-12) || mb.MaxKVTokens >= ma.MaxKVTokens {
		t.Errorf("4× the tokens: activations %g → %g GiB, KV %d → %d", ma.ActivationsGiBPerGPU, mb.ActivationsGiBPerGPU, ma.MaxKVTokens, mb.MaxKVTokens)
	}
}

// More GPUs never hold fewer KV tokens (TP ranks share the tokens) while
// TP splits the KV heads. Beyond that the heads are replicated, so a rank
// gains only the weights it no longer holds, and SGLang's reserve grows by
// TP/8 GiB (2 GiB at TP 16, 5 % of an L40S): a loss of under 5 % is allowed there.
func TestKVCapacityGrowsWithTP(t *testing.T) {
	forEachCatalogEstimator(t, func(name string, e *Estimator) {
		prev := 0
		for _, n := range []int{1, 2, 4, 8, 16} {
			mp, err := e.CheckMapping(NewMapping("TP", n))
			if err != nil {
				continue
			}
			kv, err := e.MaxKVTokens(mp)
			if err != nil {
				t.Fatalf("%s TP%d: %v", name, n, err)
			}
			slack := 1.0
			if !e.model.IsMLA() && n > e.model.KVHeads {
				slack = 0.95
			}
			if float64(kv) < slack*float64(prev) {
				t.Errorf("%s: %d KV tokens at TP%d, fewer than %d at the TP before", name, kv, n, prev)
			}
			prev = kv
		}
	})
}

// Each running sequence costs every layer PerSeqLayerUs: hand-computed,
// 0.5 µs more per sequence per layer is 32 layers × 64 sequences × 0.5 µs
// = 1.024 ms on Llama-3.1-8B and 64 × 64 × 0.5 µs = 2.048 ms on Qwen3-32B.
func TestPerSequencePerLayer(t *testing.T) {
	sys, _ := LookupSystem("h100_sxm")
	itl := func(model string, extra float64) float64 {
		md, _ := LookupModel(model)
		co := DefaultCoefficients()
		v := co.Backends["vllm"]
		v.PerSeqLayerUs += extra
		co.Backends["vllm"] = v
		e, err := New(md, sys, Options{Backend: "vllm", Coefficients: co})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.DecodeITL(NewMapping("TP", 2), 64, 1500)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for model, want := range map[string]float64{"meta-llama/Llama-3.1-8B": 1.024, "Qwen/Qwen3-32B": 2.048} {
		if d := itl(model, 0.5) - itl(model, 0); !near(d, want, 1e-9) {
			t.Errorf("%s: 0.5 µs per sequence per layer moved ITL by %g ms, want %g", model, d, want)
		}
	}
}

// RoPE and Qwen3's q/k norms, one element-wise kernel each, hand-computed
// from elem(bytes) = bytes/(BWEff·BW) + ElemUs at one decode token on TP1:
// RoPE reads and writes q and k, (32 + 8)·128 values of 2 bytes for
// Llama-3.1-8B; TensorRT-LLM does it inside attention unless q and k are
// normalised first (Qwen3: 64 q and 8 KV heads), when it pays RoPE too.
func TestRoPEAndQKNormKernels(t *testing.T) {
	sys, _ := LookupSystem("h100_sxm")
	co := DefaultCoefficients()
	elem := func(bytes float64) float64 { return bytes/(co.BWEff*sys.HBMBandwidthGBs*1e3) + co.ElemUs }
	layer := func(model, backend string) float64 {
		md, _ := LookupModel(model)
		e, err := New(md, sys, Options{Backend: backend, Coefficients: co})
		if err != nil {
			t.Fatal(err)
		}
		return e.attnLayer(NewMapping("TP", 1), stepSpec{x: 1, decode: true, seqs: 1, ctx: 1000, logits: 1})
	}
	rope := elem(2 * 1 * (32 + 8) * 128 * 2)
	if d := layer("meta-llama/Llama-3.1-8B", "vllm") - layer("meta-llama/Llama-3.1-8B", "trtllm"); !near(d, rope, 1e-9) {
		t.Errorf("Llama: vLLM's attention block costs %g µs more than TensorRT-LLM's, want its RoPE kernel %g", d, rope)
	}
	if d := layer("Qwen/Qwen3-32B", "vllm") - layer("Qwen/Qwen3-32B", "trtllm"); d != 0 {
		t.Errorf("Qwen3: engines differ by %g µs; both launch RoPE after the q/k norms", d)
	}
	md, _ := LookupModel("Qwen/Qwen3-32B")
	e, _ := New(md, sys, Options{Backend: "vllm", Coefficients: co})
	want := elem(2*(64+8)*128*2) + elem(2*64*128*2) + elem(2*8*128*2)
	if got := e.ropeAndQKNorm(1, 64, 8, 128); !near(got, want, 1e-12) {
		t.Errorf("Qwen3 RoPE + q norm + k norm %g µs, want %g", got, want)
	}
}
