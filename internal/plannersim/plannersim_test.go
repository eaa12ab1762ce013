package plannersim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// randomPoints spreads points anisotropically, as the planner's data is
// (KV usage below 1, contexts in the thousands), with some on shared rows.
func randomPoints(r *rand.Rand, n int) []point {
	pts := make([]point, n)
	for i := range pts {
		y := 350 + 6743*float64(r.IntN(6))
		if i%3 == 0 {
			y = 350 + 34000*r.Float64()
		}
		pts[i] = point{r.Float64() * 0.6, y}
	}
	return pts
}

func hullArea(pts []point) float64 {
	p := slices.Clone(pts)
	slices.SortFunc(p, func(a, b point) int {
		if a.x != b.x {
			return cmpF(a.x, b.x)
		}
		return cmpF(a.y, b.y)
	})
	var h []point
	for pass := 0; pass < 2; pass++ {
		start := len(h)
		for _, q := range p {
			for len(h) >= start+2 && orient(h[len(h)-2], h[len(h)-1], q) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		h = h[:len(h)-1]
		slices.Reverse(p)
	}
	a := 0.0
	for i := range h {
		j := (i + 1) % len(h)
		a += h[i].x*h[j].y - h[j].x*h[i].y
	}
	return a / 2
}

// The triangulation is Delaunay (no point inside any triangle's
// circumcircle, checked exactly), counter-clockwise, and tiles the convex
// hull (the areas add up to the hull's).
func TestDelaunay(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		pts := randomPoints(r, 10+trial*5)
		tri, err := delaunay(pts)
		if err != nil {
			t.Fatal(err)
		}
		area := 0.0
		for ti, tr := range tri.tris {
			a, b, c := pts[tr[0]], pts[tr[1]], pts[tr[2]]
			if orient(a, b, c) <= 0 {
				t.Fatalf("trial %d: triangle %d is not counter-clockwise", trial, ti)
			}
			area += ((b.x-a.x)*(c.y-a.y) - (b.y-a.y)*(c.x-a.x)) / 2
			for i, d := range pts {
				if i != tr[0] && i != tr[1] && i != tr[2] && incircle(a, b, c, d) > 0 {
					t.Fatalf("trial %d: point %d inside the circumcircle of triangle %d", trial, i, ti)
				}
			}
			for k, n := range tri.nbr[ti] {
				if n >= 0 && !slices.Contains(tri.nbr[n][:], ti) {
					t.Fatalf("trial %d: neighbour %d of triangle %d (edge %d) does not point back", trial, n, ti, k)
				}
			}
		}
		if want := hullArea(pts); math.Abs(area-want) > 1e-9*want {
			t.Fatalf("trial %d: triangles cover %v, the hull %v", trial, area, want)
		}
	}
	if _, err := delaunay([]point{{0, 0}, {1, 1}, {2, 2}}); err == nil {
		t.Error("collinear points triangulated")
	}
}

// Clough–Tocher reproduces a linear function exactly (the curvature
// minimum is its own gradient) and passes through the data everywhere.
func TestCloughTocherReproducesLinearData(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pts := randomPoints(r, 60)
	lin := func(p point) float64 { return 3*p.x - 2e-4*p.y + 1 }
	f := make([]float64, len(pts))
	for i, p := range pts {
		f[i] = lin(p)
	}
	tri, err := delaunay(pts)
	if err != nil {
		t.Fatal(err)
	}
	ct := newCloughTocher(tri, f)
	for i, p := range pts {
		if got := ct.at(p); math.Abs(got-f[i]) > 1e-9 {
			t.Fatalf("at data point %d: %v, want %v", i, got, f[i])
		}
	}
	checked := 0
	for range 2000 {
		p := point{r.Float64() * 0.6, 350 + 34000*r.Float64()}
		got := ct.at(p)
		if math.IsNaN(got) {
			continue // outside the hull
		}
		checked++
		if math.Abs(got-lin(p)) > 1e-6 { // the gradients converge to 1e-6

			t.Fatalf("at %+v: %v, want %v", p, got, lin(p))
		}
	}
	if checked < 500 {
		t.Fatalf("only %d points inside the hull", checked)
	}
}

// A smooth surface is interpolated closely and continuously: halfway
// between neighbouring lattice cells the value moves by little.
func TestCloughTocherSmooth(t *testing.T) {
	var pts []point
	var f []float64
	surf := func(p point) float64 { return 5 + 30*p.x*(1+p.y/20000) + 10*p.x*p.x }
	for _, y := range []float64{350, 7093, 13836, 20579} {
		for _, x := range []float64{0.001, 0.1, 0.2, 0.35, 0.5} {
			p := point{x * 20000 / (y + 5000), y}
			pts, f = append(pts, p), append(f, surf(p))
		}
	}
	tri, err := delaunay(pts)
	if err != nil {
		t.Fatal(err)
	}
	ct := newCloughTocher(tri, f)
	worst := 0.0
	for _, p := range pts {
		q := point{p.x * 0.97, p.y * 1.01}
		if v := ct.at(q); !math.IsNaN(v) {
			worst = math.Max(worst, math.Abs(v-surf(q))/surf(q))
		}
	}
	if worst > 0.02 {
		t.Errorf("relative error %.3f near the data, want below 2 %%", worst)
	}
}

// The not-a-knot spline (interp1d's cubic) reproduces a cubic exactly and
// clamps outside the data.
func TestPrefillSpline(t *testing.T) {
	cubic := func(x float64) float64 { return 20 + 0.05*x + 1e-6*x*x + 1e-11*x*x*x }
	p := &results.PrefillInterpolation{}
	for _, x := range []float64{100, 2621, 4000, 5142, 7663, 10184} {
		p.ISL, p.TTFTMs, p.ThptPerGPU = append(p.ISL, x), append(p.TTFTMs, cubic(x)), append(p.ThptPerGPU, x/cubic(x)*1000)
	}
	s, err := NewPrefill(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{150, 3000, 6000, 9999} {
		if got, _ := s.At(x); math.Abs(got-cubic(x)) > 1e-9*cubic(x) {
			t.Errorf("TTFT(%v) = %v, want %v", x, got, cubic(x))
		}
	}
	if got, _ := s.At(50000); math.Abs(got-cubic(10184)) > 1e-9 {
		t.Errorf("beyond the data: %v, want the last value %v", got, cubic(10184))
	}
}

// The decode lookup: on a grid whose ITL grows with KV usage, the planner
// takes the highest KV usage that meets the target on the row of the
// context asked for.
func TestDecodeBestThroughput(t *testing.T) {
	d := &results.DecodeInterpolation{MaxKVTokens: 1000000}
	itl := func(kv, ctx float64) float64 { return 5 + 20*kv + ctx/10000 }
	for _, ctx := range []float64{350, 5000, 10000} {
		for _, n := range []float64{1, 20, 40, 80, 120, 160} {
			kv := n * ctx / 1000000
			if kv > 1 {
				continue
			}
			d.KVUsage = append(d.KVUsage, kv)
			d.ContextLength = append(d.ContextLength, ctx)
			d.ITLMs = append(d.ITLMs, itl(kv, ctx))
			d.ThptPerGPU = append(d.ThptPerGPU, n*1000/itl(kv, ctx))
		}
	}
	p, err := NewDecode(d)
	if err != nil {
		t.Fatal(err)
	}
	// Context 5000 falls on row 50 of 99 over [0, 10000], context 5050.5,
	// where ITL 10 is at KV usage 0.2247: the last column within is 22/99.
	row := 50 * 10000 / 99.0
	c := p.BestThroughput(10, 5000)
	if c.ITLMs > 10 || math.Abs(c.KVUsage-22.0/99) > 1e-12 || math.Abs(c.ITLMs-itl(22.0/99, row)) > 1e-6 || math.Abs(c.Context-row) > 1e-9 {
		t.Errorf("best %+v; want KV 22/99 = %.4f with ITL %.4f at context %.1f", c, 22.0/99, itl(22.0/99, row), row)
	}
	// 45 requests of 5000 tokens: KV usage 0.225, column 22.
	if li, _ := p.Lookup(45, 5000); math.Abs(li-itl(22.0/99, row)) > 1e-6 {
		t.Errorf("Lookup(45, 5000) ITL %.4f, want %.4f", li, itl(22.0/99, row))
	}
}
