package calibrate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// dataDir finds the ground truth. Without it the tests skip on a developer
// machine but fail under CI (CI=true, which `make test` sets): a drifted
// fit must not pass there by skipping.
func dataDir(t *testing.T) string {
	t.Helper()
	d, err := DataDir(".")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("calibration data not available under CI: %v", err)
		}
		t.Skipf("calibration data not available: %v", err)
	}
	return d
}

var (
	runOnce sync.Once
	runRep  *Report
	runErr  error
)

// report runs the whole calibration once for all tests of this package.
func report(t *testing.T) *Report {
	dir := dataDir(t)
	runOnce.Do(func() { runRep, runErr = Run(dir) })
	if runErr != nil {
		t.Fatal(runErr)
	}
	return runRep
}

func relDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

// The committed coefficients must be what `make calibrate` produces now.
func TestCommittedCoefficientsMatchFit(t *testing.T) {
	got := report(t).Fitted
	for _, d := range diffFloats("", reflect.ValueOf(*got), reflect.ValueOf(*estimator.DefaultCoefficients()), 1e-6) {
		t.Errorf("%s: run `make calibrate` and commit the result", d)
	}
}

// diffFloats walks two values of the same type (structs, maps, arrays of
// float64) and names every number that differs by more than tol (relative),
// and every map key present on one side only.
func diffFloats(path string, a, b reflect.Value, tol float64) []string {
	switch a.Kind() {
	case reflect.Float64:
		if relDiff(a.Float(), b.Float()) > tol {
			return []string{fmt.Sprintf("%s: refit %v, committed %v", path, a.Float(), b.Float())}
		}
	case reflect.Struct:
		var out []string
		for i := 0; i < a.NumField(); i++ {
			out = append(out, diffFloats(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i), tol)...)
		}
		return out
	case reflect.Array:
		var out []string
		for i := 0; i < a.Len(); i++ {
			out = append(out, diffFloats(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), tol)...)
		}
		return out
	case reflect.Map:
		var out []string
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				out = append(out, fmt.Sprintf("%s[%v]: refit has it, committed does not", path, k))
				continue
			}
			out = append(out, diffFloats(fmt.Sprintf("%s[%v]", path, k), a.MapIndex(k), bv, tol)...)
		}
		for _, k := range b.MapKeys() {
			if !a.MapIndex(k).IsValid() {
				out = append(out, fmt.Sprintf("%s[%v]: committed has it, refit does not", path, k))
			}
		}
		return out
	}
	return nil
}

func TestDiffFloats(t *testing.T) {
	a, b := estimator.DefaultCoefficients(), estimator.DefaultCoefficients()
	if d := diffFloats("", reflect.ValueOf(*a), reflect.ValueOf(*b), 1e-6); len(d) != 0 {
		t.Fatalf("identical coefficients differ: %v", d)
	}
	b.BWEff *= 1.01
	v := b.Backends["vllm"]
	v.StepMs += 1
	b.Backends["vllm"] = v
	b.AllReduce["h100"] = estimator.AllReduceFit{}
	b.GenerationStepMs["x/y"] = 1
	d := diffFloats("", reflect.ValueOf(*a), reflect.ValueOf(*b), 1e-6)
	want := []string{".BWEff", ".Backends[vllm].StepMs", ".AllReduce[h100].LatencyUs[0]", ".GenerationStepMs[x/y]: committed has it"}
	for _, w := range want {
		if !slices.ContainsFunc(d, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("diff %v does not name %s", d, w)
		}
	}
}

// ACCURACY.md is generated; it must match what the data gives today.
func TestAccuracyReportUpToDate(t *testing.T) {
	rep := report(t)
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "pkg", "estimator", "ACCURACY.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != rep.Markdown() {
		t.Error("pkg/estimator/ACCURACY.md is stale: run `make calibrate` and commit the result")
	}
}

// The issue-16 targets on held-out data, every one enforced at its
// target (the last two were met in the third round; ACCURACY.md).
func TestHeldOutGates(t *testing.T) {
	rep := report(t)
	gates := rep.Gates()
	if len(gates) != 9 {
		t.Fatalf("%d gates, want 4 per held-out family and the short-prompt one", len(gates))
	}
	for _, g := range gates {
		if !g.Met() {
			t.Errorf("%s = %.1f misses the target ≤ %.0f", g.Name, g.Value, g.Target)
			continue
		}
		t.Logf("%s = %.1f: target ≤ %.0f met", g.Name, g.Value, g.Target)
	}
	for _, fam := range HeldOutFamilies {
		all, one := findGroup(rep.HeldOut[fam], "all"), findGroup(rep.HeldOutSingle[fam], "all")
		if all.N < 300 || one.N < 3 {
			t.Errorf("held-out %s rows: %d (single-stream %d); the data set shrank", fam, all.N, one.N)
		}
	}
	if rep.ShortHeldOut.N < 6 {
		t.Errorf("%d short-prompt rows, want the 6 chat sweeps", rep.ShortHeldOut.N)
	}
}

// The engine memory model against every engine start-up we have.
func TestMemoryAgainstEngines(t *testing.T) {
	rep := report(t)
	ours, aic, n := rep.memoryErrors()
	t.Logf("KV median abs. error: ours %.1f %%, AI Configurator %.1f %% (%d start-ups)", ours, aic, n)
	if n < 30 || ours > 5 {
		t.Errorf("KV median error %.1f %% over %d start-ups, want ≤ 5 %%", ours, n)
	}
	within := 0
	for _, c := range rep.Memory {
		if !c.MeasuredFits {
			if c.OursFits {
				t.Errorf("%s %s TP%d: the engine did not start, we say it fits", c.Row.Engine, c.Row.Model, c.Row.TP)
			}
			continue
		}
		if math.Abs(c.OursGiB/c.MeasuredGiB-1) <= 0.1 {
			within++
		}
	}
	if float64(within) < 0.9*float64(n) {
		t.Errorf("%d of %d start-ups within 10 %%, want 90 %%", within, n)
	}
}

// Our reading of AI Configurator's memory model reproduces the figures
// issue 16 quotes (TP4: 945,000 KV tokens; TP1: a batch of 43), and its own
// KV budget agrees with ours.
func TestIssueKVExample(t *testing.T) {
	rep := report(t)
	for _, x := range rep.IssueKV {
		if x.TP == 4 && x.Wrapper != 945000 {
			t.Errorf("AIC wrapper at TP4: %d tokens, the issue saw 945000", x.Wrapper)
		}
		if x.TP == 1 && x.WrapperBatch != 43 {
			t.Errorf("AIC wrapper at TP1: batch %d, the issue saw 43", x.WrapperBatch)
		}
		if math.Abs(float64(x.Ours)/float64(x.AICBudget)-1) > 0.02 {
			t.Errorf("TP%d: ours %d tokens vs AIC's own budget %d", x.TP, x.Ours, x.AICBudget)
		}
	}
	if len(rep.IssueKV) != 4 {
		t.Errorf("%d TP sizes in the example, want 1, 2, 4, 8", len(rep.IssueKV))
	}
}

// Issue 16's engine-level short-prompt TTFTs (Llama-2-7B, ISL 128): held
// within 30 % (AI Configurator is at 8–23 % there).
func TestReferencePoints(t *testing.T) {
	for _, p := range report(t).Reference {
		err := 100 * (p.Ours/p.Measured - 1)
		t.Logf("%s %s ISL %d: %.2f ms vs %.1f measured (%+.1f %%)", p.Model, p.System, p.ISL, p.Ours, p.Measured, err)
		if math.Abs(err) > 30 {
			t.Errorf("%s %s: %+.1f %% from the measurement", p.Model, p.System, err)
		}
	}
}

func TestNNLS(t *testing.T) {
	// y = 2·a + 0·b exactly; an unconstrained fit of b would go negative
	// on the second system below.
	a := [][]float64{{1, 0}, {0, 1}, {1, 1}}
	x := nnls(a, []float64{2, 0, 2}, []float64{1, 1, 1})
	if relDiff(x[0], 2) > 1e-9 || math.Abs(x[1]) > 1e-9 {
		t.Fatalf("nnls = %v, want [2 0]", x)
	}
	x = nnls(a, []float64{2, -1, 1}, []float64{1, 1, 1})
	if x[1] != 0 || x[0] <= 0 {
		t.Fatalf("nnls = %v, want b clamped to 0", x)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 3, 2, 4}
	if quantile(xs, 0.5) != 3 || quantile(xs, 0.9) != 4.6 || quantile(xs, 0) != 1 {
		t.Fatalf("quantiles of %v: %v %v %v", xs, quantile(xs, 0.5), quantile(xs, 0.9), quantile(xs, 0))
	}
	if !math.IsNaN(quantile(nil, 0.5)) {
		t.Fatal("quantile of nothing must be NaN")
	}
}

func TestLoadRows(t *testing.T) {
	rows, err := LoadRows(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	fam := map[string]int{}
	for _, r := range rows {
		fam[r.Family]++
		if r.TTFT <= 0 || r.TPOT <= 0 || r.Concurrency < 1 || r.TP < 1 {
			t.Fatalf("bad row %+v", r)
		}
		if _, err := estimator.LookupModel(r.Model); err != nil {
			t.Fatalf("row model %q not in the catalog: %v", r.Model, err)
		}
	}
	if fam["llama"] < 600 || fam["qwen"] < 300 || fam["other"] != 0 {
		t.Fatalf("families %v", fam)
	}
}

// MoE/MLA rows: one kernel scale per backend and expert dtype is fitted;
// the leave-one-model-out error shows how far it carries.
func TestMoETransfer(t *testing.T) {
	rep := report(t)
	all, held := findGroup(rep.MoE, "all"), findGroup(rep.MoEHeldOut, "all")
	t.Logf("MoE/MLA ITL: median %.1f%% p90 %.1f%% (n=%d); leave one model out: %.1f%% / %.1f%%", all.TPOTMedian, all.TPOTP90, all.N, held.TPOTMedian, held.TPOTP90)
	if all.N < 500 {
		t.Fatalf("only %d MoE rows evaluated", all.N)
	}
	if all.TPOTMedian > 16 || all.TPOTP90 > 40 || held.TPOTMedian > 17 || held.TPOTP90 > 48 {
		t.Errorf("MoE ITL error regressed (was ≈ 14 / 37 %%, held out 15 / 45 %%)")
	}
	if s := rep.Fitted.MoEScale["vllm/fp8"]; s < 1.5 {
		t.Errorf("vLLM's FP8 experts run at %.2f× the dense GEMM curve; its rows say several times slower", s)
	}
}

func TestGoldenMin(t *testing.T) {
	x := goldenMin(func(x float64) float64 { return (x - 1.3) * (x - 1.3) }, -5, 5, 60)
	if math.Abs(x-1.3) > 1e-6 {
		t.Fatalf("minimum at %g, want 1.3", x)
	}
}

func TestParseMemoryRows(t *testing.T) {
	rows, err := LoadMemoryRows()
	if err != nil || len(rows) < 30 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for _, bad := range []string{
		"source,engine,system,model,tp,fraction,kv_gib\nx,vllm,h100_sxm,Qwen/Qwen3-8B,0,0.9,1\n",
		"source,engine,system,model,tp,fraction,kv_gib\nx,vllm,h100_sxm,Qwen/Qwen3-8B,1,1.5,1\n",
		"source,engine,system,model,tp,fraction\nx,vllm,h100_sxm,Qwen/Qwen3-8B,1,0.9\n",
	} {
		if _, err := parseMemoryRows(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "row 2") {
			t.Errorf("%q: %v, want an error naming row 2", bad, err)
		}
	}
}

// A column no row uses must not make the solve singular (it used to return
// all zeros).
func TestNNLSUnusedColumn(t *testing.T) {
	a := [][]float64{{1, 0, 2}, {2, 0, 1}, {1, 0, 1}}
	x := nnls(a, []float64{5, 4, 3}, []float64{1, 1, 1}) // y = 1·a + 2·c
	if relDiff(x[0], 1) > 1e-9 || x[1] != 0 || relDiff(x[2], 2) > 1e-9 {
		t.Fatalf("nnls = %v, want [1 0 2]", x)
	}
}

// TensorRT-LLM reserves a whole request (isl + osl); vLLM and SGLang hold
// isl + osl/2 on average. Hand-computed: 100000 tokens.
func TestAdmitted(t *testing.T) {
	r := Row{Backend: "trtllm", ISL: 1000, OSL: 1000, Concurrency: 64}
	if got := admitted(r, 100000); got != 50 { // 100000 / 2000
		t.Errorf("trtllm admits %d, want 50", got)
	}
	r.Backend = "vllm"
	if got := admitted(r, 100000); got != 66 { // 100000 / 1500
		t.Errorf("vllm admits %d, want 66", got)
	}
	r.Prefix = 500
	if got := admitted(r, 100000); got != 50 { // 100000 / 2000
		t.Errorf("vllm with a 500-token prefix admits %d, want 50", got)
	}
}

// Little's law in a closed loop: c − b requests wait (c − b)/b service
// times. Hand-computed: b = 40 of c = 60, service = 200 ms + 100 × 10 ms.
func TestWaitMs(t *testing.T) {
	r := Row{Concurrency: 60, OSL: 100}
	f := rowFeatures{batch: 40, pf: 200}
	if got := waitMs(f, r, 10); relDiff(got, 20.0/40*1200) > 1e-12 {
		t.Errorf("wait %v ms, want 600", got)
	}
	f.batch = 60
	if got := waitMs(f, r, 10); got != 0 {
		t.Errorf("wait %v ms when every request fits, want 0", got)
	}
}

// The harness cost is the median leftover TTFT of unloaded AIC rows only:
// loaded rows and the GuideLLM rows do not move it.
func TestFitHarness(t *testing.T) {
	fit := engineFit{be: map[string]estimator.BackendCoefficients{"vllm": {StepMs: 1}}}
	row := func(c int, ttft float64, src string) (Row, rowFeatures) {
		return Row{Backend: "vllm", Concurrency: c, OSL: 1000, TTFT: ttft, Source: src},
			rowFeatures{ok: true, batch: float64(c), pf: 10, pfP: 10, dec: 4}
	}
	var rows []Row
	var feats []rowFeatures
	for _, x := range []struct {
		c    int
		ttft float64
		src  string
	}{
		{1, 51, "aic"},       // 51 − 10 − 1 = 40
		{1, 61, "aic"},       // 50
		{2, 73.5, "aic"},     // 73.5 − 10 − 1 − 5/2 = 60 (rho 10/(10+5000) < 0.5 %)
		{64, 900, "aic"},     // loaded: rho = 630/(630 + 5000) > 0.5 %
		{1, 500, syncSource}, // another client
	} {
		r, f := row(x.c, x.ttft, x.src)
		rows, feats = append(rows, r), append(feats, f)
	}
	if got := fitHarness(rows, feats, fit); relDiff(got, 50) > 1e-12 {
		t.Errorf("harness %v ms, want the median 50", got)
	}
}

// TensorRT-LLM's FP8 and NVFP4 rows ran an FP8 KV cache; everything else
// the model dtype.
func TestRowKVPrecision(t *testing.T) {
	for _, c := range []struct{ backend, prec, want string }{
		{"trtllm", "fp8", "fp8"}, {"trtllm", "fp4", "fp8"}, {"trtllm", "bf16", "bf16"},
		{"vllm", "fp8", "bf16"}, {"sglang", "fp8", "bf16"},
	} {
		if got := (Row{Backend: c.backend, Precision: c.prec}).kvPrecision(); got != c.want {
			t.Errorf("%s %s: KV %s, want %s", c.backend, c.prec, got, c.want)
		}
	}
}

// The GEMM work a row's throughput needs, hand-computed for Llama-3.1-8B
// BF16 on one H100: 2 FLOPs × (32 layers × 218,103,808 + 4096 × 128,256)
// weights per token.
func TestGEMMShare(t *testing.T) {
	r := Row{Model: "meta-llama/Llama-3.1-8B-Instruct", System: "h100_sxm", Backend: "vllm", Precision: "bf16",
		ISL: 1000, OSL: 101, Concurrency: 10, TP: 1, TTFT: 100, TPOT: 9}
	perToken := 2 * (32*218103808.0 + 4096*128256.0)
	want := 10 * 1101 * perToken / 1.0 / 989e12 // cycle 100 + 100 × 9 ms = 1 s
	got, ok := gemmShare(r)
	if !ok || relDiff(got, want) > 1e-9 {
		t.Fatalf("share %v (%v), want %v", got, ok, want)
	}
	if got := beyondGEMMPeak([]Row{r}, want*0.99); len(got) != 1 {
		t.Errorf("a row above the peak share is not listed")
	}
	if got := beyondGEMMPeak([]Row{r}, want*1.01); len(got) != 0 {
		t.Errorf("a row below the peak share is listed")
	}
}

// The duty cycle is the share of a closed-loop cycle spent decoding;
// hand-computed: 99 tokens × 10 ms after a 10 ms TTFT = 990 / 1000.
func TestDuty(t *testing.T) {
	r := Row{OSL: 100}
	if got := duty(r, 10, 10); relDiff(got, 0.99) > 1e-12 {
		t.Errorf("duty %v, want 0.99", got)
	}
	if got := duty(r, 990, 10); relDiff(got, 0.5) > 1e-12 {
		t.Errorf("duty %v, want 0.5", got)
	}
	if got := duty(Row{OSL: 1}, 0, 0); got != 1 {
		t.Errorf("an empty cycle's duty %v, want 1", got)
	}
}

// Other requests' prefills per output token, scaled by the duty cycle:
// 15 others × 60 ms / 120 tokens × 0.5 = 3.75 ms.
func TestMixMs(t *testing.T) {
	f := rowFeatures{batch: 16, pf: 60}
	if got := mixMs(f, Row{OSL: 120}, 0.5); relDiff(got, 3.75) > 1e-12 {
		t.Errorf("mix %v ms, want 3.75", got)
	}
	if got := mixMs(rowFeatures{batch: 1, pf: 60}, Row{OSL: 120}, 1); got != 0 {
		t.Errorf("a lone request mixes %v ms, want 0", got)
	}
}

// predict's TTFT and TPOT agree with each other: the duty cycle of its
// answer reproduces its TPOT, and a longer TTFT (queueing) leaves fewer
// of the other prefills in the decode phase.
func TestPredictDutyFixedPoint(t *testing.T) {
	f := rowFeatures{ok: true, batch: 32, pf: 50, pfP: 50, dec: 10, layers: 32}
	r := Row{Backend: "vllm", Concurrency: 32, ISL: 2000, OSL: 200}
	b := estimator.BackendCoefficients{MixGain: 1, QueueGain: 1}
	c := &estimator.Coefficients{HarnessMs: 50}
	ttft, tpot := predict(f, r, b, c)
	_, again := predictAt(f, r, b, c, stepMs(f, r, b), duty(r, ttft, tpot))
	if relDiff(tpot, again) > 1e-3 {
		t.Errorf("TPOT %v ms, at its own duty cycle %v ms", tpot, again)
	}
	if !(tpot > f.dec && tpot < f.dec+mixMs(f, r, 1)) {
		t.Errorf("TPOT %v ms outside (%v, %v)", tpot, f.dec, f.dec+mixMs(f, r, 1))
	}
	b.BurstGain = 1
	if _, slower := predict(f, r, b, c); !(slower < tpot) {
		t.Errorf("with queueing TPOT %v ms, without %v ms: want less mixing", slower, tpot)
	}
}

// withEager adds the prefill launch cost: 32 layers × 100 µs = 3.2 ms on
// the whole prompt, none on 70 new tokens that replay a graph.
func TestWithEager(t *testing.T) {
	f := rowFeatures{pf: 20, pfP: 5, pfEager: 32}.withEager(100)
	if relDiff(f.pf, 23.2) > 1e-12 || f.pfP != 5 {
		t.Errorf("pf %v, pfP %v; want 23.2 and 5", f.pf, f.pfP)
	}
}

// FP8's efficiency is the ratio of the best measured FP8 and BF16 GEMM
// shares: 0.65 / (804.7/989.4) = 0.799.
func TestFP8Efficiency(t *testing.T) {
	if got := fp8Efficiency(0.65); relDiff(got, 0.65*989.4/804.7) > 1e-12 {
		t.Errorf("FP8Eff %v, want %v", got, 0.65*989.4/804.7)
	}
	if got := fp8Efficiency(0.9); got != 1 {
		t.Errorf("FP8Eff %v for a faster FP8 GEMM, want the datasheet ratio (1)", got)
	}
	rep := report(t)
	if want := fp8Efficiency(rep.MaxGEMMShare); relDiff(rep.Fitted.FP8Eff, want) > 1e-12 {
		t.Errorf("fitted FP8Eff %v, want the microbenchmark ratio %v", rep.Fitted.FP8Eff, want)
	}
	if g := rep.Fitted.GemmEffMax * rep.Fitted.ComputeScale; g > bf16GEMMShare+1e-12 {
		t.Errorf("BF16 GEMM curve tops out at %.3f of peak, above the best measured %.3f", g, bf16GEMMShare)
	}
}

// vLLM and SGLang share their TTFT terms as they share their step costs.
func TestEngineFamilyTTFTTerms(t *testing.T) {
	be := report(t).Fitted.Backends
	v, s := be["vllm"], be["sglang"]
	if v.BenchClientMs != s.BenchClientMs || v.BurstGain != s.BurstGain || v.MixGain != s.MixGain || v.StepMs != s.StepMs {
		t.Errorf("vLLM %+v and SGLang %+v differ in a family term", v, s)
	}
}
