// Package plannersim reads our planner data the way Dynamo's SLA planner
// does (components/src/dynamo/planner/utils/perf_interpolation.py), so that
// tests can measure what the planner will believe about an engine:
//
//   - prefill: a cubic spline through (ISL, TTFT) and (ISL, throughput), as
//     scipy's interp1d(kind="cubic") (not-a-knot), the ISL clamped to the
//     data's range;
//   - decode: a 100×100 lattice over KV usage [0, 1] × context [0, max],
//     filled by griddata(method="cubic") (Clough–Tocher on the Delaunay
//     triangulation, in the raw coordinates) and, outside the data's convex
//     hull, by the nearest data point; find_best_throughput_per_gpu scans
//     the row nearest to the context from the highest KV usage down and
//     takes the first cell whose ITL meets the target.
//
// It is a test helper: the planner is Python; nothing here ships.
package plannersim

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/interp"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Resolution is the planner's default lattice size.
const Resolution = 100

// Decode is the planner's view of a decode engine.
type Decode struct {
	maxKV     float64
	ymax      float64
	itl, thpt [Resolution][Resolution]float64 // [context row][KV column]
}

// NewDecode builds the lattice from raw_data.npz's arrays.
func NewDecode(d *results.DecodeInterpolation) (*Decode, error) {
	n := len(d.KVUsage)
	if n < 3 || len(d.ContextLength) != n || len(d.ITLMs) != n || len(d.ThptPerGPU) != n || d.MaxKVTokens <= 0 {
		return nil, fmt.Errorf("decode data: %d points, max_kv_tokens %d: need at least 3 parallel points and a capacity", n, d.MaxKVTokens)
	}
	pts := make([]point, n)
	for i := range pts {
		pts[i] = point{d.KVUsage[i], d.ContextLength[i]}
	}
	tri, err := delaunay(pts)
	if err != nil {
		return nil, err
	}
	out := &Decode{maxKV: float64(d.MaxKVTokens), ymax: slices.Max(d.ContextLength)}
	ctItl, ctThpt := newCloughTocher(tri, d.ITLMs), newCloughTocher(tri, d.ThptPerGPU)
	for iy := range Resolution {
		for ix := range Resolution {
			p := point{float64(ix) / (Resolution - 1), out.ymax * float64(iy) / (Resolution - 1)}
			ti, b := tri.locate(p)
			if ti >= 0 {
				out.itl[iy][ix], out.thpt[iy][ix] = ctItl.patch(ti, b), ctThpt.patch(ti, b)
				continue
			}
			j := nearest(pts, p)
			out.itl[iy][ix], out.thpt[iy][ix] = d.ITLMs[j], d.ThptPerGPU[j]
		}
	}
	return out, nil
}

func nearest(pts []point, p point) int {
	best, bd := 0, math.Inf(1)
	for i, q := range pts {
		if d := math.Hypot(q.x-p.x, q.y-p.y); d < bd {
			best, bd = i, d
		}
	}
	return best
}

// row is the lattice row nearest to a context length.
func (d *Decode) row(ctx float64) int {
	return clamp(int(math.RoundToEven(ctx/(d.ymax/(Resolution-1)))), 0, Resolution-1)
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// Lookup is the planner's interpolate_itl and interpolate_thpt_per_gpu.
func (d *Decode) Lookup(concurrency, ctx float64) (itl, thpt float64) {
	ix := clamp(int(math.RoundToEven(concurrency*ctx/d.maxKV*(Resolution-1))), 0, Resolution-1)
	iy := d.row(ctx)
	return d.itl[iy][ix], d.thpt[iy][ix]
}

// Cell is one lattice point: its coordinates and the interpolated values.
type Cell struct {
	KVUsage, Context  float64
	ITLMs, ThptPerGPU float64
}

// BestThroughput is find_best_throughput_per_gpu: the lattice cell the
// planner plans with for an ITL target at a context (the row nearest to
// the context, the highest KV usage whose ITL meets the target).
func (d *Decode) BestThroughput(itlTarget, ctx float64) Cell {
	iy := d.row(ctx)
	ix := 0
	for i := Resolution - 1; i >= 0; i-- {
		if d.itl[iy][i] <= itlTarget {
			ix = i
			break
		}
	}
	return Cell{KVUsage: float64(ix) / (Resolution - 1), Context: d.ymax * float64(iy) / (Resolution - 1),
		ITLMs: d.itl[iy][ix], ThptPerGPU: d.thpt[iy][ix]}
}

// Prefill is the planner's view of a prefill engine.
type Prefill struct {
	lo, hi     float64
	ttft, thpt interp.NotAKnotCubic
}

// NewPrefill fits the splines on raw_data.npz's prefill arrays.
func NewPrefill(p *results.PrefillInterpolation) (*Prefill, error) {
	if len(p.ISL) < 4 || len(p.TTFTMs) != len(p.ISL) || len(p.ThptPerGPU) != len(p.ISL) {
		return nil, errors.New("prefill data: need at least 4 parallel points (scipy's cubic interp1d)")
	}
	if !slices.IsSorted(p.ISL) {
		return nil, errors.New("prefill data: ISLs are not ascending")
	}
	out := &Prefill{lo: p.ISL[0], hi: p.ISL[len(p.ISL)-1]}
	if err := out.ttft.Fit(p.ISL, p.TTFTMs); err != nil {
		return nil, err
	}
	if err := out.thpt.Fit(p.ISL, p.ThptPerGPU); err != nil {
		return nil, err
	}
	return out, nil
}

// At is interpolate_ttft and interpolate_thpt_per_gpu.
func (p *Prefill) At(isl float64) (ttft, thpt float64) {
	isl = math.Max(p.lo, math.Min(isl, p.hi))
	return p.ttft.Predict(isl), p.thpt.Predict(isl)
}
