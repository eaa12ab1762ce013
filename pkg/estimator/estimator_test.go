package estimator

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustEstimator(t testing.TB, model, system, backend string) *Estimator {
	t.Helper()
	md, err := LookupModel(model)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := LookupSystem(system)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(md, sys, Options{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// Llama-3.1-8B by hand: h=4096, 32 heads, 8 KV heads, d=128, I=14336.
// QKV 4096·128·(32+2·8) = 25 165 824; O 32·128·4096 = 16 777 216;
// gate+up 4096·2·14336 = 117 440 512; down 14336·4096 = 58 720 256.
func TestLlamaLayerCountsByHand(t *testing.T) {
	e := mustEstimator(t, "meta-llama/Llama-3.1-8B", "h100_sxm", "vllm")
	const params = 25165824 + 16777216 + 117440512 + 58720256 // 218 103 808
	flops, bytes, err := e.LayerCounts(1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if flops != 2*1000*params || bytes != 2*params {
		t.Fatalf("TP1: flops %g bytes %g, want %g and %g", flops, bytes, 2.0*1000*params, 2.0*params)
	}
	// TP4: 8 heads, 2 KV heads, I/4 = 3584 per GPU.
	const p4 = 4096*128*(8+2*2) + 8*128*4096 + 4096*2*3584 + 3584*4096
	flops, bytes, err = e.LayerCounts(4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if flops != 2*p4 || bytes != 2*p4 {
		t.Fatalf("TP4: flops %g bytes %g, want %d", flops, bytes, 2*p4)
	}
	if _, _, err := e.LayerCounts(3, 1); err == nil {
		t.Fatal("TP3 does not divide 32 heads but LayerCounts accepted it")
	}
	// Whole model: 32 layers + untied 128256×4096 embedding and LM head +
	// norms = 8.03 B parameters, 16.06 GB in BF16.
	m := NewMapping("TP", 1)
	total := e.weightBytesPerGPU(m)
	want := 2.0 * (32*(params+2*4096) + 2*128256*4096)
	if total != want {
		t.Fatalf("weights %g bytes, want %g", total, want)
	}
	if !near(total/2, 8.03e9, 0.005) {
		t.Fatalf("Llama-3.1-8B has %g parameters, want ≈ 8.03e9", total/2)
	}
}

func TestGEMMRoofline(t *testing.T) {
	e := mustEstimator(t, "meta-llama/Llama-3.1-8B", "h100_sxm", "vllm")
	c := e.co
	// Large m is compute bound: 2mkn/(η(m)·peak) + floor.
	m, k, n := 16384.0, 4096.0, 4096.0
	eta := c.GemmEffMax * m / (m + c.GemmMHalf)
	want := 2*m*k*n/(eta*e.peak) + c.GemmFloorUs
	if got := e.gemm(m, k, n, 2, e.peak); !near(got, want, 1e-12) {
		t.Fatalf("compute-bound GEMM %g µs, want %g", got, want)
	}
	// m = 1 is weight-bandwidth bound: bytes/(η_bw·BW) + floor.
	want = (2*k*n+2*(k+n))/(c.BWEff*e.hbm) + c.GemmFloorUs
	if got := e.gemm(1, k, n, 2, e.peak); !near(got, want, 1e-12) {
		t.Fatalf("memory-bound GEMM %g µs, want %g", got, want)
	}
	// Time never falls as m grows (the decode batch can only cost more).
	prev := 0.0
	for m := 1.0; m <= 1<<17; m *= 1.5 {
		got := e.gemm(m, k, n, 2, e.peak)
		if got < prev {
			t.Fatalf("GEMM time fell from %g to %g at m=%g", prev, got, m)
		}
		prev = got
	}
}

func TestKVBytesPerToken(t *testing.T) {
	cases := []struct {
		model string
		tp    int
		want  float64
	}{
		{"meta-llama/Llama-3.1-8B", 1, 2 * 32 * 8 * 128 * 2}, // 131 072
		{"meta-llama/Llama-3.1-8B", 4, 2 * 32 * 2 * 128 * 2},
		{"meta-llama/Llama-3.1-8B", 8, 2 * 32 * 1 * 128 * 2},
		{"meta-llama/Llama-3.1-8B", 16, 2 * 32 * 1 * 128 * 2}, // KV heads replicated, not split below 1
		{"Qwen/Qwen3-32B", 2, 2 * 64 * 4 * 128 * 2},           // head_dim from config (h ≠ heads·d)
		{"deepseek-ai/DeepSeek-V3", 1, 61 * (512 + 64) * 2},   // MLA latent: 70 272
		{"deepseek-ai/DeepSeek-V3", 8, 61 * (512 + 64) * 2},   // not divided by TP
	}
	for _, c := range cases {
		e := mustEstimator(t, c.model, "h200_sxm", "vllm")
		if e.model.IsMLA() {
			e.bkv = 2
		}
		mem, err := e.Memory(NewMapping("TP", c.tp))
		if err != nil {
			t.Fatalf("%s TP%d: %v", c.model, c.tp, err)
		}
		if mem.KVBytesPerToken != c.want {
			t.Errorf("%s TP%d: KV bytes/token %g, want %g", c.model, c.tp, mem.KVBytesPerToken, c.want)
		}
	}
	// FP8 KV halves it.
	md, _ := LookupModel("meta-llama/Llama-3.1-8B")
	sys, _ := LookupSystem("h100_sxm")
	e, _ := New(md, sys, Options{Backend: "vllm", KVPrecision: "fp8"})
	if mem, _ := e.Memory(NewMapping("TP", 1)); mem.KVBytesPerToken != 65536 {
		t.Errorf("FP8 KV: %g bytes/token, want 65536", mem.KVBytesPerToken)
	}
}

func TestMemoryFitAndOOM(t *testing.T) {
	e := mustEstimator(t, "meta-llama/Llama-3.1-70B", "h100_sxm", "vllm")
	// 141 GB of BF16 weights do not fit one 80 GB GPU.
	mem, err := e.Memory(NewMapping("TP", 1))
	if err != nil {
		t.Fatal(err)
	}
	if mem.Fits || mem.MaxKVTokens != 0 || mem.KVGiBPerGPU != 0 {
		t.Errorf("TP1: %+v, want an OOM (fits=false, no KV)", mem)
	}
	mem4, _ := e.Memory(NewMapping("TP", 4))
	mem8, _ := e.Memory(NewMapping("TP", 8))
	if !mem4.Fits || mem4.MaxKVTokens <= 0 || mem8.MaxKVTokens <= mem4.MaxKVTokens {
		t.Fatalf("TP4 %+v / TP8 %+v: want both to fit with capacity growing", mem4, mem8)
	}
	if mc, err := e.MaxConcurrency(NewMapping("TP", 4), 3000, 1000); err != nil || mc != mem4.MaxKVTokens/4000 {
		t.Errorf("MaxConcurrency = %d, %v; want %d", mc, err, mem4.MaxKVTokens/4000)
	}
	// vLLM rule by hand: total·0.9 − weights − sampler peak (39 B × 1024
	// sequences × 128256 vocabulary) − non-torch (0.13 + 0.42 GiB at TP 4).
	kv := 79.18*0.9 - mem4.WeightsGiBPerGPU - 39.0*1024*128256/gib - 0.55
	want := math.Floor(kv*gib/mem4.KVBytesPerToken/16) * 16
	if float64(mem4.MaxKVTokens) != want || !near(mem4.KVGiBPerGPU, kv, 1e-12) {
		t.Errorf("TP4 capacity %d (%g GiB), want %g (%g GiB)", mem4.MaxKVTokens, mem4.KVGiBPerGPU, want, kv)
	}
	// A lower utilisation leaves less KV; FP8 weights leave more.
	md, _ := LookupModel("meta-llama/Llama-3.1-70B")
	low, _ := New(md, &e.sys, Options{Backend: "vllm", GPUMemoryUtilization: 0.5})
	fp8, _ := New(md, &e.sys, Options{Backend: "vllm", Precision: "fp8"})
	mLow, _ := low.Memory(NewMapping("TP", 4))
	mFP8, _ := fp8.Memory(NewMapping("TP", 4))
	if mLow.MaxKVTokens >= mem4.MaxKVTokens || mFP8.MaxKVTokens <= mem4.MaxKVTokens {
		t.Errorf("u=0.5: %d, fp8: %d, default: %d", mLow.MaxKVTokens, mFP8.MaxKVTokens, mem4.MaxKVTokens)
	}
	// DEP: each attention-DP rank holds its own KV; the engine total scales.
	ds := mustEstimator(t, "deepseek-ai/DeepSeek-R1", "h200_sxm", "sglang")
	dep, err := ds.Memory(NewMapping("DEP", 8))
	if err != nil {
		t.Fatal(err)
	}
	if !dep.Fits || dep.MaxKVTokens <= 0 || dep.BlockTokens != 1 {
		t.Fatalf("DeepSeek-R1 FP8 DEP8 on H200: %+v, want it to fit with 1-token pages", dep)
	}
	perRank := math.Floor(dep.KVGiBPerGPU * gib / dep.KVBytesPerToken)
	if float64(dep.MaxKVTokens) != 8*perRank {
		t.Errorf("DEP8 capacity %d, want 8 × %g", dep.MaxKVTokens, perRank)
	}
}

func TestTTFTRisesWithISL(t *testing.T) {
	for _, name := range []string{"Qwen/Qwen3-0.6B", "meta-llama/Llama-3.1-70B", "deepseek-ai/DeepSeek-V3"} {
		for _, be := range Backends() {
			e := mustEstimator(t, name, "h200_sxm", be)
			for _, m := range []Mapping{NewMapping("TP", 8), NewMapping("TEP", 8), NewMapping("DEP", 8)} {
				prev := 0.0
				for _, isl := range []int{1, 2, 16, 100, 1000, 3000, 8191, 8192, 32767, 32768, 32769, 65536, 131072, 262144} {
					got, err := e.PrefillTTFT(m, isl)
					if err != nil {
						t.Fatalf("%s %s %s isl %d: %v", name, be, m.Label(), isl, err)
					}
					if !(got > prev) || math.IsInf(got, 0) {
						t.Fatalf("%s %s %s: TTFT(%d) = %g not above %g", name, be, m.Label(), isl, got, prev)
					}
					prev = got
				}
			}
		}
	}
}

func TestITLRisesWithConcurrencyAndContext(t *testing.T) {
	for _, name := range []string{"Qwen/Qwen3-8B", "meta-llama/Llama-3.1-405B", "Qwen/Qwen3-235B-A22B", "deepseek-ai/DeepSeek-R1"} {
		for _, run := range []struct{ system, backend string }{{"b200_sxm", "trtllm"}, {"h200_sxm", "sglang"}, {"h100_sxm", "vllm"}} {
			e := mustEstimator(t, name, run.system, run.backend)
			testITLRises(t, e, name+" "+run.backend)
		}
	}
}

func testITLRises(t *testing.T, e *Estimator, name string) {
	t.Helper()
	itl := func(m Mapping, c int, ctx float64) float64 {
		v, err := e.DecodeITL(m, c, ctx)
		if err != nil {
			t.Fatalf("%s %s c=%d ctx=%g: %v", name, m.Label(), c, ctx, err)
		}
		return v
	}
	for _, m := range []Mapping{NewMapping("TP", 8), NewMapping("DEP", 8)} {
		prevC := 0.0
		for _, c := range []int{1, 2, 3, 8, 9, 64, 100, 256, 257, 512, 513, 2000} {
			v := itl(m, c, 4096)
			if v < prevC {
				t.Fatalf("%s %s: ITL fell to %g at c=%d (was %g)", name, m.Label(), v, c, prevC)
			}
			prevC = v
			prevS := 0.0
			for _, s := range []float64{0, 1, 100, 1000, 8192, 32768, 131072} {
				v := itl(m, c, s)
				if v < prevS {
					t.Fatalf("%s %s c=%d: ITL fell to %g at context %g", name, m.Label(), c, v, s)
				}
				prevS = v
			}
		}
		if lo, hi := itl(m, 1, 1000), itl(m, 256, 32000); !(hi > lo*1.2) {
			t.Errorf("%s %s: ITL barely moves from c=1,s=1k (%g) to c=256,s=32k (%g)", name, m.Label(), lo, hi)
		}
	}
}

// Speed-ups from TP are real but sub-linear, and throughput per GPU at
// batch 1 falls with TP because communication and fixed costs grow.
func TestThroughputAcrossTP(t *testing.T) {
	e := mustEstimator(t, "Qwen/Qwen3-32B", "h100_sxm", "vllm")
	var prevTTFT, prevITL, prevPerGPU float64
	for i, tp := range []int{1, 2, 4, 8} {
		m := NewMapping("TP", tp)
		ttft, _ := e.PrefillTTFT(m, 4096)
		itl, _ := e.DecodeITL(m, 1, 4096)
		perGPU := 1000 / itl / float64(tp)
		if got, _ := e.DecodeThroughputPerGPU(m, 1, 4096); got != perGPU {
			t.Errorf("DecodeThroughputPerGPU = %g, want %g", got, perGPU)
		}
		if got, _ := e.PrefillThroughputPerGPU(m, 4096); !near(got, 4096*1000/ttft/float64(tp), 1e-12) {
			t.Errorf("PrefillThroughputPerGPU = %g", got)
		}
		if i > 0 {
			if !(ttft < prevTTFT && itl < prevITL) {
				t.Errorf("TP%d: TTFT %g / ITL %g not below TP%d's %g / %g", tp, ttft, itl, tp/2, prevTTFT, prevITL)
			}
			if !(ttft > prevTTFT/2 && itl > prevITL/2) {
				t.Errorf("TP%d: super-linear speed-up (TTFT %g vs %g, ITL %g vs %g)", tp, ttft, prevTTFT, itl, prevITL)
			}
			if !(perGPU < prevPerGPU) {
				t.Errorf("TP%d: batch-1 tokens/s/GPU %g not below %g", tp, perGPU, prevPerGPU)
			}
		}
		prevTTFT, prevITL, prevPerGPU = ttft, itl, perGPU
	}
	// At high load the per-GPU decode throughput stays within a sane band.
	for _, tp := range []int{2, 4, 8} {
		itl, _ := e.DecodeITL(NewMapping("TP", tp), 128, 2048)
		perGPU := 128 * 1000 / itl / float64(tp)
		if perGPU < 50 || perGPU > 5000 {
			t.Errorf("TP%d c=128: %g tok/s/GPU is implausible", tp, perGPU)
		}
	}
	// TP > 1 pays a communication cost: without all-reduce it would be faster.
	co := e.co.Clone()
	co.AllReduce = map[string]AllReduceFit{"h100": {LatencyUs: [3]float64{0, 0, 0}, BusGBs: [3]float64{1e12, 1e12, 1e12}}}
	md, _ := LookupModel("Qwen/Qwen3-32B")
	free, _ := New(md, &e.sys, Options{Backend: "vllm", Coefficients: co})
	a, _ := e.DecodeITL(NewMapping("TP", 4), 8, 2048)
	b, _ := free.DecodeITL(NewMapping("TP", 4), 8, 2048)
	if !(a > b) {
		t.Errorf("TP4 ITL %g does not include communication (free: %g)", a, b)
	}
}

func TestMoETopKAndDispatch(t *testing.T) {
	dense := mustEstimator(t, "Qwen/Qwen3-32B", "h100_sxm", "vllm")
	moe := mustEstimator(t, "Qwen/Qwen3-30B-A3B", "h100_sxm", "vllm")
	d, _ := dense.DecodeITL(NewMapping("TP", 1), 1, 1024)
	m, _ := moe.DecodeITL(NewMapping("TP", 1), 1, 1024)
	if !(m < 0.5*d) {
		t.Errorf("30B-A3B ITL %g ms is not far below dense 32B's %g ms at batch 1 (top-8 of 128 experts)", m, d)
	}
	// More tokens touch more experts: the MoE step cost grows with batch.
	m64, _ := moe.DecodeITL(NewMapping("TP", 1), 64, 1024)
	if !(m64 > 1.3*m) {
		t.Errorf("30B-A3B c=64 ITL %g barely above c=1 %g", m64, m)
	}
	// DEP pays an all-to-all that TEP does not, and has no attention TP.
	ds := mustEstimator(t, "deepseek-ai/DeepSeek-R1", "h200_sxm", "sglang")
	co := ds.co.Clone()
	co.AllReduce = map[string]AllReduceFit{"h100": {BusGBs: [3]float64{1e12, 1e12, 1e12}}}
	md, _ := LookupModel("deepseek-ai/DeepSeek-R1")
	free, _ := New(md, &ds.sys, Options{Backend: "sglang", Coefficients: co})
	a, _ := ds.DecodeITL(NewMapping("DEP", 8), 64, 2048)
	b, _ := free.DecodeITL(NewMapping("DEP", 8), 64, 2048)
	if !(a > b) {
		t.Errorf("DEP8 ITL %g does not include the all-to-all (free: %g)", a, b)
	}
}

// Same inputs give bit-identical outputs, across calls and across two
// estimators built apart (no shared state, no randomness, no clock).
func TestDeterministic(t *testing.T) {
	for _, be := range Backends() {
		a := mustEstimator(t, "meta-llama/Llama-3.1-70B", "h200_sxm", be)
		b := mustEstimator(t, "meta-llama/Llama-3.1-70B", "h200_sxm", be)
		for _, m := range []Mapping{NewMapping("TP", 2), NewMapping("TP", 4), NewMapping("TP", 8)} {
			var first []float64
			for _, e := range []*Estimator{a, b, a} {
				var got []float64
				for _, isl := range []int{1, 3000, 40000} {
					v, err := e.PrefillTTFT(m, isl)
					if err != nil {
						t.Fatalf("%s %s PrefillTTFT(%d): %v", be, m.Label(), isl, err)
					}
					got = append(got, v)
				}
				for _, c := range []int{1, 37, 600} {
					v, err := e.DecodeITL(m, c, 3075.5)
					if err != nil {
						t.Fatalf("%s %s DecodeITL(%d): %v", be, m.Label(), c, err)
					}
					got = append(got, v)
				}
				kv, err := e.MaxKVTokens(m)
				if err != nil || kv <= 0 {
					t.Fatalf("%s %s MaxKVTokens = %d, %v", be, m.Label(), kv, err)
				}
				got = append(got, float64(kv))
				if first == nil {
					first = got
					continue
				}
				for i := range got {
					if math.Float64bits(got[i]) != math.Float64bits(first[i]) {
						t.Fatalf("%s %s answer %d: %v then %v", be, m.Label(), i, first[i], got[i])
					}
				}
			}
		}
	}
}

func TestInputErrors(t *testing.T) {
	e := mustEstimator(t, "Qwen/Qwen3-0.6B", "h100_sxm", "vllm")
	md, _ := LookupModel("Qwen/Qwen3-0.6B")
	sys, _ := LookupSystem("h100_sxm")
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"backend", func() error { _, err := New(md, sys, Options{Backend: "tgi"}); return err }(), `backend "tgi"`},
		{"precision", func() error { _, err := New(md, sys, Options{Backend: "vllm", Precision: "int3"}); return err }(), `precision "int3"`},
		{"kv", func() error { _, err := New(md, sys, Options{Backend: "vllm", KVPrecision: "x"}); return err }(), `kv precision "x"`},
		{"util", func() error { _, err := New(md, sys, Options{Backend: "vllm", GPUMemoryUtilization: 1.5}); return err }(), "gpu memory utilization"},
		{"nil model", func() error { _, err := New(nil, sys, Options{Backend: "vllm"}); return err }(), "model is nil"},
		{"heads", func() error { _, err := e.PrefillTTFT(NewMapping("TP", 3), 10); return err }(), "not divisible by tp 3"},
		{"kind", func() error { _, err := e.PrefillTTFT(Mapping{Kind: "PP", N: 2}, 10); return err }(), `kind "PP"`},
		{"n", func() error { _, err := e.PrefillTTFT(Mapping{Kind: "TP", N: 0}, 10); return err }(), "GPU count 0"},
		{"inconsistent", func() error { _, err := e.PrefillTTFT(Mapping{Kind: "TP", N: 4, TP: 2, AttnDP: 1}, 10); return err }(), "must equal the GPU count"},
		{"isl", func() error { _, err := e.PrefillTTFT(NewMapping("TP", 1), 0); return err }(), "isl 0"},
		{"conc", func() error { _, err := e.DecodeITL(NewMapping("TP", 1), 0, 10); return err }(), "concurrency 0"},
		{"ctx", func() error { _, err := e.DecodeITL(NewMapping("TP", 1), 1, math.NaN()); return err }(), "context length"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, c.err, c.want)
		}
	}
}

// forEachCatalogEstimator calls f with an estimator for every catalog
// model on every system and backend.
func forEachCatalogEstimator(t *testing.T, f func(name string, e *Estimator)) {
	t.Helper()
	for _, m := range catalog {
		for _, s := range Systems() {
			for _, be := range Backends() {
				md, _ := LookupModel(m.HFID)
				sys, _ := LookupSystem(s)
				e, err := New(md, sys, Options{Backend: be})
				if err != nil {
					t.Fatalf("%s %s %s: %v", m.HFID, s, be, err)
				}
				f(m.HFID+" "+s+" "+be, e)
			}
		}
	}
}

func TestEveryCatalogEntryAnswers(t *testing.T) {
	forEachCatalogEstimator(t, func(name string, e *Estimator) {
		for _, kind := range []string{"TP", "TEP", "DEP"} {
			for _, n := range []int{1, 2, 4, 8, 16} {
				mp := NewMapping(kind, n)
				if _, err := e.CheckMapping(mp); err != nil {
					continue
				}
				ttft, err1 := e.PrefillTTFT(mp, 3000)
				itl, err2 := e.DecodeITL(mp, 16, 3075)
				mem, err3 := e.Memory(mp)
				if err1 != nil || err2 != nil || err3 != nil {
					t.Fatalf("%s %s: %v %v %v", name, mp.Label(), err1, err2, err3)
				}
				if !(ttft > 0 && itl > 0) || math.IsInf(ttft, 0) || math.IsInf(itl, 0) || mem.MaxKVTokens < 0 {
					t.Fatalf("%s %s: ttft %g itl %g kv %d", name, mp.Label(), ttft, itl, mem.MaxKVTokens)
				}
			}
		}
	})
}

func TestLookups(t *testing.T) {
	for _, c := range []struct{ in, hf string }{
		{"QWEN3_0.6B", "Qwen/Qwen3-0.6B"}, {"QWEN3_0_6B", "Qwen/Qwen3-0.6B"}, {"qwen/qwen3-0.6b", "Qwen/Qwen3-0.6B"},
		{"QWEN3_32B", "Qwen/Qwen3-32B"}, {"LLAMA3.1_70B", "meta-llama/Llama-3.1-70B"}, {"DEEPSEEK_V3", "deepseek-ai/DeepSeek-V3"},
		{"meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"}, {"Qwen3-14B", "Qwen/Qwen3-14B"},
		{"deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"},
		{"openai/gpt-oss-120b", "openai/gpt-oss-120b"}, {"mistralai/Mixtral-8x7B-v0.1", "mistralai/Mixtral-8x7B-v0.1"},
	} {
		m, err := LookupModel(c.in)
		if err != nil || m.HFID != c.hf {
			t.Errorf("LookupModel(%q) = %v, %v; want %s", c.in, m, err, c.hf)
		}
	}
	if _, err := LookupModel("acme/unknown-7b"); err == nil || !strings.Contains(err.Error(), "--model-config") {
		t.Errorf("unknown model error %v does not say how to supply a config", err)
	}
	ds, _ := LookupModel("deepseek-ai/DeepSeek-R1")
	q, _ := LookupModel("Qwen/Qwen3-235B-A22B")
	l, _ := LookupModel("LLAMA3.1_8B")
	if !ds.IsMoE() || !ds.IsMLA() || !q.IsMoE() || q.IsMLA() || l.IsMoE() || l.IsMLA() {
		t.Error("IsMoE/IsMLA misclassify DeepSeek-R1, Qwen3-235B or Llama-3.1-8B")
	}
	for _, c := range []struct{ in, want string }{{"H100_SXM", "h100_sxm"}, {"gb200", "gb200_sxm"}, {"GB200_SXM", "gb200_sxm"}, {"l40s", "l40s"}} {
		s, err := LookupSystem(c.in)
		if err != nil || s.Name != c.want {
			t.Errorf("LookupSystem(%q) = %v, %v", c.in, s, err)
		}
	}
	if _, err := LookupSystem("tpu_v5"); err == nil || !strings.Contains(err.Error(), "a100_sxm, b200_sxm, gb200_sxm, h100_sxm, h200_sxm, l40s") {
		t.Errorf("unknown system error %v does not list the valid ones", err)
	}
	for _, c := range []struct{ in, want string }{
		{"NVIDIA-H100-80GB-HBM3", "h100_sxm"}, {"NVIDIA-H200", "h200_sxm"}, {"NVIDIA-A100-SXM4-80GB", "a100_sxm"},
		{"NVIDIA-B200", "b200_sxm"}, {"NVIDIA-GB200", "gb200_sxm"}, {"NVIDIA-L40S", "l40s"},
	} {
		s, err := SystemForGPUProduct(c.in)
		if err != nil || s.Name != c.want {
			t.Errorf("SystemForGPUProduct(%q) = %v, %v; want %s", c.in, s, err, c.want)
		}
	}
	for _, p := range []string{"NVIDIA-H100-PCIe", "Tesla-T4", "NVIDIA-A100-SXM4-40GB", ""} {
		if _, err := SystemForGPUProduct(p); err == nil || !strings.Contains(err.Error(), "unknown GPU product") {
			t.Errorf("SystemForGPUProduct(%q): %v, want an unknown-product error", p, err)
		}
	}
}

func TestAICRule(t *testing.T) {
	err := AICCheckTP(16, 8)
	if err == nil || err.Error() != "num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4" {
		t.Fatalf("AICCheckTP(16, 8) = %v", err)
	}
	if AICCheckTP(16, 4) != nil || AICCheckTP(64, 16) != nil || AICCheckTP(40, 3) == nil || AICCheckTP(8, 0) == nil {
		t.Fatal("AICCheckTP disagrees with heads % tp == 0 && heads/tp >= 4")
	}
	for heads, want := range map[int]int{16: 4, 32: 8, 40: 8, 64: 16, 128: 32, 28: 4, 1: 1, 4: 1, 0: 1} {
		if got := AICMaxTP(heads); got != want {
			t.Errorf("AICMaxTP(%d) = %d, want %d", heads, got, want)
		}
	}
	q, _ := LookupModel("QWEN3_0_6B")
	if AICCheckTP(q.Heads, 8) == nil || AICMaxTP(q.Heads) != 4 {
		t.Error("Qwen3-0.6B: the rule must forbid TP 8 (16/8 = 2 < 4) and allow TP 4")
	}
}

func TestLoadModelConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"architectures":["Qwen3ForCausalLM"],"num_hidden_layers":36,"hidden_size":4096,"num_attention_heads":32,
"num_key_value_heads":8,"head_dim":128,"intermediate_size":12288,"vocab_size":151936,"max_position_embeddings":40960,
"tie_word_embeddings":false,"torch_dtype":"bfloat16"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "config.json")} {
		m, err := LoadModelConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := LookupModel("Qwen/Qwen3-8B")
		if m.Layers != ref.Layers || m.Hidden != ref.Hidden || m.Heads != ref.Heads || m.KVHeads != ref.KVHeads ||
			m.HeadDim != ref.HeadDim || m.Intermediate != ref.Intermediate || m.Vocab != ref.Vocab || m.WeightDtype != "bf16" {
			t.Fatalf("%s: %+v differs from Qwen3-8B %+v", p, m, ref)
		}
	}
	ds := `{"architectures":["DeepseekV3ForCausalLM"],"num_hidden_layers":61,"hidden_size":7168,"num_attention_heads":128,
"num_key_value_heads":128,"intermediate_size":18432,"vocab_size":129280,"n_routed_experts":256,"num_experts_per_tok":8,
"moe_intermediate_size":2048,"n_shared_experts":1,"first_k_dense_replace":3,"kv_lora_rank":512,"q_lora_rank":1536,
"qk_rope_head_dim":64,"qk_nope_head_dim":128,"v_head_dim":128,"quantization_config":{"quant_method":"fp8"}}`
	m, err := ParseModelConfig([]byte(ds))
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsMoE() || !m.IsMLA() || m.WeightDtype != "fp8" || m.HeadDim != 192 || m.DenseLayers != 3 {
		t.Fatalf("DeepSeek config parsed as %+v", m)
	}
	for _, bad := range []string{`{}`, `[]`, `{"num_hidden_layers":-1,"hidden_size":1,"num_attention_heads":1,"vocab_size":1}`,
		`{"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":10,"intermediate_size":0}`, `not json`} {
		if _, err := ParseModelConfig([]byte(bad)); err == nil {
			t.Errorf("ParseModelConfig(%s) accepted a broken config", bad)
		}
	}
	if _, err := LoadModelConfig(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("missing path error %v", err)
	}
}

// FuzzParseModelConfig: no input panics; anything accepted can be estimated.
func FuzzParseModelConfig(f *testing.F) {
	f.Add([]byte(`{"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"vocab_size":100}`))
	f.Add([]byte(`{"text_config":{"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"intermediate_size":8,"vocab_size":9}}`))
	f.Add([]byte(`{"num_hidden_layers":3,"hidden_size":64,"num_attention_heads":4,"vocab_size":9,"n_routed_experts":8,"num_experts_per_tok":2,"moe_intermediate_size":16,"kv_lora_rank":8,"qk_rope_head_dim":4,"qk_nope_head_dim":4,"v_head_dim":4}`))
	f.Add([]byte(`{"num_hidden_layers":1e300}`))
	sys, _ := LookupSystem("h100_sxm")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModelConfig(data)
		if err != nil {
			return
		}
		if m.Layers <= 0 || m.Hidden <= 0 || m.Heads <= 0 || m.KVHeads <= 0 || m.Vocab <= 0 {
			t.Fatalf("accepted a non-positive shape: %+v", m)
		}
		e, err := New(m, sys, Options{Backend: "vllm"})
		if err != nil {
			t.Fatalf("accepted config cannot be estimated: %v", err)
		}
		mp := NewMapping("TP", 1)
		ttft, err1 := e.PrefillTTFT(mp, 128)
		itl, err2 := e.DecodeITL(mp, 4, 200)
		_, err3 := e.Memory(mp)
		if err1 != nil || err2 != nil || err3 != nil || math.IsNaN(ttft) || math.IsNaN(itl) {
			t.Fatalf("estimates failed: %v %v %v (%g, %g)", err1, err2, err3, ttft, itl)
		}
	})
}

func TestBadCoefficientsRejected(t *testing.T) {
	md, _ := LookupModel("Qwen/Qwen3-8B")
	sys, _ := LookupSystem("l40s")
	if _, err := New(md, sys, Options{Backend: "vllm", Coefficients: &Coefficients{}}); err == nil {
		t.Fatal("zero coefficients accepted: estimates would divide by zero")
	}
	c := DefaultCoefficients()
	c.BWEff = 0.5
	e, err := New(md, sys, Options{Backend: "vllm", Coefficients: c})
	if err != nil {
		t.Fatal(err)
	}
	def, _ := New(md, sys, Options{Backend: "vllm"})
	a, _ := e.DecodeITL(NewMapping("TP", 1), 1, 1000)
	b, _ := def.DecodeITL(NewMapping("TP", 1), 1, 1000)
	if !(a > b) || DefaultCoefficients().BWEff == 0.5 {
		t.Fatalf("halving bandwidth efficiency did not slow decode (%g vs %g) or leaked into the defaults", a, b)
	}
}
