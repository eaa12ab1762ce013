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

func dataDir(t *testing.T) string {
	t.Helper()
	d, err := DataDir(".")
	if err != nil {
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

// Validation by model family: fit without Qwen, predict every Qwen row.
func TestHeldOutQwenAccuracy(t *testing.T) {
	rep := report(t)
	all := findGroup(rep.HeldOut["qwen"], "all")
	single := findGroup(rep.HeldOutSingle["qwen"], "all")
	if all.N < 300 || single.N < 3 {
		t.Fatalf("held-out Qwen rows: %d (single-stream %d); the data set shrank", all.N, single.N)
	}
	t.Logf("held-out Qwen ITL: median %.1f%% p90 %.1f%% (n=%d)", all.TPOTMedian, all.TPOTP90, all.N)
	t.Logf("held-out Qwen batch-1 TTFT: median %.1f%% p90 %.1f%% (n=%d)", single.TTFTMedian, single.TTFTP90, single.N)
	t.Logf("held-out Qwen loaded TTFT (reported, not a target): median %.1f%% p90 %.1f%%", all.TTFTMedian, all.TTFTP90)
	if all.TPOTMedian > 15 || all.TPOTP90 > 35 {
		t.Errorf("held-out ITL error median %.1f%% / p90 %.1f%%, want ≤ 15%% / ≤ 35%%", all.TPOTMedian, all.TPOTP90)
	}
	if single.TTFTMedian > 15 || single.TTFTP90 > 35 {
		t.Errorf("held-out batch-1 TTFT error median %.1f%% / p90 %.1f%%, want ≤ 15%% / ≤ 35%%", single.TTFTMedian, single.TTFTP90)
	}
	// TTFT under closed-loop load is dominated by each benchmark's arrival
	// pattern; guard against regressions from the measured level.
	if all.TTFTMedian > 32 || all.TTFTP90 > 70 {
		t.Errorf("held-out loaded TTFT error median %.1f%% / p90 %.1f%% regressed (was ≈ 28%% / 60%%)", all.TTFTMedian, all.TTFTP90)
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

// MoE/MLA rows never enter the fit; their ITL error guards the MoE model.
func TestMoETransfer(t *testing.T) {
	rep := report(t)
	all := findGroup(rep.MoE, "all")
	t.Logf("MoE/MLA (never fitted) ITL: median %.1f%% p90 %.1f%% (n=%d)", all.TPOTMedian, all.TPOTP90, all.N)
	if all.N < 500 {
		t.Fatalf("only %d MoE rows evaluated", all.N)
	}
	if all.TPOTMedian > 20 || all.TPOTP90 > 50 {
		t.Errorf("MoE ITL error median %.1f%% / p90 %.1f%% regressed (was ≈ 15%% / 42%%)", all.TPOTMedian, all.TPOTP90)
	}
}
