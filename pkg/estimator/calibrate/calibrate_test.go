package calibrate

import (
	"math"
	"os"
	"path/filepath"
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
	want := estimator.DefaultCoefficients()
	const tol = 1e-6
	check := func(name string, a, b float64) {
		if relDiff(a, b) > tol {
			t.Errorf("%s: refit %v, committed %v: run `make calibrate` and commit the result", name, a, b)
		}
	}
	check("GemmEffMax", got.GemmEffMax, want.GemmEffMax)
	check("GemmMHalf", got.GemmMHalf, want.GemmMHalf)
	check("GemmFloorUs", got.GemmFloorUs, want.GemmFloorUs)
	check("ComputeScale", got.ComputeScale, want.ComputeScale)
	check("FP8Eff", got.FP8Eff, want.FP8Eff)
	check("FP4Eff", got.FP4Eff, want.FP4Eff)
	check("BlackwellComputeScale", got.BlackwellComputeScale, want.BlackwellComputeScale)
	check("BWEff", got.BWEff, want.BWEff)
	check("ElemUs", got.ElemUs, want.ElemUs)
	check("AttnPrefillEffMax", got.AttnPrefillEffMax, want.AttnPrefillEffMax)
	check("AttnPrefillSHalf", got.AttnPrefillSHalf, want.AttnPrefillSHalf)
	check("AttnPrefillHill", got.AttnPrefillHill, want.AttnPrefillHill)
	check("AttnDecodeBWEff", got.AttnDecodeBWEff, want.AttnDecodeBWEff)
	check("AttnDecodeFloorUs", got.AttnDecodeFloorUs, want.AttnDecodeFloorUs)
	for k, a := range got.AllReduce {
		b := want.AllReduce[k]
		for i := range a.LatencyUs {
			check("AllReduce["+k+"].LatencyUs", a.LatencyUs[i], b.LatencyUs[i])
			check("AllReduce["+k+"].BusGBs", a.BusGBs[i], b.BusGBs[i])
		}
	}
	if len(got.Backends) != len(want.Backends) || len(got.AllReduce) != len(want.AllReduce) {
		t.Errorf("backend/all-reduce tables differ: %d/%d vs %d/%d", len(got.Backends), len(got.AllReduce), len(want.Backends), len(want.AllReduce))
	}
	for k, a := range got.Backends {
		b := want.Backends[k]
		check(k+".StepMs", a.StepMs, b.StepMs)
		check(k+".StepTPMs", a.StepTPMs, b.StepTPMs)
		check(k+".PerSeqUs", a.PerSeqUs, b.PerSeqUs)
		check(k+".RequestMs", a.RequestMs, b.RequestMs)
		check(k+".ARLatencyScale", a.ARLatencyScale, b.ARLatencyScale)
		check(k+".QueueGain", a.QueueGain, b.QueueGain)
		check(k+".BurstGain", a.BurstGain, b.BurstGain)
		check(k+".QueueStepGain", a.QueueStepGain, b.QueueStepGain)
		check(k+".MixGain", a.MixGain, b.MixGain)
		check(k+".LoadedRequestMs", a.LoadedRequestMs, b.LoadedRequestMs)
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
