package plannersim

import "math"

// cloughTocher is a C1 piecewise-cubic interpolant on a Delaunay
// triangulation, the method behind scipy's griddata(method="cubic")
// (CloughTocher2DInterpolator): each triangle is split at its centroid into
// three cubic Bézier patches built from the values and gradients at the
// vertices; the gradients are estimated by minimising the curvature of the
// interpolant along every edge. Written from the method (Alfeld 1984;
// Nielson 1983; Renka & Cline 1984), not from scipy's code.
type cloughTocher struct {
	tri  *triangulation
	f    []float64
	grad [][2]float64
}

func newCloughTocher(t *triangulation, f []float64) *cloughTocher {
	return &cloughTocher{tri: t, f: f, grad: estimateGradients(t, f)}
}

// estimateGradients minimises Σ over edges of ∫ f”² along the edge, f being
// the cubic Hermite segment between the two end values with the end
// gradients' components along the edge. The optimum for one vertex's
// gradient g given its neighbours' is the 2×2 system
//
//	Σ 4 e eᵀ / L³ · g = −Σ (6 (f_i − f_j) + 2 g_j·e) e / L³,  e = p_j − p_i,
//
// solved vertex by vertex (Gauss–Seidel) until the gradients move by less
// than 1e-6 (relative), at most 400 sweeps: scipy's stopping rule.
func estimateGradients(t *triangulation, f []float64) [][2]float64 {
	nbrs := make([][]int, len(t.pts))
	for _, tr := range t.tris {
		for k := range 3 {
			a, b := tr[k], tr[(k+1)%3]
			if !containsInt(nbrs[a], b) {
				nbrs[a] = append(nbrs[a], b)
			}
			if !containsInt(nbrs[b], a) {
				nbrs[b] = append(nbrs[b], a)
			}
		}
	}
	g := make([][2]float64, len(t.pts))
	for range 400 {
		worst := 0.0
		for i, js := range nbrs {
			if len(js) == 0 {
				continue
			}
			var q00, q01, q11, s0, s1 float64
			for _, j := range js {
				ex, ey := t.pts[j].x-t.pts[i].x, t.pts[j].y-t.pts[i].y
				l := math.Hypot(ex, ey)
				l3 := l * l * l
				q00 += 4 * ex * ex / l3
				q01 += 4 * ex * ey / l3
				q11 += 4 * ey * ey / l3
				r := 6*(f[i]-f[j]) + 2*(g[j][0]*ex+g[j][1]*ey)
				s0 += r * ex / l3
				s1 += r * ey / l3
			}
			det := q00*q11 - q01*q01
			if det == 0 {
				continue
			}
			gx := -(q11*s0 - q01*s1) / det
			gy := -(-q01*s0 + q00*s1) / det
			change := math.Max(math.Abs(gx-g[i][0]), math.Abs(gy-g[i][1])) / math.Max(1, math.Max(math.Abs(gx), math.Abs(gy)))
			worst = math.Max(worst, change)
			g[i] = [2]float64{gx, gy}
		}
		if worst < 1e-6 {
			break
		}
	}
	return g
}

func containsInt(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

// at interpolates at p; NaN outside the convex hull.
func (c *cloughTocher) at(p point) float64 {
	ti, b := c.tri.locate(p)
	if ti < 0 {
		return math.NaN()
	}
	return c.patch(ti, b)
}

// patch evaluates the split cubic of triangle ti at barycentric b.
//
// Control points c[i][j][k][l] are indexed by the powers of the barycentric
// coordinates of vertices 1, 2, 3 and of the centroid 4; each sub-triangle
// is (two vertices, centroid). Edge ordinates come from the vertex values
// and gradients; the ordinates next to the centroid from C1 continuity
// inside the triangle; the ones across each edge from the condition that
// the derivative across the edge, in the direction from this centroid to
// the neighbour's, be linear along the edge (degree reduction), which keeps
// the interpolant C1 and affine-invariant.
func (c *cloughTocher) patch(ti int, b [3]float64) float64 {
	tr := c.tri.tris[ti]
	p := [3]point{c.tri.pts[tr[0]], c.tri.pts[tr[1]], c.tri.pts[tr[2]]}
	f := [3]float64{c.f[tr[0]], c.f[tr[1]], c.f[tr[2]]}
	g := [3][2]float64{c.grad[tr[0]], c.grad[tr[1]], c.grad[tr[2]]}
	// d(i, j): derivative at vertex i along the edge to vertex j.
	d := func(i, j int) float64 { return g[i][0]*(p[j].x-p[i].x) + g[i][1]*(p[j].y-p[i].y) }

	var cp [4][4][4][4]float64
	cp[3][0][0][0], cp[0][3][0][0], cp[0][0][3][0] = f[0], f[1], f[2]
	cp[2][1][0][0] = f[0] + d(0, 1)/3
	cp[2][0][1][0] = f[0] + d(0, 2)/3
	cp[1][2][0][0] = f[1] + d(1, 0)/3
	cp[0][2][1][0] = f[1] + d(1, 2)/3
	cp[1][0][2][0] = f[2] + d(2, 0)/3
	cp[0][1][2][0] = f[2] + d(2, 1)/3
	cp[2][0][0][1] = (cp[3][0][0][0] + cp[2][1][0][0] + cp[2][0][1][0]) / 3
	cp[0][2][0][1] = (cp[0][3][0][0] + cp[1][2][0][0] + cp[0][2][1][0]) / 3
	cp[0][0][2][1] = (cp[0][0][3][0] + cp[1][0][2][0] + cp[0][1][2][0]) / 3

	// Cross-edge direction: the neighbour's centroid as
	// const·[(V4 − Va) + γ (Vb − Va)] for the edge a→b opposite vertex k.
	var gamma [3]float64
	for k := range 3 {
		n := c.tri.nbr[ti][k]
		if n < 0 {
			gamma[k] = -0.5 // no neighbour: towards the edge's midpoint
			continue
		}
		nt := c.tri.tris[n]
		cen := point{(c.tri.pts[nt[0]].x + c.tri.pts[nt[1]].x + c.tri.pts[nt[2]].x) / 3,
			(c.tri.pts[nt[0]].y + c.tri.pts[nt[1]].y + c.tri.pts[nt[2]].y) / 3}
		bc := c.tri.barycentric(ti, cen)
		// Edge opposite k runs a = k+1 → b = k+2; with s_x the coordinate
		// of vertex x: γ = (s_b − s_k) / (3 s_k − 1).
		bb := (k + 2) % 3
		gamma[k] = (bc[bb] - bc[k]) / (3*bc[k] - 1)
	}
	// The ordinate next to the centroid across edge a→b (a, b, k cyclic).
	cross := func(k int) float64 {
		a, bb := (k+1)%3, (k+2)%3
		at := func(na, nb, nk, n4 int) float64 {
			var ix [4]int
			ix[a], ix[bb], ix[k], ix[3] = na, nb, nk, n4
			return cp[ix[0]][ix[1]][ix[2]][ix[3]]
		}
		edge := -at(3, 0, 0, 0) + 3*at(2, 1, 0, 0) - 3*at(1, 2, 0, 0) + at(0, 3, 0, 0)
		rest := -at(3, 0, 0, 0) + 2*at(2, 1, 0, 0) - at(1, 2, 0, 0) + at(2, 0, 0, 1) + at(0, 2, 0, 1)
		return (gamma[k]*edge + rest) / 2
	}
	cp[0][1][1][1] = cross(0)
	cp[1][0][1][1] = cross(1)
	cp[1][1][0][1] = cross(2)
	cp[1][0][0][2] = (cp[1][1][0][1] + cp[1][0][1][1] + cp[2][0][0][1]) / 3
	cp[0][1][0][2] = (cp[1][1][0][1] + cp[0][1][1][1] + cp[0][2][0][1]) / 3
	cp[0][0][1][2] = (cp[1][0][1][1] + cp[0][1][1][1] + cp[0][0][2][1]) / 3
	cp[0][0][0][3] = (cp[1][0][0][2] + cp[0][1][0][2] + cp[0][0][1][2]) / 3

	// Coordinates in the sub-triangle opposite the smallest vertex weight.
	m := math.Min(b[0], math.Min(b[1], b[2]))
	w := [4]float64{b[0] - m, b[1] - m, b[2] - m, 3 * m}
	sum := 0.0
	fact := [4]float64{1, 1, 2, 6}
	for i := 0; i <= 3; i++ {
		for j := 0; i+j <= 3; j++ {
			for k := 0; i+j+k <= 3; k++ {
				l := 3 - i - j - k
				if i > 0 && j > 0 && k > 0 {
					continue // no such ordinate: the term vanishes anyway
				}
				coef := 6 / (fact[i] * fact[j] * fact[k] * fact[l])
				sum += coef * math.Pow(w[0], float64(i)) * math.Pow(w[1], float64(j)) * math.Pow(w[2], float64(k)) * math.Pow(w[3], float64(l)) * cp[i][j][k][l]
			}
		}
	}
	return sum
}
