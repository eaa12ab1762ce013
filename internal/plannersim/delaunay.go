package plannersim

import (
	"errors"
	"math"
	"math/big"
	"slices"
)

// point is one data site, in the raw coordinates the planner passes to
// scipy (KV usage in [0, 1], context in tokens: no rescaling).
type point struct{ x, y float64 }

// triangulation is a Delaunay triangulation: counter-clockwise triangles of
// point indices, and for each triangle the neighbour across the edge
// opposite each vertex (-1 on the hull).
type triangulation struct {
	pts  []point
	tris [][3]int
	nbr  [][3]int
}

// delaunay triangulates pts: a sweep in lexicographic order builds some
// triangulation of the convex hull, then Lawson's edge flips make every
// edge locally Delaunay, which in the plane makes the whole triangulation
// Delaunay. Both predicates are exact, so the anisotropic coordinates
// (x below 1, y in the tens of thousands) cannot flip a decision.
// Co-circular points keep whichever diagonal the sweep chose.
func delaunay(pts []point) (*triangulation, error) {
	idx := make([]int, len(pts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if pts[a].x != pts[b].x {
			return cmpF(pts[a].x, pts[b].x)
		}
		return cmpF(pts[a].y, pts[b].y)
	})
	idx = slices.CompactFunc(idx, func(a, b int) bool { return pts[a] == pts[b] })
	if len(idx) < 3 {
		return nil, errors.New("fewer than 3 distinct points: nothing to triangulate")
	}
	// The first triangle: the first point off the line of the first two;
	// the points before it lie on that line and form a fan with it.
	k := 2
	for k < len(idx) && orient(pts[idx[0]], pts[idx[1]], pts[idx[k]]) == 0 {
		k++
	}
	if k == len(idx) {
		return nil, errors.New("all points are collinear: no triangle (scipy's Qhull fails the same way)")
	}
	t := &triangulation{pts: pts}
	apex := idx[k]
	left := orient(pts[idx[0]], pts[idx[1]], pts[apex]) > 0
	var hull []int
	for i := 0; i < k; i++ {
		if i+1 < k {
			if left {
				t.tris = append(t.tris, [3]int{idx[i], idx[i+1], apex})
			} else {
				t.tris = append(t.tris, [3]int{idx[i+1], idx[i], apex})
			}
		}
		hull = append(hull, idx[i])
	}
	hull = append(hull, apex)
	if !left {
		slices.Reverse(hull)
	}
	for _, q := range idx[k+1:] {
		hull = t.addOutside(hull, q)
	}
	t.flip()
	t.link()
	return t, nil
}

// addOutside joins q, which lies outside the hull (the sweep order makes
// it so), to every hull edge it sees, and returns the new hull.
func (t *triangulation) addOutside(hull []int, q int) []int {
	n := len(hull)
	visible := make([]bool, n) // edge i runs from hull[i] to hull[i+1]
	any := false
	for i := range n {
		if orient(t.pts[hull[i]], t.pts[hull[(i+1)%n]], t.pts[q]) < 0 {
			visible[i], any = true, true
		}
	}
	if !any {
		return hull // on the hull's line: already covered (duplicates were removed)
	}
	// The visible edges are one cyclic run: start just after an invisible one.
	start := 0
	for visible[start] || !visible[(start+1)%n] {
		start = (start + 1) % n
	}
	first := (start + 1) % n
	last := first
	for visible[last] {
		u, v := hull[last], hull[(last+1)%n]
		t.tris = append(t.tris, [3]int{v, u, q})
		last = (last + 1) % n
	}
	// New hull: ... hull[first], q, hull[last], ...
	out := []int{hull[first], q}
	for i := last; i != first; i = (i + 1) % n {
		out = append(out, hull[i])
	}
	return out
}

// flip applies Lawson's flips until every interior edge is locally Delaunay.
func (t *triangulation) flip() {
	for changed := true; changed; {
		changed = false
		edges := map[[2]int][2]int{} // directed edge -> (triangle, opposite vertex)
		for ti, tr := range t.tris {
			for k := range 3 {
				edges[[2]int{tr[(k+1)%3], tr[(k+2)%3]}] = [2]int{ti, tr[k]}
			}
		}
		done := map[int]bool{}
		for ti := range t.tris {
			if done[ti] {
				continue
			}
			for k := range 3 {
				tr := t.tris[ti]
				a, b, c := tr[(k+1)%3], tr[(k+2)%3], tr[k]
				o, ok := edges[[2]int{b, a}]
				if !ok || done[o[0]] {
					continue
				}
				d := o[1]
				if incircle(t.pts[a], t.pts[b], t.pts[c], t.pts[d]) <= 0 {
					continue
				}
				// (a, b, c) and (b, a, d) become (c, a, d) and (c, d, b).
				t.tris[ti] = [3]int{c, a, d}
				t.tris[o[0]] = [3]int{c, d, b}
				done[ti], done[o[0]], changed = true, true, true
				break
			}
		}
	}
}

// link fills the neighbour table.
func (t *triangulation) link() {
	edges := map[[2]int]int{}
	for ti, tr := range t.tris {
		for k := range 3 {
			edges[[2]int{tr[(k+1)%3], tr[(k+2)%3]}] = ti
		}
	}
	t.nbr = make([][3]int, len(t.tris))
	for ti, tr := range t.tris {
		for k := range 3 {
			t.nbr[ti][k] = -1
			if o, ok := edges[[2]int{tr[(k+2)%3], tr[(k+1)%3]}]; ok {
				t.nbr[ti][k] = o
			}
		}
	}
}

// barycentric are the coordinates of p in triangle ti.
func (t *triangulation) barycentric(ti int, p point) [3]float64 {
	tr := t.tris[ti]
	p1, p2, p3 := t.pts[tr[0]], t.pts[tr[1]], t.pts[tr[2]]
	det := (p2.y-p3.y)*(p1.x-p3.x) + (p3.x-p2.x)*(p1.y-p3.y)
	b1 := ((p2.y-p3.y)*(p.x-p3.x) + (p3.x-p2.x)*(p.y-p3.y)) / det
	b2 := ((p3.y-p1.y)*(p.x-p3.x) + (p1.x-p3.x)*(p.y-p3.y)) / det
	return [3]float64{b1, b2, 1 - b1 - b2}
}

// locate returns a triangle that holds p and p's coordinates in it, or -1
// outside the hull (with the tolerance of scipy's find_simplex).
func (t *triangulation) locate(p point) (int, [3]float64) {
	const eps = 100 * 2.220446049250313e-16
	for ti := range t.tris {
		b := t.barycentric(ti, p)
		if b[0] >= -eps && b[1] >= -eps && b[2] >= -eps {
			return ti, b
		}
	}
	return -1, [3]float64{}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// orient is the sign of the turn a → b → c: > 0 counter-clockwise.
func orient(a, b, c point) int {
	det := (b.x-a.x)*(c.y-a.y) - (b.y-a.y)*(c.x-a.x)
	bound := 1e-12 * (math.Abs((b.x-a.x)*(c.y-a.y)) + math.Abs((b.y-a.y)*(c.x-a.x)))
	if math.Abs(det) > bound {
		return sign(det)
	}
	r := func(v float64) *big.Rat { return new(big.Rat).SetFloat64(v) }
	sub := func(u, v float64) *big.Rat { return new(big.Rat).Sub(r(u), r(v)) }
	l := new(big.Rat).Mul(sub(b.x, a.x), sub(c.y, a.y))
	rr := new(big.Rat).Mul(sub(b.y, a.y), sub(c.x, a.x))
	return l.Cmp(rr)
}

// incircle is > 0 when d lies inside the circle through the
// counter-clockwise triangle a, b, c.
func incircle(a, b, c, d point) int {
	adx, ady, bdx, bdy, cdx, cdy := a.x-d.x, a.y-d.y, b.x-d.x, b.y-d.y, c.x-d.x, c.y-d.y
	la, lb, lc := adx*adx+ady*ady, bdx*bdx+bdy*bdy, cdx*cdx+cdy*cdy
	det := la*(bdx*cdy-bdy*cdx) + lb*(cdx*ady-cdy*adx) + lc*(adx*bdy-ady*bdx)
	perm := la*(math.Abs(bdx*cdy)+math.Abs(bdy*cdx)) + lb*(math.Abs(cdx*ady)+math.Abs(cdy*adx)) + lc*(math.Abs(adx*bdy)+math.Abs(ady*bdx))
	if math.Abs(det) > 1e-10*perm {
		return sign(det)
	}
	r := func(v float64) *big.Rat { return new(big.Rat).SetFloat64(v) }
	sub := func(u, v float64) *big.Rat { return new(big.Rat).Sub(r(u), r(v)) }
	mul := func(u, v *big.Rat) *big.Rat { return new(big.Rat).Mul(u, v) }
	add := func(u, v *big.Rat) *big.Rat { return new(big.Rat).Add(u, v) }
	ax, ay, bx, by, cx, cy := sub(a.x, d.x), sub(a.y, d.y), sub(b.x, d.x), sub(b.y, d.y), sub(c.x, d.x), sub(c.y, d.y)
	lift := func(x, y *big.Rat) *big.Rat { return add(mul(x, x), mul(y, y)) }
	cross := func(x1, y1, x2, y2 *big.Rat) *big.Rat { return new(big.Rat).Sub(mul(x1, y2), mul(y1, x2)) }
	e := add(add(mul(lift(ax, ay), cross(bx, by, cx, cy)), mul(lift(bx, by), cross(cx, cy, ax, ay))), mul(lift(cx, cy), cross(ax, ay, bx, by)))
	return e.Sign()
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
