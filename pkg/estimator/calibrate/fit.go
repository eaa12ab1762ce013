package calibrate

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// H100 constants the microbenchmarks were normalised with (groundtruth README).
const (
	gemmFilePeak = 1979e6 // FLOP/us: the GEMM file's mfu convention
	attnFilePeak = 989.5e6
	h100BW       = 3350e3 // bytes/us
)

// minimize runs Nelder–Mead from x0 with a fixed budget (deterministic).
func minimize(f func([]float64) float64, x0 []float64, evals int) []float64 {
	p := optimize.Problem{Func: f}
	res, err := optimize.Minimize(p, x0, &optimize.Settings{FuncEvaluations: evals, Concurrent: 0}, &optimize.NelderMead{})
	if err != nil && res == nil {
		return x0
	}
	return res.X
}

func sq(x float64) float64 { return x * x }

func hill(x, max, half, p float64) float64 {
	xp := math.Pow(x, p)
	return max * xp / (xp + math.Pow(half, p))
}

// fitKernels is steps 1–3: GEMM shape, attention and all-reduce.
func fitKernels(dir string, c *estimator.Coefficients) error {
	gemm, err := loadGEMM(dir)
	if err != nil {
		return err
	}
	// GEMM: max(compute at eff(m), bytes at a bandwidth) + floor, log error.
	gx := minimize(func(x []float64) float64 {
		eff, half, floor, bw := math.Exp(x[0]), math.Exp(x[1]), math.Exp(x[2]), math.Exp(x[3])
		s := 0.0
		for _, g := range gemm {
			tc := 2 * g.m * g.k * g.n / (hill(g.m, eff, half, 1) * gemmFilePeak)
			tm := 2 * (g.k*g.n + g.m*g.k + g.m*g.n) / (bw * h100BW)
			s += sq(math.Log((math.Max(tc, tm) + floor) / g.us))
		}
		return s
	}, []float64{math.Log(0.65), math.Log(200), math.Log(3), math.Log(0.8)}, 2000)
	c.GemmEffMax, c.GemmMHalf, c.GemmFloorUs = math.Exp(gx[0]), math.Exp(gx[1]), math.Exp(gx[2])

	pre, dec, err := loadAttention(dir)
	if err != nil {
		return err
	}
	ax := minimize(func(x []float64) float64 {
		eff, half, p := math.Exp(x[0]), math.Exp(x[1]), math.Min(math.Max(x[2], 0.5), 2)
		s := 0.0
		for _, a := range pre {
			s += sq(math.Log(2 * a.s * a.s * a.heads * a.d / (hill(a.s, eff, half, p) * attnFilePeak) / a.us))
		}
		return s
	}, []float64{math.Log(0.8), math.Log(2500), 1.5}, 2000)
	c.AttnPrefillEffMax, c.AttnPrefillSHalf, c.AttnPrefillHill = math.Exp(ax[0]), math.Exp(ax[1]), math.Min(math.Max(ax[2], 0.5), 2)

	dx := minimize(func(x []float64) float64 {
		floor, eff := math.Exp(x[0]), math.Exp(x[1])
		s := 0.0
		for _, d := range dec {
			s += sq(math.Log((floor + d.bytes/(eff*h100BW)) / d.us))
		}
		return s
	}, []float64{math.Log(10), math.Log(0.85)}, 1000)
	c.AttnDecodeFloorUs, c.AttnDecodeBWEff = math.Exp(dx[0]), math.Exp(dx[1])

	ar, err := loadAllReduce(dir)
	if err != nil {
		return err
	}
	c.AllReduce = map[string]estimator.AllReduceFit{}
	for _, fam := range []string{"a100", "h100"} {
		var fit estimator.AllReduceFit
		for i, n := range []int{2, 4, 8} {
			var xs, ys, ws []float64
			for _, p := range ar {
				if p.family == fam && p.n == n {
					xs = append(xs, p.bytes*2*float64(n-1)/float64(n))
					ys = append(ys, p.medianUs)
					ws = append(ws, 1/sq(p.medianUs)) // relative error
				}
			}
			if len(xs) < 2 {
				return fmt.Errorf("all-reduce %s n=%d: no data", fam, n)
			}
			alpha, beta := stat.LinearRegression(xs, ys, ws, false)
			if beta <= 0 || alpha <= 0 {
				return fmt.Errorf("all-reduce %s n=%d: unphysical fit α=%g β=%g", fam, n, alpha, beta)
			}
			fit.LatencyUs[i] = alpha
			fit.BusGBs[i] = 1 / beta / 1e3
		}
		c.AllReduce[fam] = fit
	}
	return nil
}

// rowFeatures are the physical parts of one row's prediction, in ms.
type rowFeatures struct {
	dec    float64 // decode forward at c, isl+osl/2
	pf     float64 // prefill forward of isl (no prefix)
	pfP    float64 // prefill forward of the row's new tokens after its prefix
	log2n  float64
	ok     bool
	reason string
}

// physical is the part of the coefficients the outer search moves.
type physical struct{ compute, fp8, fp4, bw, ar, elem, blackwell, attnFloor float64 }

func (p physical) apply(base *estimator.Coefficients) *estimator.Coefficients {
	c := base.Clone()
	c.ComputeScale, c.FP8Eff, c.FP4Eff, c.BWEff, c.ElemUs, c.BlackwellComputeScale = p.compute, p.fp8, p.fp4, p.bw, p.elem, p.blackwell
	c.AttnDecodeFloorUs = p.attnFloor
	for _, b := range estimator.Backends() {
		c.Backends[b] = estimator.BackendCoefficients{ARLatencyScale: p.ar}
	}
	return c
}

type groupKey struct{ model, system, backend, precision string }

// features computes every row's physical times under coefficients c (whose
// backend fixed costs are zero).
func features(rows []Row, c *estimator.Coefficients) []rowFeatures {
	out := make([]rowFeatures, len(rows))
	ests := map[groupKey]*estimator.Estimator{}
	errs := map[groupKey]error{}
	for i, r := range rows {
		k := groupKey{r.Model, r.System, r.Backend, r.Precision}
		e, seen := ests[k]
		if !seen && errs[k] == nil {
			md, err := estimator.LookupModel(r.Model)
			var sys *estimator.System
			if err == nil {
				sys, err = estimator.LookupSystem(r.System)
			}
			if err == nil {
				e, err = estimator.New(md, sys, estimator.Options{Backend: r.Backend, Precision: r.Precision, Coefficients: c})
			}
			ests[k], errs[k] = e, err
		}
		if errs[k] != nil {
			out[i].reason = errs[k].Error()
			continue
		}
		kind := r.Kind
		if kind == "" {
			kind = "TP"
		}
		m := estimator.NewMapping(kind, r.TP)
		dec, err1 := e.DecodeITL(m, r.Concurrency, float64(r.ISL+r.Prefix)+float64(r.OSL)/2)
		pf, err2 := e.PrefillTTFT(m, r.ISL+r.Prefix)
		pfP, err3 := e.PrefillTTFTWithPrefix(m, r.ISL, r.Prefix)
		if err1 != nil || err2 != nil || err3 != nil {
			out[i].reason = fmt.Sprint(err1, err2, err3)
			continue
		}
		mem, err := e.Memory(m)
		if err != nil || !mem.Fits {
			out[i].reason = "weights do not fit"
			continue
		}
		out[i] = rowFeatures{dec: dec, pf: pf, pfP: pfP, log2n: math.Log2(float64(r.TP)), ok: true}
	}
	return out
}

// stepMs is the decode step with the backend's fixed costs.
func stepMs(f rowFeatures, r Row, b estimator.BackendCoefficients) float64 {
	return f.dec + b.StepMs + b.StepTPMs*f.log2n + b.PerSeqUs*float64(r.Concurrency)/1000
}

// rho is the share of engine time spent on other requests' prefills in
// closed-loop serving at the row's concurrency.
func rho(f rowFeatures, r Row, step float64) float64 {
	other := float64(r.Concurrency-1) * f.pf
	if other <= 0 {
		return 0
	}
	return math.Min(other/(other+float64(r.OSL)*step), 0.9)
}

// predict maps the estimator onto one closed-loop aggregated row.
func predict(f rowFeatures, r Row, b estimator.BackendCoefficients) (ttft, tpot float64) {
	step := stepMs(f, r, b)
	tpot = step + b.MixGain*float64(r.Concurrency-1)*f.pf/float64(r.OSL)
	q := rho(f, r, step)
	ttft = f.pfP + b.RequestMs + b.StepMs + b.StepTPMs*f.log2n + b.QueueGain*f.pf*q/(1-q)
	if r.Concurrency > 1 {
		ttft += b.LoadedRequestMs + b.QueueStepGain*step + b.BurstGain*float64(r.Concurrency-1)*f.pf
	}
	return ttft, tpot
}

// nnls solves min ||W(Ax − y)|| with x >= 0 by dropping negative terms.
func nnls(a [][]float64, y, w []float64) []float64 {
	n := len(a[0])
	active := make([]bool, n)
	for i := range active {
		active[i] = true
	}
	x := make([]float64, n)
	for iter := 0; iter < n; iter++ {
		var idx []int
		for j := 0; j < n; j++ {
			if active[j] {
				idx = append(idx, j)
			}
		}
		for j := range x {
			x[j] = 0
		}
		if len(idx) == 0 || len(y) < len(idx) {
			return x
		}
		A := mat.NewDense(len(y), len(idx), nil)
		b := mat.NewVecDense(len(y), nil)
		for i := range y {
			for jj, j := range idx {
				A.Set(i, jj, a[i][j]*w[i])
			}
			b.SetVec(i, y[i]*w[i])
		}
		var sol mat.VecDense
		if err := sol.SolveVec(A, b); err != nil {
			return x
		}
		worst, worstV := -1, 0.0
		for jj, j := range idx {
			x[j] = sol.AtVec(jj)
			if x[j] < worstV {
				worst, worstV = j, x[j]
			}
		}
		if worst < 0 {
			return x
		}
		active[worst] = false
	}
	for j := range x {
		x[j] = math.Max(x[j], 0)
	}
	return x
}

// irls is a non-negative linear least squares in relative error, reweighted
// a few times so that it approximates a log-error fit (over- and
// under-prediction count alike).
func irls(a [][]float64, y, base, meas, prior []float64) []float64 {
	w := make([]float64, len(y))
	for i := range w {
		w[i] = prior[i] / meas[i]
	}
	var x []float64
	for it := 0; it < 4; it++ {
		x = nnls(a, y, w)
		for i := range w {
			p := base[i]
			for j, v := range a[i] {
				p += v * x[j]
			}
			w[i] = prior[i] / math.Sqrt(math.Max(p, 1e-3*meas[i])*meas[i])
		}
	}
	return x
}

// fitBackends solves the engines' fixed costs for given physical features:
// TPOT first (step costs, mixing), then TTFT (request cost, queueing). Only
// the fixed step and request costs and the prefill mixing (chunked or not)
// are per backend; the per-sequence and queueing gains are shared, so that a backend seen on one model
// family does not absorb that family's physics into its own constants.
func fitBackends(rows []Row, feats []rowFeatures, arScale float64) map[string]estimator.BackendCoefficients {
	count := map[string]int{}
	for i, r := range rows {
		if feats[i].ok {
			count[r.Backend]++
		}
	}
	var bes []string
	for _, b := range estimator.Backends() {
		if count[b] >= 8 {
			bes = append(bes, b)
		}
	}
	out := map[string]estimator.BackendCoefficients{}
	if len(bes) == 0 {
		return out
	}
	// Step columns are per engine family: vLLM and SGLang (Python
	// schedulers, CUDA graphs, chunked prefill) share theirs; SGLang's rows
	// alone (one small model at SLA-tuned concurrency) cannot separate step
	// cost from physics.
	col := map[string]int{}
	fam := func(b string) string {
		if b == "sglang" {
			return "vllm"
		}
		return b
	}
	for _, b := range bes {
		if _, ok := col[fam(b)]; !ok {
			col[fam(b)] = len(col)
		}
	}
	for _, b := range bes {
		col[b] = col[fam(b)]
	}
	nb := 0
	for _, b := range bes {
		nb = max(nb, col[b]+1)
	}
	var sel []int
	for i, r := range rows {
		if _, ok := col[r.Backend]; ok && feats[i].ok {
			sel = append(sel, i)
		}
	}
	// TPOT columns: per backend [step, stepTP, mix], shared [perSeq].
	var a [][]float64
	var y, base, meas, prior []float64
	for _, i := range sel {
		r, f := rows[i], feats[i]
		row := make([]float64, 3*nb+1)
		row[3*col[r.Backend]] = 1
		row[3*col[r.Backend]+1] = f.log2n
		row[3*col[r.Backend]+2] = float64(r.Concurrency-1) * f.pf / float64(r.OSL)
		row[3*nb] = float64(r.Concurrency) / 1000
		a = append(a, row)
		y = append(y, r.TPOT-f.dec)
		base = append(base, f.dec)
		meas = append(meas, r.TPOT)
		w := 1.0
		if r.Concurrency == 1 {
			w = singleStreamWeight
		}
		prior = append(prior, w)
	}
	x := irls(a, y, base, meas, prior)
	for _, b := range bes {
		out[b] = estimator.BackendCoefficients{StepMs: x[3*col[b]], StepTPMs: x[3*col[b]+1], MixGain: x[3*col[b]+2], PerSeqUs: x[3*nb], ARLatencyScale: arScale}
	}
	// TTFT columns: shared [request] (identified by single-stream rows,
	// the only ones that measure it without queueing), per backend [loaded
	// request, burst] (benchmarks differ per engine in how synchronised
	// arrivals are), shared [steady queue, step].
	tcol := map[string]int{}
	for i, b := range bes {
		tcol[b] = i
	}
	nt := len(bes)
	a, y, base, meas, prior = a[:0], y[:0], base[:0], meas[:0], prior[:0]
	for _, i := range sel {
		r, f := rows[i], feats[i]
		b := out[r.Backend]
		step := stepMs(f, r, b)
		q := rho(f, r, step)
		row := make([]float64, 2*nt+3)
		row[0] = 1
		if r.Concurrency > 1 {
			row[1+2*tcol[r.Backend]] = 1
			row[2+2*tcol[r.Backend]] = float64(r.Concurrency-1) * f.pf
			row[2*nt+2] = step
		}
		row[2*nt+1] = f.pf * q / (1 - q)
		a = append(a, row)
		fixed := f.pfP + b.StepMs + b.StepTPMs*f.log2n
		y = append(y, r.TTFT-fixed)
		base = append(base, fixed)
		meas = append(meas, r.TTFT)
		// Single-stream rows measure exactly what PrefillTTFT answers.
		w := 1.0
		if r.Concurrency == 1 {
			w = singleStreamWeight
		}
		prior = append(prior, w)
	}
	x = irls(a, y, base, meas, prior)
	for _, be := range bes {
		b := out[be]
		b.RequestMs, b.LoadedRequestMs, b.BurstGain, b.QueueGain, b.QueueStepGain = x[0], x[1+2*tcol[be]], x[2+2*tcol[be]], x[2*nt+1], x[2*nt+2]
		out[be] = b
	}
	return out
}

// Fit runs the whole calibration on rows (kernels from dir) and returns the
// coefficients. Backends without rows keep the average of the fitted ones.
func Fit(dir string, rows []Row) (*estimator.Coefficients, error) {
	base := estimator.InitialCoefficients()
	if err := fitKernels(dir, base); err != nil {
		return nil, err
	}
	type outcome struct {
		loss float64
		be   map[string]estimator.BackendCoefficients
	}
	eval := func(p physical) outcome {
		feats := features(rows, p.apply(base))
		o := outcome{be: fitBackends(rows, feats, p.ar)}
		for i, r := range rows {
			bc, ok := o.be[r.Backend]
			if !feats[i].ok || !ok {
				continue
			}
			ttft, tpot := predict(feats[i], r, bc)
			w := 1.0
			if r.Concurrency == 1 {
				w = singleStreamWeight
			}
			o.loss += w * (sq(math.Log(math.Max(tpot, 1e-6)/r.TPOT)) + ttftWeight*sq(math.Log(math.Max(ttft, 1e-6)/r.TTFT)))
		}
		return o
	}
	decode := func(x []float64) physical {
		cl := func(v, lo, hi float64) float64 { return math.Min(math.Max(math.Exp(v), lo), hi) }
		// Bounds keep the fit physical: GEMMs at most ~0.86 of peak
		// (GemmEffMax·ComputeScale), HBM at most 0.95, low precision no
		// faster than its datasheet ratio, custom all-reduce latency at least a
		// fifth of NCCL's.
		return physical{compute: cl(x[0], 0.5, 1.35), fp8: cl(x[1], 0.4, 1), fp4: cl(x[2], 0.3, 1), bw: cl(x[3], 0.5, 0.95),
			ar: cl(x[4], 0.2, 2), elem: cl(x[5], 0.5, 20), blackwell: cl(x[6], 0.5, 1.1), attnFloor: cl(x[7], 1, 40)}
	}
	x := minimize(func(x []float64) float64 { return eval(decode(x)).loss },
		[]float64{0, math.Log(0.8), math.Log(0.6), math.Log(0.8), math.Log(0.4), math.Log(3), 0, math.Log(base.AttnDecodeFloorUs)}, 1000)
	p := decode(x)
	best := eval(p)
	out := p.apply(base)
	if len(best.be) == 0 {
		return nil, fmt.Errorf("no backend had enough rows to fit")
	}
	var avg estimator.BackendCoefficients
	for _, b := range sortedBackends(best.be) {
		v := best.be[b]
		k := float64(len(best.be))
		avg.StepMs += v.StepMs / k
		avg.StepTPMs += v.StepTPMs / k
		avg.PerSeqUs += v.PerSeqUs / k
		avg.RequestMs += v.RequestMs / k
		avg.QueueGain += v.QueueGain / k
		avg.QueueStepGain += v.QueueStepGain / k
		avg.BurstGain += v.BurstGain / k
		avg.LoadedRequestMs += v.LoadedRequestMs / k
		avg.MixGain += v.MixGain / k
	}
	avg.ARLatencyScale = p.ar
	for _, b := range estimator.Backends() {
		if v, ok := best.be[b]; ok {
			out.Backends[b] = v
		} else {
			out.Backends[b] = avg
		}
	}
	return out, nil
}

func sortedBackends(m map[string]estimator.BackendCoefficients) []string {
	var k []string
	for b := range m {
		k = append(k, b)
	}
	sort.Strings(k)
	return k
}

// Prediction is one row's predicted and measured times.
type Prediction struct {
	Row        Row
	TTFT, TPOT float64
}

// Predict evaluates coefficients c on rows (rows the model cannot take are
// skipped).
func Predict(c *estimator.Coefficients, rows []Row) []Prediction {
	phys := c.Clone()
	for b, v := range phys.Backends {
		phys.Backends[b] = estimator.BackendCoefficients{ARLatencyScale: v.ARLatencyScale}
	}
	feats := features(rows, phys)
	var out []Prediction
	for i, r := range rows {
		if !feats[i].ok {
			continue
		}
		ttft, tpot := predict(feats[i], r, c.Backends[r.Backend])
		out = append(out, Prediction{Row: r, TTFT: ttft, TPOT: tpot})
	}
	return out
}

// ttftWeight down-weights aggregated TTFT in the physical fit: it is
// dominated by the benchmark's arrival pattern, not by the engine.
var ttftWeight = 0.3

// singleStreamWeight up-weights concurrency-1 rows in the TTFT fit.
var singleStreamWeight = 5.0
