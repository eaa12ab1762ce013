package output

import (
	"fmt"
	"math"
	"path"
	"runtime"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// chart is one PNG to write: its paths under the output directory (the
// decode ITL chart goes under the seed's and upstream's names) and how to
// build it.
type chart struct {
	names []string
	build func() (*figure, error)
}

// charts lists every chart the results allow: the sweep charts when the
// sweeps have points, and the interpolation charts next to the npz files
// they describe.
func charts(r *results.Results) []chart {
	var cs []chart
	add := func(build func() (*figure, error), names ...string) {
		cs = append(cs, chart{names: names, build: build})
	}
	if len(r.Prefill) > 0 {
		add(func() (*figure, error) { return prefillPerformance(r) }, FilePrefillPerformance)
	}
	if len(r.Decode) > 0 {
		add(func() (*figure, error) { return decodePerformance(r) }, FileDecodePerformance)
	}
	if len(r.Prefill) > 0 && len(r.Decode) > 0 {
		add(func() (*figure, error) { return costSLA(r) }, FileCostSLA)
	}
	if ip := r.PrefillInterpolation; ip != nil && len(ip.ISL) >= minPrefillInterpolation {
		add(func() (*figure, error) { return prefillTTFTInterpolation(r) }, path.Join(DirPrefillInterpolation, FilePrefillTTFTInterp))
		add(func() (*figure, error) { return prefillThptInterpolation(r) }, path.Join(DirPrefillInterpolation, FilePrefillThptInterp))
	}
	if id := r.DecodeInterpolation; id != nil && len(id.KVUsage) > 0 {
		add(func() (*figure, error) { return decodeInterpolation(r, true) },
			path.Join(DirDecodeInterpolation, FileDecodeITLInterp), path.Join(DirDecodeInterpolation, FileDecodeITLInterpUpstream))
		add(func() (*figure, error) { return decodeInterpolation(r, false) }, path.Join(DirDecodeInterpolation, FileDecodeThptInterp))
	}
	return cs
}

// Plots renders every chart the results allow, keyed by output path.
func Plots(r *results.Results) (map[string][]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("results are nil; nothing to plot")
	}
	if r.PrefillInterpolation != nil {
		if err := checkPrefillInterpolation(r.PrefillInterpolation); err != nil {
			return nil, err
		}
	}
	if r.DecodeInterpolation != nil {
		if err := checkDecodeInterpolation(r.DecodeInterpolation); err != nil {
			return nil, err
		}
	}
	out := map[string][]byte{}
	// One chart at a time on one canvas: each is built, drawn, encoded and
	// dropped before the next. Each also leaves about 3 MB of garbage (text
	// goes through x/image/draw, which allocates per pixel), and with the
	// 4.6 MB canvas live the GC would let the heap grow to twice the live
	// size before collecting; collecting after each chart costs about a
	// millisecond and keeps the peak RSS of a whole `profile --local` 9 MB
	// lower (make bench-profile, pkg/profiler/BENCH.md).
	rd := newRenderer()
	cs := charts(r)
	for i, c := range cs {
		f, err := c.build()
		if err != nil {
			return nil, fmt.Errorf("plotting %s: %w", c.names[0], err)
		}
		b, _, err := rd.render(f)
		if err != nil {
			return nil, fmt.Errorf("plotting %s: %w", c.names[0], err)
		}
		for _, n := range c.names {
			out[n] = b
		}
		if i == len(cs)-1 {
			rd.release() // freed by this collection, for the report to reuse
		}
		runtime.GC()
	}
	return out, nil
}

// refLine is the SLA: a red dashed line across the whole plot area.
type refLine struct {
	at       float64
	vertical bool
	style    draw.LineStyle
}

// addRefLine draws the red dashed line at `at` with its legend entry.
func (f *figure) addRefLine(at float64, vertical bool, legend string) {
	l := &refLine{at: at, vertical: vertical, style: draw.LineStyle{
		Color: slaColor, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}}
	f.Add(l)
	f.addLegend(legend, l)
}

func (l *refLine) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	if l.vertical {
		x := tx(l.at)
		c.StrokeLine2(l.style, x, c.Min.Y, x, c.Max.Y)
		return
	}
	y := ty(l.at)
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

// DataRange keeps the SLA inside the axis range on its own axis only.
func (l *refLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	if l.vertical {
		return l.at, l.at, math.Inf(1), math.Inf(-1)
	}
	return math.Inf(1), math.Inf(-1), l.at, l.at
}

func (l *refLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

// ring is the selected point's mark: a thick black ring around the point,
// which stays visible through it.
type ring struct{}

func (ring) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(1.6)})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

// addMarker rings the chosen point.
func (f *figure) addMarker(x, y float64, legend string) error {
	return f.addGlyphs(plotter.XYs{{X: x, Y: y}}, draw.GlyphStyle{Color: selectedColor, Radius: vg.Points(8), Shape: ring{}}, legend)
}

// addFrontier marks SLA frontier points with filled triangles (#13).
func (f *figure) addFrontier(xys plotter.XYs, legend string) error {
	return f.addGlyphs(xys, draw.GlyphStyle{Color: frontierColor, Radius: vg.Points(5.5), Shape: draw.PyramidGlyph{}}, legend)
}

func (f *figure) addGlyphs(xys plotter.XYs, sty draw.GlyphStyle, legend string) error {
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	s.GlyphStyle = sty
	f.Add(s)
	f.track(xys)
	f.addLegend(legend, s)
	return nil
}

func seriesGlyph(i int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColor(i), Shape: seriesShape(i), Radius: vg.Points(4)}
}

// addPoints adds the i-th series as markers only.
func (f *figure) addPoints(xys plotter.XYs, i int, legend string) error {
	return f.addGlyphs(xys, seriesGlyph(i), legend)
}

// addLineSeries adds the i-th series as a line through its points; a
// non-nil shape replaces the series' marker, dashed varies the dashes.
func (f *figure) addLineSeries(xys plotter.XYs, i int, legend string, shape draw.GlyphDrawer, dashed bool) error {
	line, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color = seriesColor(i)
	line.Width = vg.Points(1.5)
	if dashed {
		line.Dashes = dashes[i%len(dashes)]
	}
	pts.GlyphStyle = seriesGlyph(i)
	if shape != nil {
		pts.GlyphStyle.Shape = shape
	}
	f.Add(line, pts)
	f.track(xys)
	f.addLegend(legend, line, pts)
	return nil
}

func mappingLegend(m results.Mapping) string {
	return fmt.Sprintf("%d GPU(s) [%s]", m.N, m.Label())
}

// fmtNum prints an SLA value without needless zeros (200, 12.5).
func fmtNum(f float64) string { return fmt.Sprintf("%g", f) }

// mappingsInOrder groups point indices by mapping, in first-seen order.
func mappingsInOrder[T any](pts []T, key func(T) results.Mapping) ([]results.Mapping, map[results.Mapping][]int) {
	var order []results.Mapping
	idx := map[results.Mapping][]int{}
	for i, p := range pts {
		m := key(p)
		if _, ok := idx[m]; !ok {
			order = append(order, m)
		}
		idx[m] = append(idx[m], i)
	}
	return order, idx
}

// gpuColors gives each GPU count of the sweep one series index, so a
// mapping has the same colour on the prefill and the decode charts.
func gpuColors(r *results.Results) map[int]int {
	seen := map[int]bool{}
	var ns []int
	for _, p := range r.Prefill {
		if !seen[p.Mapping.N] {
			seen[p.Mapping.N] = true
			ns = append(ns, p.Mapping.N)
		}
	}
	for _, d := range r.Decode {
		if !seen[d.Mapping.N] {
			seen[d.Mapping.N] = true
			ns = append(ns, d.Mapping.N)
		}
	}
	sort.Ints(ns)
	idx := make(map[int]int, len(ns))
	for i, n := range ns {
		idx[n] = i
	}
	return idx
}

func prefillPerformance(r *results.Results) (*figure, error) {
	f := newFigure("Prefill Performance", "Time to First Token (ms)", "Prefill throughput per GPU (tokens/s/GPU)")
	colors := gpuColors(r)
	order, idx := mappingsInOrder(r.Prefill, func(pt results.PrefillPoint) results.Mapping { return pt.Mapping })
	for _, m := range order {
		xys := make(plotter.XYs, 0, len(idx[m]))
		for _, j := range idx[m] {
			xys = append(xys, plotter.XY{X: r.Prefill[j].TTFTMs, Y: r.Prefill[j].ThptPerGPU})
		}
		legend := mappingLegend(m)
		if fr := r.PrefillFrontierOf(m); fr != nil && fr.MaxISL > 0 {
			legend += fmt.Sprintf(", up to ISL %d within TTFT", fr.MaxISL)
		}
		if err := f.addPoints(xys, colors[m.N], legend); err != nil {
			return nil, err
		}
	}
	if ttft := r.Input.SLA.TTFT; ttft > 0 {
		f.addRefLine(ttft, true, fmt.Sprintf("Target TTFT: %s ms", fmtNum(ttft)))
	}
	if sel := r.Selection.Prefill; sel != nil {
		for _, pt := range r.Prefill {
			if pt.Mapping == sel.Mapping {
				if err := f.addMarker(pt.TTFTMs, pt.ThptPerGPU, "Selected: "+mappingLegend(sel.Mapping)); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	f.Y.Min = math.Min(f.Y.Min, 0)
	return f, nil
}

func decodePerformance(r *results.Results) (*figure, error) {
	f := newFigure("Decode Performance", "Inter Token Latency (ms)", "Decode throughput per GPU (tokens/s/GPU)")
	colors := gpuColors(r)
	order, idx := mappingsInOrder(r.Decode, func(pt results.DecodePoint) results.Mapping { return pt.Mapping })
	for _, m := range order {
		xys := make(plotter.XYs, 0, len(idx[m]))
		for _, j := range idx[m] {
			xys = append(xys, plotter.XY{X: r.Decode[j].ITLMs, Y: r.Decode[j].ThptPerGPU})
		}
		sort.SliceStable(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		if err := f.addLineSeries(xys, colors[m.N], mappingLegend(m), draw.CircleGlyph{}, false); err != nil {
			return nil, err
		}
	}
	if itl := r.Input.SLA.ITL; itl > 0 {
		f.addRefLine(itl, true, fmt.Sprintf("Target ITL: %s ms", fmtNum(itl)))
	}
	if r.Frontier != nil {
		var xys plotter.XYs
		for _, fr := range r.Frontier.Decode {
			if fr.Concurrency > 0 {
				xys = append(xys, plotter.XY{X: fr.ITLMs, Y: fr.ThptPerGPU})
			}
		}
		if len(xys) > 0 {
			if err := f.addFrontier(xys, fmt.Sprintf("SLA frontier: max concurrency within %s ms", fmtNum(r.Input.SLA.ITL))); err != nil {
				return nil, err
			}
		}
	}
	if sel := r.Selection.Decode; sel != nil {
		best := -1
		for j, pt := range r.Decode {
			if pt.Mapping != sel.Mapping {
				continue
			}
			if sel.Concurrency > 0 && pt.Concurrency == sel.Concurrency {
				best = j
				break
			}
			if best < 0 || math.Abs(pt.ITLMs-sel.LatencyMs) < math.Abs(r.Decode[best].ITLMs-sel.LatencyMs) {
				best = j
			}
		}
		if best >= 0 {
			if err := f.addMarker(r.Decode[best].ITLMs, r.Decode[best].ThptPerGPU, "Selected: "+mappingLegend(sel.Mapping)); err != nil {
				return nil, err
			}
		}
	}
	f.Y.Min = math.Min(f.Y.Min, 0)
	return f, nil
}

// gpuCostPerHour is the profiler's price of one GPU hour for cost_sla.png.
const gpuCostPerHour = 3.0

// costSLA is cost_sla.png (profiler.md §10): for each prefill Pareto point
// (TTFT, throughput/GPU), the cost of 1000 requests of isl/osl tokens along
// the decode Pareto front, against the tokens per user per second that
// decode point gives. The lines differ only by their prefill cost, a
// constant offset that can be small beside the decode cost: the y axis is
// logarithmic where the costs span a decade or more, each line has its own
// colour, marker and dashes, and the legend names the offset.
func costSLA(r *results.Results) (*figure, error) {
	isl, osl := float64(r.Input.SLA.ISL), float64(r.Input.SLA.OSL)
	f := newFigure(fmt.Sprintf("Cost Per 1000 i%so%s requests (GPU/hour = $%.1f) Under Different SLA", fmtNum(isl), fmtNum(osl), gpuCostPerHour),
		"Tokens per User (tokens/s)", "Cost ($)")
	pf := pareto(len(r.Prefill), func(i int) (float64, float64) { return r.Prefill[i].TTFTMs, r.Prefill[i].ThptPerGPU })
	df := pareto(len(r.Decode), func(i int) (float64, float64) { return r.Decode[i].ITLMs, r.Decode[i].ThptPerGPU })
	sort.Slice(pf, func(a, b int) bool { return r.Prefill[pf[a]].TTFTMs < r.Prefill[pf[b]].TTFTMs })
	sort.Slice(df, func(a, b int) bool { return r.Decode[df[a]].ITLMs > r.Decode[df[b]].ITLMs }) // x = 1000/ITL ascending
	perGPUSecond := gpuCostPerHour / 3600
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, pi := range pf {
		pp := r.Prefill[pi]
		prefillCost := isl * 1000 / pp.ThptPerGPU * perGPUSecond
		xys := make(plotter.XYs, 0, len(df))
		for _, di := range df {
			d := r.Decode[di]
			y := osl*1000/d.ThptPerGPU*perGPUSecond + prefillCost
			xys = append(xys, plotter.XY{X: 1000 / d.ITLMs, Y: y})
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		legend := fmt.Sprintf("TTFT: %.2fms (prefill $%.2f)", pp.TTFTMs, prefillCost)
		if err := f.addLineSeries(xys, i, legend, nil, true); err != nil {
			return nil, err
		}
	}
	// The ITL target as a speed: decode points left of it miss the SLA.
	if itl := r.Input.SLA.ITL; itl > 0 {
		f.addRefLine(1000/itl, true, fmt.Sprintf("Target ITL: %s ms (%.1f tokens/s per user)", fmtNum(itl), 1000/itl))
	}
	if lo > 0 && hi/lo >= 10 {
		f.Y.Scale = plot.LogScale{}
		f.Y.Tick.Marker = logTicks{}
		f.Y.Label.Text = "Cost ($, log scale)"
	} else {
		f.Y.Min = math.Min(f.Y.Min, 0)
	}
	return f, nil
}

// pareto returns the indices of the points no other point beats: a point
// is dropped when another has latency <= and throughput >= with one of the
// two strict (the profiler's compute_pareto). Non-finite or non-positive
// points are left out: they cannot be priced.
func pareto(n int, at func(int) (lat, thpt float64)) []int {
	var out []int
	for i := range n {
		li, ti := at(i)
		if !(li > 0 && ti > 0) || math.IsInf(li, 0) || math.IsInf(ti, 0) {
			continue
		}
		dominated := false
		for j := range n {
			lj, tj := at(j)
			if j != i && lj <= li && tj >= ti && (lj < li || tj > ti) && lj > 0 && tj > 0 {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, i)
		}
	}
	return out
}

// quadFit is numpy.polyfit(x, y, 2) by least squares (normal equations,
// with x scaled for conditioning); ok is false when x has < 3 distinct values.
func quadFit(x, y []float64) (a, b, c float64, ok bool) {
	scale := 0.0
	for _, v := range x {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		return 0, 0, 0, false
	}
	var s [5]float64
	var t [3]float64
	for i := range x {
		u := x[i] / scale
		pw := 1.0
		for k := 0; k < 5; k++ {
			s[k] += pw
			if k < 3 {
				t[k] += pw * y[i]
			}
			pw *= u
		}
	}
	m := [3][4]float64{{s[0], s[1], s[2], t[0]}, {s[1], s[2], s[3], t[1]}, {s[2], s[3], s[4], t[2]}}
	for col := 0; col < 3; col++ {
		piv := col
		for row := col + 1; row < 3; row++ {
			if math.Abs(m[row][col]) > math.Abs(m[piv][col]) {
				piv = row
			}
		}
		if math.Abs(m[piv][col]) < 1e-12 {
			return 0, 0, 0, false
		}
		m[col], m[piv] = m[piv], m[col]
		for row := 0; row < 3; row++ {
			if row != col {
				f := m[row][col] / m[col][col]
				for k := col; k < 4; k++ {
					m[row][k] -= f * m[col][k]
				}
			}
		}
	}
	c0, c1, c2 := m[0][3]/m[0][0], m[1][3]/m[1][1], m[2][3]/m[2][2]
	return c2 / (scale * scale), c1 / scale, c0, true
}

func prefillTTFTInterpolation(r *results.Results) (*figure, error) {
	ip := r.PrefillInterpolation
	f := newFigure("Prefill TTFT vs Input Sequence Length", "Input Sequence Length (tokens)", "Time to First Token (ms)")
	xys := make(plotter.XYs, len(ip.ISL))
	for i := range ip.ISL {
		xys[i] = plotter.XY{X: ip.ISL[i], Y: ip.TTFTMs[i]}
	}
	if err := f.addPoints(xys, 0, "Measured data"); err != nil {
		return nil, err
	}
	a, b, c, ok := quadFit(ip.ISL, ip.TTFTMs)
	if ok {
		lo, hi := minMax(ip.ISL)
		fit := make(plotter.XYs, 100)
		for i := range fit {
			x := lo + (hi-lo)*float64(i)/99
			fit[i] = plotter.XY{X: x, Y: a*x*x + b*x + c}
		}
		l, err := plotter.NewLine(fit)
		if err != nil {
			return nil, err
		}
		l.Color = seriesColor(1)
		l.Width = vg.Points(1.5)
		f.Add(l)
		f.addLegend(fmt.Sprintf("Quadratic fit: %.2ex² + %.2ex + %.2e", a, b, c), l)
	}
	if ttft := r.Input.SLA.TTFT; ttft > 0 {
		f.addRefLine(ttft, false, fmt.Sprintf("Target TTFT: %s ms", fmtNum(ttft)))
	}
	if isl := float64(r.Input.SLA.ISL); ok && isl > 0 {
		if err := f.addMarker(isl, a*isl*isl+b*isl+c, fmt.Sprintf("SLA ISL %d%s", r.Input.SLA.ISL, selectedSuffix(r.Selection.Prefill))); err != nil {
			return nil, err
		}
	}
	if c := r.Selection.Prefill; c != nil {
		if fr := r.PrefillFrontierOf(c.Mapping); fr != nil && fr.MaxISL > 0 {
			if err := f.addFrontier(plotter.XYs{{X: float64(fr.MaxISL), Y: fr.TTFTMs}}, fmt.Sprintf("SLA frontier: max ISL %d within TTFT", fr.MaxISL)); err != nil {
				return nil, err
			}
		}
	}
	f.Y.Min = math.Min(f.Y.Min, 0)
	return f, nil
}

func prefillThptInterpolation(r *results.Results) (*figure, error) {
	ip := r.PrefillInterpolation
	f := newFigure("Prefill Throughput vs Input Sequence Length", "Input Sequence Length (tokens)", "Prefill throughput per GPU (tokens/s/GPU)")
	xys := make(plotter.XYs, len(ip.ISL))
	for i := range ip.ISL {
		xys[i] = plotter.XY{X: ip.ISL[i], Y: ip.ThptPerGPU[i]}
	}
	if err := f.addLineSeries(xys, 0, "Throughput/GPU", nil, false); err != nil {
		return nil, err
	}
	if isl := float64(r.Input.SLA.ISL); isl > 0 {
		f.addRefLine(isl, true, fmt.Sprintf("SLA ISL: %d tokens", r.Input.SLA.ISL))
		if err := f.addMarker(isl, interp(ip.ISL, ip.ThptPerGPU, isl), "Selected"+selectedSuffix(r.Selection.Prefill)); err != nil {
			return nil, err
		}
	}
	f.Y.Min = math.Min(f.Y.Min, 0)
	return f, nil
}

func selectedSuffix(c *results.Choice) string {
	if c == nil {
		return ""
	}
	return " on " + mappingLegend(c.Mapping)
}

// decodeInterpolation draws the decode surface in 2-D: one line per context
// length over KV usage, ITL (itl) or throughput per GPU (!itl).
func decodeInterpolation(r *results.Results, itl bool) (*figure, error) {
	d := r.DecodeInterpolation
	title, ylabel, z := "Decode Throughput Interpolation", "Decode throughput per GPU (tokens/s/GPU)", d.ThptPerGPU
	if itl {
		title, ylabel, z = "Decode ITL Interpolation", "Inter Token Latency (ms)", d.ITLMs
	}
	f := newFigure(title, "Active KV Percentage (%)", ylabel)
	var ctxs []float64
	groups := map[float64][]int{}
	for i, c := range d.ContextLength {
		if _, ok := groups[c]; !ok {
			ctxs = append(ctxs, c)
		}
		groups[c] = append(groups[c], i)
	}
	sort.Float64s(ctxs)
	for gi, c := range ctxs {
		xys := make(plotter.XYs, 0, len(groups[c]))
		for _, i := range groups[c] {
			xys = append(xys, plotter.XY{X: 100 * d.KVUsage[i], Y: z[i]})
		}
		sort.SliceStable(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		if err := f.addLineSeries(xys, gi, fmt.Sprintf("Context %.0f tokens", c), nil, false); err != nil {
			return nil, err
		}
	}
	// The planner's pick at the workload's context, ISL + OSL/2 (what the
	// planner's find_best_throughput_per_gpu is asked for): the highest KV
	// usage that still meets the ITL target on that row of the grid, or on
	// the nearest row when the grid has none at that context.
	target := float64(r.Input.SLA.ISL) + float64(r.Input.SLA.OSL)/2
	best := -1
	nearest := math.NaN()
	if len(ctxs) > 0 {
		nearest = ctxs[0]
		for _, c := range ctxs {
			if math.Abs(c-target) < math.Abs(nearest-target) {
				nearest = c
			}
		}
		for _, i := range groups[nearest] {
			if d.ITLMs[i] <= r.Input.SLA.ITL && (best < 0 || d.KVUsage[i] > d.KVUsage[best]) {
				best = i
			}
		}
	}
	if itl && r.Input.SLA.ITL > 0 {
		f.addRefLine(r.Input.SLA.ITL, false, fmt.Sprintf("Target ITL: %s ms", fmtNum(r.Input.SLA.ITL)))
	}
	if best >= 0 {
		if !itl {
			f.addRefLine(100*d.KVUsage[best], true, fmt.Sprintf("ITL ≤ %s ms up to %.1f%% KV", fmtNum(r.Input.SLA.ITL), 100*d.KVUsage[best]))
		}
		where := fmt.Sprintf("at context %.0f (ISL+OSL/2)", target)
		if math.Abs(nearest-target) >= 0.5 {
			where = fmt.Sprintf("at context %.0f (nearest to ISL+OSL/2 = %.0f)", nearest, target)
		}
		if err := f.addMarker(100*d.KVUsage[best], z[best], "Selected"+selectedSuffix(r.Selection.Decode)+" "+where); err != nil {
			return nil, err
		}
	}
	f.X.Min = 0
	f.Y.Min = math.Min(f.Y.Min, 0)
	return f, nil
}

func minMax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// interp is linear interpolation on (x, y) sorted by x, clamped at the ends.
func interp(x, y []float64, at float64) float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	if len(idx) == 0 {
		return 0
	}
	if at <= x[idx[0]] {
		return y[idx[0]]
	}
	for k := 1; k < len(idx); k++ {
		i0, i1 := idx[k-1], idx[k]
		if at <= x[i1] {
			if x[i1] == x[i0] {
				return y[i1]
			}
			return y[i0] + (y[i1]-y[i0])*(at-x[i0])/(x[i1]-x[i0])
		}
	}
	return y[idx[len(idx)-1]]
}
