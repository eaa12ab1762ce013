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

// The issue-16 targets on held-out data. A target that is met is asserted;
// one that is not (ACCURACY.md says which and why) is held at its measured
// level so that it cannot get worse unnoticed.
func TestHeldOutGates(t *testing.T) {
	rep := report(t)
	guard := map[string]float64{ // measured when the target was missed
		"llama held out: ITL median %":         14,
		"llama held out: ITL p90 %":            35,
		"qwen held out: ITL median %":          12,
		"qwen held out: ITL p90 %":             28,
		"qwen held out: batch-1 TTFT median %": 14,
		"qwen held out: batch-1 TTFT p90 %":    40,
	}
	gates := rep.Gates()
	if len(gates) != 9 {
		t.Fatalf("%d gates, want 4 per held-out family and the short-prompt one", len(gates))
	}
	for _, g := range gates {
		limit, missed := guard[g.Name]
		switch {
		case g.Met():
			t.Logf("%s = %.1f: target ≤ %.0f met", g.Name, g.Value, g.Target)
			if missed {
				t.Logf("  the target is now met: drop its guard")
			}
		case !missed:
			t.Errorf("%s = %.1f misses the target ≤ %.0f", g.Name, g.Value, g.Target)
		case g.Value > limit:
			t.Errorf("%s = %.1f regressed past %.0f (target ≤ %.0f, not met)", g.Name, g.Value, limit, g.Target)
		default:
			t.Logf("%s = %.1f: target ≤ %.0f NOT met (held at ≤ %.0f)", g.Name, g.Value, g.Target, limit)
		}
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
