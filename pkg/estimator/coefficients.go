package estimator

import "maps"

// BackendCoefficients are the fixed costs one serving engine adds.
type BackendCoefficients struct {
	// StepMs is the fixed cost of one engine step (scheduling, kernel
	// launch, sampling, output processing) on Hopper; GenerationStepMs
	// overrides it per GPU generation. StepTPMs grows it per doubling of
	// the GPU count.
	StepMs, StepTPMs float64
	// PerSeqLayerUs is what each running sequence adds to every layer of a
	// decode step (the attention kernel's per-sequence blocks and page
	// lookups, the KV append): a larger model pays it more often.
	PerSeqLayerUs float64
	// ARLatencyScale scales NCCL's small-message all-reduce latency to the
	// engine's custom all-reduce kernel.
	ARLatencyScale float64
	// EagerLayerUs is the launch cost per layer of a decode step whose
	// batch exceeds the engine's largest captured CUDA graph, and of a
	// prefill step the engine runs outside its graphs.
	EagerLayerUs float64
	// QueueGain, BurstGain, QueueStepGain, MixGain and BenchClientMs only
	// map the estimator onto AI Configurator's closed-loop benchmark rows
	// for calibration: TTFT queueing behind other prefills (in steady state,
	// in synchronised bursts, behind the running step), the prefill work of
	// other requests that lands in a request's decode phase (its duty cycle
	// times MixGain), and the benchmark harness's own fixed
	// cost per request. The profiler's questions do not use them.
	QueueGain, BurstGain, QueueStepGain, MixGain float64
	BenchClientMs                                float64
}

// AllReduceFit is t(bytes) = LatencyUs + bytes·2(n−1)/n / BusGBs for
// groups of 2, 4 and 8 GPUs on one node.
type AllReduceFit struct {
	LatencyUs [3]float64
	BusGBs    [3]float64
}

// Coefficients are every fitted constant of the model.
type Coefficients struct {
	// GEMM efficiency vs m (tokens): GemmEffMax·m/(m+GemmMHalf), shape from
	// the H100 GEMM microbenchmark, scaled by ComputeScale. The exponent is
	// fixed at 1 so that time never falls as m grows.
	GemmEffMax, GemmMHalf, GemmFloorUs float64
	ComputeScale                       float64
	// FP8Eff and FP4Eff scale the low-precision peak: the share of its
	// peak an FP8 (FP4) GEMM keeps relative to a BF16 one. FP8Eff is set
	// from kernel microbenchmarks, FP4Eff fitted where rows inform it.
	FP8Eff, FP4Eff float64
	// BlackwellComputeScale is Blackwell's achieved share of its datasheet
	// peak relative to Hopper's (the GEMM curve was measured on H100).
	BlackwellComputeScale float64
	// BWEff is the achieved fraction of HBM bandwidth when streaming.
	BWEff float64
	// ElemUs is the fixed cost of one element-wise kernel.
	ElemUs float64
	// Prefill attention efficiency vs context s (BF16 peak); the Hill
	// exponent stays in [0.5, 2] so time rises with s.
	AttnPrefillEffMax, AttnPrefillSHalf, AttnPrefillHill float64
	// Decode attention: KV read at AttnDecodeBWEff·BW plus a floor.
	AttnDecodeBWEff, AttnDecodeFloorUs float64
	// AllReduce per NVLink family: a100, h100 (nvlink5 and pcie derive).
	AllReduce map[string]AllReduceFit
	Backends  map[string]BackendCoefficients
	// GenerationStepMs is StepMs per "backend/generation" where the data
	// has rows of that generation (hopper is the backend's StepMs).
	GenerationStepMs map[string]float64
	// MoEScale multiplies the routed experts' grouped-GEMM time per
	// "backend/expert dtype": the engine's fused-MoE kernels relative to the
	// dense GEMM curve (absent = 1, as fast).
	MoEScale map[string]float64
	// SyncClientMs is calibration only: the fixed cost the synchronous
	// GuideLLM client adds to TTFT in blis_h1_vllm_h100_sync.csv.
	SyncClientMs float64
	// HarnessMs is calibration only: AI Configurator's benchmark harness
	// cost per request in the TTFT of aic_silicon_*.csv, fitted on the rows
	// where no other prefill competes.
	HarnessMs float64
}

// Backends lists the supported serving backends.
func Backends() []string { return []string{"sglang", "trtllm", "vllm"} }

// DefaultCoefficients returns a copy of the committed, fitted coefficients.
func DefaultCoefficients() *Coefficients { return fittedCoefficients.Clone() }

// Clone deep-copies c.
func (c *Coefficients) Clone() *Coefficients {
	out := *c
	out.AllReduce = make(map[string]AllReduceFit, len(c.AllReduce))
	for k, v := range c.AllReduce {
		out.AllReduce[k] = v
	}
	out.Backends = make(map[string]BackendCoefficients, len(c.Backends))
	for k, v := range c.Backends {
		out.Backends[k] = v
	}
	out.GenerationStepMs = maps.Clone(c.GenerationStepMs)
	out.MoEScale = maps.Clone(c.MoEScale)
	return &out
}

// initialCoefficients are the spec's §3.7 starting values, before fitting.
func initialCoefficients() *Coefficients {
	return &Coefficients{
		GemmEffMax: 0.65, GemmMHalf: 200, GemmFloorUs: 3,
		ComputeScale: 1, FP8Eff: 0.8, FP4Eff: 0.6, BlackwellComputeScale: 1,
		BWEff: 0.8, ElemUs: 3,
		AttnPrefillEffMax: 0.8, AttnPrefillSHalf: 2500, AttnPrefillHill: 1.5,
		AttnDecodeBWEff: 0.85, AttnDecodeFloorUs: 10,
		AllReduce: map[string]AllReduceFit{
			"h100": {LatencyUs: [3]float64{25, 30, 35}, BusGBs: [3]float64{290, 340, 380}},
			"a100": {LatencyUs: [3]float64{30, 35, 40}, BusGBs: [3]float64{170, 190, 200}},
		},
		Backends: map[string]BackendCoefficients{
			"vllm":   {StepMs: 1.5, StepTPMs: 0.5, PerSeqLayerUs: 0.3, ARLatencyScale: 0.4, QueueGain: 1, QueueStepGain: 1, MixGain: 1},
			"sglang": {StepMs: 1.5, StepTPMs: 0.5, PerSeqLayerUs: 0.3, ARLatencyScale: 0.4, QueueGain: 1, QueueStepGain: 1, MixGain: 1},
			"trtllm": {StepMs: 1.0, StepTPMs: 0.3, PerSeqLayerUs: 0.3, ARLatencyScale: 0.4, QueueGain: 1, QueueStepGain: 1, MixGain: 1},
		},
	}
}

// InitialCoefficients exposes the unfitted starting point (for calibration).
func InitialCoefficients() *Coefficients { return initialCoefficients() }
