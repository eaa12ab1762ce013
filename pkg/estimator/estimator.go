package estimator

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Mapping is one parallel layout (spec/profiler.md §4.3).
type Mapping struct {
	Kind   string // "TP", "TEP", "DEP"
	N      int    // GPUs
	TP     int    // tensor-parallel size of attention
	EP     int    // expert split
	AttnDP int    // attention data-parallel ranks
}

// NewMapping fills TP/EP/AttnDP from a kind and a GPU count.
func NewMapping(kind string, n int) Mapping {
	k := strings.ToUpper(strings.TrimSpace(kind))
	switch k {
	case "TEP":
		return Mapping{Kind: k, N: n, TP: n, EP: n, AttnDP: 1}
	case "DEP":
		return Mapping{Kind: k, N: n, TP: 1, EP: n, AttnDP: n}
	default:
		return Mapping{Kind: k, N: n, TP: n, EP: 1, AttnDP: 1}
	}
}

// Label is the profiler's label, e.g. "TP=4".
func (m Mapping) Label() string { return fmt.Sprintf("%s=%d", m.Kind, m.N) }

// normalize completes zero fields from Kind and N and checks consistency.
func (m Mapping) normalize() (Mapping, error) {
	if m.N < 1 || m.N > 1024 {
		return m, fmt.Errorf("mapping %s: GPU count %d is out of range: use 1 to 1024", m.Label(), m.N)
	}
	def := NewMapping(m.Kind, m.N)
	switch def.Kind {
	case "TP", "TEP", "DEP":
	default:
		return m, fmt.Errorf("mapping kind %q is not supported: use TP, TEP or DEP", m.Kind)
	}
	if m.TP == 0 {
		m.TP = def.TP
	}
	if m.EP == 0 {
		m.EP = def.EP
	}
	if m.AttnDP == 0 {
		m.AttnDP = def.AttnDP
	}
	m.Kind = def.Kind
	if m.TP < 1 || m.EP < 1 || m.AttnDP < 1 || m.TP*m.AttnDP != m.N {
		return m, fmt.Errorf("mapping %s: tp %d × attn_dp %d must equal the GPU count %d", m.Label(), m.TP, m.AttnDP, m.N)
	}
	if m.EP > m.N {
		return m, fmt.Errorf("mapping %s: expert split %d exceeds the GPU count %d", m.Label(), m.EP, m.N)
	}
	return m, nil
}

// Options select backend, precisions and memory settings.
type Options struct {
	Backend     string // vllm|sglang|trtllm
	Precision   string // weights: bf16|fp8|fp4, "" = model default
	KVPrecision string // bf16|fp8|fp4, "" = bf16
	// GPUMemoryUtilization is vLLM's gpu_memory_utilization, SGLang's
	// mem_fraction_static or TensorRT-LLM's free_gpu_memory_fraction; 0
	// takes the engine's default (0.9, SGLang's derived value, 0.9).
	GPUMemoryUtilization float64
	// MaxNumBatchedTokens is vLLM's max_num_batched_tokens, SGLang's
	// chunked_prefill_size or TensorRT-LLM's max_num_tokens; 0 takes the
	// engine's default (engine.go). It sets the activation reserve.
	MaxNumBatchedTokens int
	GPUsPerNode         int // 0 => system's
	// Coefficients overrides the committed fit (calibration only).
	Coefficients *Coefficients
}

// Estimator answers performance questions for one model/system/backend.
type Estimator struct {
	model    Model
	sys      System
	opts     Options
	co       *Coefficients
	be       BackendCoefficients
	bw       float64 // weight bytes per parameter
	bkv      float64 // KV bytes per element
	peak     float64 // GEMM peak at the weight dtype, FLOP/us
	peakAttn float64 // GEMM peak of the attention projections, FLOP/us
	moeScale float64 // fused-MoE kernel time over the dense GEMM curve
	peakBF   float64 // BF16 GEMM peak (LM head), FLOP/us
	peakAtt  float64 // BF16 peak for attention kernels, FLOP/us (fitted on true BF16 data)
	hbm      float64 // bytes/us
	perNode  int
	qkNorm   bool // Qwen3 normalises q and k per head
}

func dtypeBytes(d string) (float64, bool) {
	switch d {
	case "bf16", "fp16":
		return 2, true
	case "fp8":
		return 1, true
	case "fp4":
		return 0.5625, true // NVFP4: 4 bits + one FP8 scale per 16
	}
	return 0, false
}

// New builds an estimator; it validates every input.
func New(model *Model, sys *System, opts Options) (*Estimator, error) {
	if model == nil {
		return nil, errors.New("model is nil: look it up with LookupModel or LoadModelConfig")
	}
	if sys == nil {
		return nil, errors.New("system is nil: look it up with LookupSystem")
	}
	if err := model.validate(); err != nil {
		return nil, err
	}
	if sys.BF16TFLOPS <= 0 || sys.HBMBandwidthGBs <= 0 || sys.UsableGiB <= 0 || sys.LinkGBs <= 0 {
		return nil, fmt.Errorf("system %q has non-positive throughput, bandwidth or memory", sys.Name)
	}
	opts.Backend = strings.ToLower(strings.TrimSpace(opts.Backend))
	co := opts.Coefficients
	if co == nil {
		co = fittedCoefficients
	}
	if !(co.GemmEffMax > 0 && co.GemmMHalf >= 0 && co.ComputeScale > 0 && co.BWEff > 0 && co.AttnPrefillEffMax > 0 &&
		co.AttnPrefillSHalf >= 0 && co.AttnDecodeBWEff > 0 && co.FP8Eff > 0 && co.FP4Eff > 0) {
		return nil, errors.New("coefficients have a non-positive efficiency: start from DefaultCoefficients()")
	}
	be, ok := co.Backends[opts.Backend]
	if !ok {
		return nil, fmt.Errorf("backend %q is not supported: use one of %s", opts.Backend, strings.Join(Backends(), ", "))
	}
	if step, ok := co.GenerationStepMs[opts.Backend+"/"+sys.Generation]; ok {
		be.StepMs = step
	}

	opts.Precision = strings.ToLower(strings.TrimSpace(opts.Precision))
	if opts.Precision == "" {
		opts.Precision = model.WeightDtype
	}
	if opts.Precision == "" {
		opts.Precision = "bf16"
	}
	bw, ok := dtypeBytes(opts.Precision)
	if !ok {
		return nil, fmt.Errorf("precision %q is not supported: use bf16, fp8 or fp4", opts.Precision)
	}
	opts.KVPrecision = strings.ToLower(strings.TrimSpace(opts.KVPrecision))
	if opts.KVPrecision == "" {
		opts.KVPrecision = "bf16"
	}
	bkv, ok := dtypeBytes(opts.KVPrecision)
	if !ok {
		return nil, fmt.Errorf("kv precision %q is not supported: use bf16, fp8 or fp4", opts.KVPrecision)
	}
	if u := opts.GPUMemoryUtilization; u != 0 && !(u > 0 && u <= 1) {
		return nil, fmt.Errorf("gpu memory utilization %v is out of range: use a fraction in (0, 1], or 0 for the engine's default", u)
	}
	if opts.MaxNumBatchedTokens < 0 || opts.MaxNumBatchedTokens > 1<<22 {
		return nil, fmt.Errorf("max num batched tokens %d is out of range: use 1 to %d, or 0 for the engine's default", opts.MaxNumBatchedTokens, 1<<22)
	}
	if opts.GPUsPerNode < 0 || opts.GPUsPerNode > 1024 {
		return nil, fmt.Errorf("GPUs per node %d is out of range: use 1 to 1024 (0 = the system's %d)", opts.GPUsPerNode, sys.GPUsPerNode)
	}
	e := &Estimator{model: *model, sys: *sys, opts: opts, co: co, be: be, bw: bw, bkv: bkv}
	e.perNode = opts.GPUsPerNode
	if e.perNode == 0 {
		e.perNode = sys.GPUsPerNode
	}
	if e.perNode < 1 {
		e.perNode = 1
	}
	eff := 1.0
	switch {
	case opts.Precision == "fp8" && sys.FP8TFLOPS > 0:
		eff = co.FP8Eff
	case opts.Precision == "fp4" && sys.FP4TFLOPS > 0:
		eff = co.FP4Eff
	case opts.Precision == "fp4" && sys.FP8TFLOPS > 0:
		eff = co.FP8Eff
	}
	gen := 1.0
	if sys.arFamily == "nvlink5" && co.BlackwellComputeScale > 0 {
		gen = co.BlackwellComputeScale
	}
	e.peak = sys.peakTFLOPS(opts.Precision) * 1e6 * eff * co.ComputeScale * gen
	e.peakBF = sys.BF16TFLOPS * 1e6 * co.ComputeScale * gen
	e.peakAtt = sys.BF16TFLOPS * 1e6 * gen
	e.hbm = sys.HBMBandwidthGBs * 1e3
	e.qkNorm = strings.HasPrefix(model.Architecture, "Qwen3")
	e.peakAttn = e.peak
	e.moeScale = 1
	if v, ok := co.MoEScale[opts.Backend+"/"+opts.Precision]; ok && v > 0 {
		e.moeScale = v
	}
	if model.ExpertOnlyQuant {
		e.peakAttn = e.peakBF
	}
	return e, nil
}

// attnBytes is the bytes per weight of the attention projections: BF16 when
// the checkpoint quantises only its experts (gpt-oss's MXFP4).
func (e *Estimator) attnBytes() float64 {
	if e.model.ExpertOnlyQuant {
		return 2
	}
	return e.bw
}

// moeTP is the split of each expert's intermediate size: TP mappings shard
// every expert over the TP group (vLLM's and SGLang's default without
// expert parallelism), TEP and DEP place whole experts.
func (e *Estimator) moeTP(m Mapping) float64 {
	if m.Kind == "TP" {
		return float64(m.TP)
	}
	return 1
}

// Model and System return copies of what the estimator was built with.
func (e *Estimator) Model() Model   { return e.model }
func (e *Estimator) System() System { return e.sys }

// Precision is the weight dtype in effect.
func (e *Estimator) Precision() string { return e.opts.Precision }

// CheckMapping validates a mapping against the model (head split, experts).
func (e *Estimator) CheckMapping(m Mapping) (Mapping, error) {
	m, err := m.normalize()
	if err != nil {
		return m, err
	}
	if e.model.Heads%m.TP != 0 {
		return m, fmt.Errorf("mapping %s: num_attention_heads %d is not divisible by tp %d: choose a TP that divides %d",
			m.Label(), e.model.Heads, m.TP, e.model.Heads)
	}
	if e.model.IsMoE() && m.EP > e.model.NumExperts {
		return m, fmt.Errorf("mapping %s: expert split %d exceeds the model's %d experts", m.Label(), m.EP, e.model.NumExperts)
	}
	if !e.model.IsMoE() {
		m.EP = 1
	}
	return m, nil
}

// ---- operator costs (microseconds) ----

func hill(x, max, half, p float64) float64 {
	if x <= 0 {
		return 0
	}
	p = math.Min(math.Max(p, 0.5), 2)
	xp := math.Pow(x, p)
	return max * xp / (xp + math.Pow(half, p))
}

// gemm is one (m,k,n) GEMM with weights of bw bytes per element at peak.
func (e *Estimator) gemm(m, k, n, bw, peak float64) float64 {
	if m <= 0 || k <= 0 || n <= 0 {
		return 0
	}
	c := e.co
	eta := hill(m, c.GemmEffMax, c.GemmMHalf, 1)
	tc := 2 * m * k * n / (eta * peak)
	tm := (bw*k*n + 2*(m*k+m*n)) / (c.BWEff * e.hbm)
	return math.Max(tc, tm) + c.GemmFloorUs
}

// elem is one memory-bound element-wise kernel.
func (e *Estimator) elem(bytes float64) float64 {
	return bytes/(e.co.BWEff*e.hbm) + e.co.ElemUs
}

// collective is an all-reduce (factor 2) or all-to-all (factor 1) over g GPUs.
func (e *Estimator) collective(g int, bytes float64, allReduce bool) float64 {
	if g <= 1 || bytes <= 0 {
		return 0
	}
	fam := e.sys.arFamily
	scale := 1.0
	if fam != "a100" && fam != "h100" {
		// No collective data for NVLink5 or PCIe: scale H100's NVSwitch
		// bandwidth by the link ratio (NVLink4 = 450 GB/s per direction).
		fam, scale = "h100", e.sys.LinkGBs/450
	}
	fit, ok := e.co.AllReduce[fam]
	if !ok {
		fit = AllReduceFit{LatencyUs: [3]float64{30, 35, 40}, BusGBs: [3]float64{200, 200, 200}}
	}
	i := 0
	switch {
	case g <= 2:
		i = 0
	case g <= 4:
		i = 1
	default:
		i = 2
	}
	lat := fit.LatencyUs[i] * e.be.ARLatencyScale
	bus := fit.BusGBs[i] * scale
	if g > e.perNode && e.sys.InterNodeGBs > 0 {
		bus = math.Min(bus, e.sys.InterNodeGBs*0.8)
		lat += 10
	}
	f := float64(g-1) / float64(g)
	if allReduce {
		f *= 2
	}
	return lat + bytes*f/(bus*1e3)
}

// stepSpec is one forward pass on one rank.
type stepSpec struct {
	x      float64 // new tokens on this rank
	prefix float64 // prefill: cached tokens before the chunk
	decode bool
	seqs   float64 // decode: sequences on this rank
	ctx    float64 // decode: average context per sequence
	logits float64 // tokens that need logits
}

// attnLayer is one attention block: projections, attention, KV write.
func (e *Estimator) attnLayer(m Mapping, s stepSpec) float64 {
	md := &e.model
	tp := float64(m.TP)
	nh := float64(md.Heads) / tp
	bwF, pk := e.attnBytes(), e.peakAttn
	t := 0.0
	x := s.x
	if md.IsMLA() {
		h := float64(md.Hidden)
		ql, kl, rd, nd, vd := float64(md.QLoraRank), float64(md.KVLoraRank), float64(md.RopeHeadDim), float64(md.NopeHeadDim), float64(md.VHeadDim)
		if ql > 0 {
			t += e.gemm(x, h, ql, bwF, pk) + e.gemm(x, ql, nh*(nd+rd), bwF, pk)
		} else {
			t += e.gemm(x, h, nh*(nd+rd), bwF, pk)
		}
		t += e.gemm(x, h, kl+rd, bwF, pk)
		if s.decode {
			// absorbed: q_nope·W_UK and out·W_UV per head, attention on the latent
			t += e.gemm(x, nd, nh*kl, bwF, pk) + e.gemm(x, kl, nh*vd, bwF, pk)
			flops := 2 * s.seqs * s.ctx * nh * (2*kl + rd)
			bytes := s.seqs * s.ctx * (kl + rd) * e.bkv
			t += math.Max(flops/(e.co.AttnPrefillEffMax*e.peakAtt), bytes/(e.co.AttnDecodeBWEff*e.hbm)) + e.co.AttnDecodeFloorUs
		} else {
			t += e.gemm(x+s.prefix, kl, nh*(nd+vd), bwF, pk)
			// causal: x·(prefix + x/2) score entries (x/2, not (x+1)/2, keeps
			// time monotone in x under the efficiency curve)
			flops := 2 * nh * x * (s.prefix + x/2) * (nd + rd + vd)
			eta := hill(s.prefix+x, e.co.AttnPrefillEffMax, e.co.AttnPrefillSHalf, e.co.AttnPrefillHill)
			t += flops/(eta*e.peakAtt) + e.elem(x*(kl+rd)*e.bkv)
		}
		t += e.gemm(x, nh*vd, h, bwF, pk)
		return t
	}
	h := float64(md.Hidden)
	d := float64(md.headDim())
	nkv := math.Ceil(float64(md.KVHeads) / tp)
	t += e.gemm(x, h, (nh+2*nkv)*d, bwF, pk)
	if s.decode {
		bytes := s.seqs * s.ctx * 2 * nkv * d * e.bkv
		t += bytes/(e.co.AttnDecodeBWEff*e.hbm) + e.co.AttnDecodeFloorUs
	} else {
		flops := 4 * nh * d * x * (s.prefix + x/2) // causal
		eta := hill(s.prefix+x, e.co.AttnPrefillEffMax, e.co.AttnPrefillSHalf, e.co.AttnPrefillHill)
		t += flops/(eta*e.peakAtt) + e.elem(x*2*nkv*d*e.bkv)
	}
	t += e.gemm(x, nh*d, h, bwF, pk)
	return t + e.ropeAndQKNorm(x, nh, nkv, d)
}

// ropeAndQKNorm is the element-wise work on q and k before attention.
// TensorRT-LLM applies RoPE inside its attention kernel, unless the model
// normalises q and k first (Qwen3), which then takes a RoPE kernel of its
// own; vLLM and SGLang always launch one. Qwen3's q and k RMSNorms are a
// kernel each (tensorrt_llm/_torch/models/modeling_qwen3.py runs them on
// two streams; vLLM's and SGLang's Qwen3Attention call q_norm and k_norm).
func (e *Estimator) ropeAndQKNorm(x, nh, nkv, d float64) float64 {
	t := 0.0
	if e.qkNorm || e.opts.Backend != "trtllm" {
		t += e.elem(2 * x * (nh + nkv) * d * 2)
	}
	if e.qkNorm {
		t += e.elem(2*x*nh*d*2) + e.elem(2*x*nkv*d*2)
	}
	return t
}

// mlpDense is a SwiGLU MLP with intermediate size inter split over tp.
func (e *Estimator) mlpDense(x, inter, tp float64) float64 {
	h := float64(e.model.Hidden)
	ig := inter / tp
	return e.gemm(x, h, 2*ig, e.bw, e.peak) + e.elem(x*3*ig*2) + e.gemm(x, ig, h, e.bw, e.peak)
}

// moeLayer is router + routed experts (+ shared experts) + dispatch/combine.
func (e *Estimator) moeLayer(m Mapping, x float64) float64 {
	md := &e.model
	h := float64(md.Hidden)
	E := float64(md.NumExperts)
	k := float64(md.TopK)
	ie := float64(md.ExpertIntermediate)
	ep := float64(m.EP)
	moeTP := e.moeTP(m)
	tokens := x * float64(m.AttnDP) // tokens routed across the expert group
	t := e.gemm(x, h, E, 2, e.peakBF)
	localPairs := tokens * k / ep
	active := (E / ep) * (1 - math.Pow(1-k/E, tokens))
	if active < 1 {
		active = 1
	}
	me := localPairs / active
	eta := hill(me, e.co.GemmEffMax, e.co.GemmMHalf, 1)
	flops := 2 * localPairs * h * 3 * ie / moeTP
	bytes := active*3*h*ie/moeTP*e.bw + 2*localPairs*(2*h+3*ie/moeTP)
	grouped := math.Max(flops/(eta*e.peak), bytes/(e.co.BWEff*e.hbm)) + 2*e.co.GemmFloorUs
	t += e.moeScale*grouped + e.elem(localPairs*3*ie/moeTP*2)
	if md.SharedExperts > 0 {
		t += e.mlpDense(x, float64(md.SharedExperts)*ie, float64(m.TP))
	}
	if m.Kind == "DEP" && m.EP > 1 {
		a2a := x * k * h * 2
		t += 2 * e.collective(m.EP, a2a, false)
	}
	return t
}

// forward is one engine step on one rank.
func (e *Estimator) forward(m Mapping, s stepSpec) float64 {
	md := &e.model
	h := float64(md.Hidden)
	L := float64(md.Layers)
	x := s.x
	tp := float64(m.TP)
	norms := 2 * e.elem(x*2*h*2*2)
	ar := 0.0
	if m.TP > 1 {
		ar = 2 * e.collective(m.TP, x*h*2, true)
	}
	attn := e.attnLayer(m, s)
	t := 0.0
	if md.IsMoE() {
		dl := float64(md.DenseLayers)
		t += dl * (attn + norms + ar + e.mlpDense(x, float64(md.Intermediate), tp))
		t += (L - dl) * (attn + norms + ar + e.moeLayer(m, x))
	} else {
		t += L * (attn + norms + ar + e.mlpDense(x, float64(md.Intermediate), tp))
	}
	// embedding (+ its all-reduce when vocab-parallel), final norm, LM head in BF16
	t += e.elem(x * h * 2)
	if m.TP > 1 {
		t += e.collective(m.TP, x*h*2, true)
	}
	t += e.elem(x * h * 2 * 2)
	t += e.gemm(math.Max(s.logits, 1), h, float64(md.Vocab)/tp, 2, e.peakBF)
	return t
}

// stepOverheadMs is the backend's fixed cost of one engine step on this GPU
// generation: scheduling, kernel launch, sampling and output processing.
func (e *Estimator) stepOverheadMs(m Mapping) float64 {
	return e.be.StepMs + e.be.StepTPMs*math.Log2(float64(m.N))
}

const maxChunk = 32768

// PrefillTTFT is the time to first token of one request of isl new tokens,
// batch 1 per attention-DP rank, empty cache, chunked at 32768 tokens, as
// the engine serves it: each chunk is one engine step (its fixed cost plus
// the forward pass, plus the host's kernel launches when the step runs
// outside the CUDA graphs). A benchmark client's own costs (HTTP, tokenising on
// its side) are not part of it; ACCURACY.md reports them per data source.
func (e *Estimator) PrefillTTFT(m Mapping, isl int) (float64, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	if err := checkISL(isl); err != nil {
		return 0, err
	}
	return e.prefill(m, isl, 0), nil
}

// checkISL validates a prompt length.
func checkISL(isl int) error {
	if isl < 1 || isl > 1<<22 {
		return fmt.Errorf("isl %d is out of range: use 1 to %d tokens", isl, 1<<22)
	}
	return nil
}

// prefill is TTFT for isl new tokens after prefix cached tokens.
func (e *Estimator) prefill(m Mapping, isl, prefix int) float64 {
	us := 0.0
	steps := 0
	for done := 0; done < isl; done += maxChunk {
		x := min(isl-done, maxChunk)
		logits := 0.0
		if done+x == isl {
			logits = 1
		}
		us += e.forward(m, stepSpec{x: float64(x), prefix: float64(prefix + done), logits: logits})
		steps++
	}
	us += float64(e.eagerPrefillLayers(m, isl)) * e.be.EagerLayerUs
	return float64(steps)*e.stepOverheadMs(m) + us/1000
}

// eagerPrefillLayers counts the layers of a prefill of isl new tokens that
// run outside the captured CUDA graphs: each such layer pays the same
// host launch cost as a decode step beyond the graphs (EagerLayerUs).
func (e *Estimator) eagerPrefillLayers(m Mapping, isl int) int {
	limit := e.engine(m).prefillGraphTokens
	steps := 0
	for done := 0; done < isl; done += maxChunk {
		if min(isl-done, maxChunk) > limit {
			steps++
		}
	}
	return steps * e.model.Layers
}

// EagerPrefillLayers is how many layers of a prefill of isl new tokens the
// engine launches outside its CUDA graphs (calibration separates this
// cost from the forward pass).
func (e *Estimator) EagerPrefillLayers(m Mapping, isl int) (int, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	if err := checkISL(isl); err != nil {
		return 0, err
	}
	return e.eagerPrefillLayers(m, isl), nil
}

// PrefillTTFTWithPrefix is PrefillTTFT when prefix tokens are already
// cached (prefix caching): only isl new tokens are computed.
func (e *Estimator) PrefillTTFTWithPrefix(m Mapping, isl, prefix int) (float64, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	if err := checkISL(isl); err != nil {
		return 0, err
	}
	if prefix < 0 || prefix > 1<<22 {
		return 0, fmt.Errorf("prefix %d is out of range: use 0 to %d tokens", prefix, 1<<22)
	}
	return e.prefill(m, isl, prefix), nil
}

// DecodeITL is the steady-state decode step time with concurrency
// sequences in flight at an average context of contextLength tokens.
func (e *Estimator) DecodeITL(m Mapping, concurrency int, contextLength float64) (float64, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	if concurrency < 1 || concurrency > 1<<20 {
		return 0, fmt.Errorf("concurrency %d is out of range: use 1 to %d", concurrency, 1<<20)
	}
	if math.IsNaN(contextLength) || contextLength < 0 || contextLength > 1<<24 {
		return 0, fmt.Errorf("context length %v is out of range: use 0 to %d tokens", contextLength, 1<<24)
	}
	return e.decode(m, concurrency, contextLength), nil
}

func (e *Estimator) decode(m Mapping, concurrency int, ctx float64) float64 {
	cr := math.Ceil(float64(concurrency) / float64(m.AttnDP))
	us := e.forward(m, stepSpec{x: cr, decode: true, seqs: cr, ctx: ctx, logits: cr})
	perSeq := e.be.PerSeqLayerUs * float64(e.model.Layers)
	return e.stepOverheadMs(m) + (us+perSeq*cr+e.eagerUs(m, cr))/1000
}

// eagerUs is the launch cost a decode step pays when its batch is larger
// than the engine's largest captured CUDA graph: every layer's kernels are
// then launched one by one (engineConfig.graphBatch names each limit).
func (e *Estimator) eagerUs(m Mapping, cr float64) float64 {
	if cr <= float64(e.engine(m).graphBatch) {
		return 0
	}
	return e.be.EagerLayerUs * float64(e.model.Layers)
}

// PrefillThroughputPerGPU is isl·1000/TTFT·attn_dp/n input tokens/s/GPU.
func (e *Estimator) PrefillThroughputPerGPU(m Mapping, isl int) (float64, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	ttft, err := e.PrefillTTFT(m, isl)
	if err != nil {
		return 0, err
	}
	return float64(isl) * 1000 / ttft * float64(m.AttnDP) / float64(m.N), nil
}

// DecodeThroughputPerGPU is c·1000/ITL/n output tokens/s/GPU.
func (e *Estimator) DecodeThroughputPerGPU(m Mapping, concurrency int, contextLength float64) (float64, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	itl, err := e.DecodeITL(m, concurrency, contextLength)
	if err != nil {
		return 0, err
	}
	return float64(concurrency) * 1000 / itl / float64(m.N), nil
}
