package output

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"path"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Plot size: small enough that a whole profile renders in well under 0.5 s.
const (
	plotWidth  = 7 * vg.Inch
	plotHeight = 4.5 * vg.Inch
	plotDPI    = 96
)

var (
	slaColor      = color.RGBA{R: 220, A: 255}
	selectedColor = color.RGBA{A: 255}
	frontierColor = color.RGBA{R: 120, G: 40, B: 160, A: 255}
)

// Plots renders every chart the results allow, keyed by output path:
// the sweep charts when the sweeps have points, and the interpolation charts
// next to the npz files they describe.
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
	type job struct {
		name string
		mk   func() (*plot.Plot, error)
	}
	var jobs []job
	if len(r.Prefill) > 0 {
		jobs = append(jobs, job{FilePrefillPerformance, func() (*plot.Plot, error) { return prefillPerformance(r) }})
	}
	if len(r.Decode) > 0 {
		jobs = append(jobs, job{FileDecodePerformance, func() (*plot.Plot, error) { return decodePerformance(r) }})
	}
	if len(r.Prefill) > 0 && len(r.Decode) > 0 {
		jobs = append(jobs, job{FileCostSLA, func() (*plot.Plot, error) { return costSLA(r) }})
	}
	if ip := r.PrefillInterpolation; ip != nil && len(ip.ISL) >= minPrefillInterpolation {
		jobs = append(jobs,
			job{path.Join(DirPrefillInterpolation, FilePrefillTTFTInterp), func() (*plot.Plot, error) { return prefillTTFTInterpolation(r) }},
			job{path.Join(DirPrefillInterpolation, FilePrefillThptInterp), func() (*plot.Plot, error) { return prefillThptInterpolation(r) }})
	}
	if id := r.DecodeInterpolation; id != nil && len(id.KVUsage) > 0 {
		jobs = append(jobs,
			job{path.Join(DirDecodeInterpolation, FileDecodeITLInterp), func() (*plot.Plot, error) { return decodeInterpolation(r, true) }},
			job{path.Join(DirDecodeInterpolation, FileDecodeThptInterp), func() (*plot.Plot, error) { return decodeInterpolation(r, false) }})
	}
	// One chart at a time: two at once saved no wall time on 2 cores but
	// held two canvases and PNG encoders, 5 MB of peak RSS over the 60 MB
	// budget of a whole `profile --local` (make bench-profile).
	for _, j := range jobs {
		b, err := renderPNG(j.mk)
		if err != nil {
			return nil, fmt.Errorf("plotting %s: %w", j.name, err)
		}
		out[j.name] = b
	}
	return out, nil
}

func renderPNG(mk func() (*plot.Plot, error)) (b []byte, err error) {
	// gonum/plot panics on some degenerate inputs; a plot must never take
	// the whole profile down, so turn that into an error.
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("rendering failed: %v", rec)
		}
	}()
	p, err := mk()
	if err != nil {
		return nil, err
	}
	c := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	dc := draw.New(c)
	makeRoom(p, dc)
	p.Draw(dc)
	var buf bytes.Buffer
	// Best speed: default deflate takes most of the rendering time, and the
	// files stay small anyway (flat colours compress well).
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, c.Image()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = 0.3 * vg.Inch
	p.Legend.XOffs = -vg.Points(4) // keep the thumbnails off the frame
	p.Legend.TextStyle.Font.Size = 9
	p.Title.TextStyle.Font.Size = 13
	p.X.Label.TextStyle.Font.Size = 11
	p.Y.Label.TextStyle.Font.Size = 11
	p.X.Tick.Label.Font.Size = 9
	p.Y.Tick.Label.Font.Size = 9
	return p
}

// makeRoom raises the y axis so the top-right legend sits above the data
// instead of hiding it.
func makeRoom(p *plot.Plot, c draw.Canvas) {
	if math.IsInf(p.Y.Min, 0) || math.IsInf(p.Y.Max, 0) || math.IsNaN(p.Y.Min) || math.IsNaN(p.Y.Max) {
		return
	}
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	area := float64(c.Max.Y-c.Min.Y) - 70 // without title and x axis, approx.
	if area <= 0 {
		return
	}
	r := p.Legend.Rectangle(c)
	frac := math.Min((float64(r.Max.Y-r.Min.Y)+6)/area, 0.6)
	p.Y.Max = p.Y.Min + (p.Y.Max-p.Y.Min)/(1-frac)
}

// refLine is the SLA: a red dashed line across the whole plot area.
type refLine struct {
	at       float64
	vertical bool
	style    draw.LineStyle
}

// addRefLine draws the red dashed line at `at` with its legend entry.
func addRefLine(p *plot.Plot, at float64, vertical bool, legend string) {
	l := newRefLine(at, vertical)
	p.Add(l)
	p.Legend.Add(legend, l)
}

func newRefLine(at float64, vertical bool) *refLine {
	return &refLine{at: at, vertical: vertical, style: draw.LineStyle{
		Color: slaColor, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}}
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

// marker rings the chosen point.
func marker(x, y float64) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: selectedColor, Radius: vg.Points(7), Shape: draw.RingGlyph{}}
	return s, nil
}

func seriesStyle(s *plotter.Scatter, i int) {
	s.GlyphStyle.Color = plotutil.Color(i)
	s.GlyphStyle.Shape = plotutil.Shape(i)
	s.GlyphStyle.Radius = vg.Points(3.5)
}

// addLineSeries adds the i-th line-and-points series with its legend entry;
// a non-nil shape replaces the series' marker.
func addLineSeries(p *plot.Plot, xys plotter.XYs, i int, legend string, shape draw.GlyphDrawer) error {
	line, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color = plotutil.Color(i)
	line.Width = vg.Points(1.5)
	seriesStyle(pts, i)
	if shape != nil {
		pts.GlyphStyle.Shape = shape
	}
	p.Add(line, pts)
	p.Legend.Add(legend, line, pts)
	return nil
}

// addFrontierMarks draws each decode mapping's SLA frontier (the largest
// concurrency within the ITL target) as a filled triangle.
func addFrontierMarks(p *plot.Plot, r *results.Results) error {
	if r.Frontier == nil {
		return nil
	}
	var xys plotter.XYs
	for _, f := range r.Frontier.Decode {
		if f.Concurrency > 0 {
			xys = append(xys, plotter.XY{X: f.ITLMs, Y: f.ThptPerGPU})
		}
	}
	if len(xys) == 0 {
		return nil
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: frontierColor, Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}
	p.Add(s)
	p.Legend.Add(fmt.Sprintf("SLA frontier: max concurrency within %s ms", fmtNum(r.Input.SLA.ITL)), s)
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

func prefillPerformance(r *results.Results) (*plot.Plot, error) {
	p := newPlot("Prefill Performance", "Time to First Token (ms)", "Prefill throughput per GPU (tokens/s/GPU)")
	order, idx := mappingsInOrder(r.Prefill, func(pt results.PrefillPoint) results.Mapping { return pt.Mapping })
	for i, m := range order {
		xys := make(plotter.XYs, 0, len(idx[m]))
		for _, j := range idx[m] {
			xys = append(xys, plotter.XY{X: r.Prefill[j].TTFTMs, Y: r.Prefill[j].ThptPerGPU})
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		seriesStyle(s, i)
		p.Add(s)
		legend := mappingLegend(m)
		if f := r.PrefillFrontierOf(m); f != nil && f.MaxISL > 0 {
			legend += fmt.Sprintf(", up to ISL %d within TTFT", f.MaxISL)
		}
		p.Legend.Add(legend, s)
	}
	if ttft := r.Input.SLA.TTFT; ttft > 0 {
		addRefLine(p, ttft, true, fmt.Sprintf("Target TTFT: %s ms", fmtNum(ttft)))
	}
	if sel := r.Selection.Prefill; sel != nil {
		for _, pt := range r.Prefill {
			if pt.Mapping == sel.Mapping {
				mk, err := marker(pt.TTFTMs, pt.ThptPerGPU)
				if err != nil {
					return nil, err
				}
				p.Add(mk)
				p.Legend.Add("Selected: "+mappingLegend(sel.Mapping), mk)
				break
			}
		}
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
}

func decodePerformance(r *results.Results) (*plot.Plot, error) {
	p := newPlot("Decode Performance", "Inter Token Latency (ms)", "Decode throughput per GPU (tokens/s/GPU)")
	order, idx := mappingsInOrder(r.Decode, func(pt results.DecodePoint) results.Mapping { return pt.Mapping })
	for i, m := range order {
		xys := make(plotter.XYs, 0, len(idx[m]))
		for _, j := range idx[m] {
			xys = append(xys, plotter.XY{X: r.Decode[j].ITLMs, Y: r.Decode[j].ThptPerGPU})
		}
		sort.SliceStable(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		if err := addLineSeries(p, xys, i, mappingLegend(m), draw.CircleGlyph{}); err != nil {
			return nil, err
		}
	}
	if itl := r.Input.SLA.ITL; itl > 0 {
		addRefLine(p, itl, true, fmt.Sprintf("Target ITL: %s ms", fmtNum(itl)))
	}
	if err := addFrontierMarks(p, r); err != nil {
		return nil, err
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
			mk, err := marker(r.Decode[best].ITLMs, r.Decode[best].ThptPerGPU)
			if err != nil {
				return nil, err
			}
			p.Add(mk)
			p.Legend.Add("Selected: "+mappingLegend(sel.Mapping), mk)
		}
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
}

// gpuCostPerHour is the profiler's price of one GPU hour for cost_sla.png.
const gpuCostPerHour = 3.0

// costSLA is cost_sla.png (profiler.md §10): for each prefill Pareto point
// (TTFT, throughput/GPU), the cost of 1000 requests of isl/osl tokens along
// the decode Pareto front, against the tokens per user per second that
// decode point gives.
func costSLA(r *results.Results) (*plot.Plot, error) {
	isl, osl := float64(r.Input.SLA.ISL), float64(r.Input.SLA.OSL)
	p := newPlot(fmt.Sprintf("Cost Per 1000 i%so%s requests (GPU/hour = $%.1f) Under Different SLA", fmtNum(isl), fmtNum(osl), gpuCostPerHour),
		"Tokens per User", "Cost ($)")
	pf := pareto(len(r.Prefill), func(i int) (float64, float64) { return r.Prefill[i].TTFTMs, r.Prefill[i].ThptPerGPU })
	df := pareto(len(r.Decode), func(i int) (float64, float64) { return r.Decode[i].ITLMs, r.Decode[i].ThptPerGPU })
	sort.Slice(pf, func(a, b int) bool { return r.Prefill[pf[a]].TTFTMs < r.Prefill[pf[b]].TTFTMs })
	sort.Slice(df, func(a, b int) bool { return r.Decode[df[a]].ITLMs > r.Decode[df[b]].ITLMs }) // x = 1000/ITL ascending
	perGPUSecond := gpuCostPerHour / 3600
	for i, pi := range pf {
		pp := r.Prefill[pi]
		xys := make(plotter.XYs, 0, len(df))
		for _, di := range df {
			d := r.Decode[di]
			xys = append(xys, plotter.XY{
				X: 1000 / d.ITLMs,
				Y: osl*1000/d.ThptPerGPU*perGPUSecond + isl*1000/pp.ThptPerGPU*perGPUSecond,
			})
		}
		if err := addLineSeries(p, xys, i, fmt.Sprintf("TTFT: %.2fms", pp.TTFTMs), nil); err != nil {
			return nil, err
		}
	}
	// The ITL target as a speed: decode points left of it miss the SLA.
	if itl := r.Input.SLA.ITL; itl > 0 {
		addRefLine(p, 1000/itl, true, fmt.Sprintf("Target ITL: %s ms (%.1f tokens/s per user)", fmtNum(itl), 1000/itl))
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
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

func prefillTTFTInterpolation(r *results.Results) (*plot.Plot, error) {
	ip := r.PrefillInterpolation
	p := newPlot("Prefill TTFT vs Input Sequence Length", "Input Sequence Length (tokens)", "Time to First Token (ms)")
	xys := make(plotter.XYs, len(ip.ISL))
	for i := range ip.ISL {
		xys[i] = plotter.XY{X: ip.ISL[i], Y: ip.TTFTMs[i]}
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	seriesStyle(s, 0)
	p.Add(s)
	p.Legend.Add("Measured data", s)
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
		l.Color = plotutil.Color(1)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("Quadratic fit: %.2ex² + %.2ex + %.2e", a, b, c), l)
	}
	if ttft := r.Input.SLA.TTFT; ttft > 0 {
		addRefLine(p, ttft, false, fmt.Sprintf("Target TTFT: %s ms", fmtNum(ttft)))
	}
	if isl := float64(r.Input.SLA.ISL); ok && isl > 0 {
		mk, err := marker(isl, a*isl*isl+b*isl+c)
		if err != nil {
			return nil, err
		}
		p.Add(mk)
		p.Legend.Add(fmt.Sprintf("SLA ISL %d%s", r.Input.SLA.ISL, selectedSuffix(r.Selection.Prefill)), mk)
	}
	if c := r.Selection.Prefill; c != nil {
		if f := r.PrefillFrontierOf(c.Mapping); f != nil && f.MaxISL > 0 {
			s, err := plotter.NewScatter(plotter.XYs{{X: float64(f.MaxISL), Y: f.TTFTMs}})
			if err != nil {
				return nil, err
			}
			s.GlyphStyle = draw.GlyphStyle{Color: frontierColor, Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}
			p.Add(s)
			p.Legend.Add(fmt.Sprintf("SLA frontier: max ISL %d within TTFT", f.MaxISL), s)
		}
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
}

func prefillThptInterpolation(r *results.Results) (*plot.Plot, error) {
	ip := r.PrefillInterpolation
	p := newPlot("Prefill Throughput vs Input Sequence Length", "Input Sequence Length (tokens)", "Prefill throughput per GPU (tokens/s/GPU)")
	xys := make(plotter.XYs, len(ip.ISL))
	for i := range ip.ISL {
		xys[i] = plotter.XY{X: ip.ISL[i], Y: ip.ThptPerGPU[i]}
	}
	line, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, err
	}
	line.Color = plotutil.Color(0)
	line.Width = vg.Points(1.5)
	seriesStyle(pts, 0)
	p.Add(line, pts)
	p.Legend.Add("Throughput/GPU", line, pts)
	if isl := float64(r.Input.SLA.ISL); isl > 0 {
		addRefLine(p, isl, true, fmt.Sprintf("SLA ISL: %d tokens", r.Input.SLA.ISL))
		mk, err := marker(isl, interp(ip.ISL, ip.ThptPerGPU, isl))
		if err != nil {
			return nil, err
		}
		p.Add(mk)
		p.Legend.Add("Selected"+selectedSuffix(r.Selection.Prefill), mk)
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
}

func selectedSuffix(c *results.Choice) string {
	if c == nil {
		return ""
	}
	return " on " + mappingLegend(c.Mapping)
}

// decodeInterpolation draws the decode surface in 2-D: one line per context
// length over KV usage, ITL (itl) or throughput per GPU (!itl).
func decodeInterpolation(r *results.Results, itl bool) (*plot.Plot, error) {
	d := r.DecodeInterpolation
	title, ylabel, z := "Decode Throughput Interpolation", "Decode throughput per GPU (tokens/s/GPU)", d.ThptPerGPU
	if itl {
		title, ylabel, z = "Decode ITL Interpolation", "Inter Token Latency (ms)", d.ITLMs
	}
	p := newPlot(title, "Active KV Percentage (%)", ylabel)
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
		if err := addLineSeries(p, xys, gi, fmt.Sprintf("Context %.0f tokens", c), nil); err != nil {
			return nil, err
		}
	}
	// The planner's pick at the SLA context: the highest KV usage that still
	// meets the ITL target (perf_interpolation.find_best_throughput_per_gpu).
	target := float64(r.Input.SLA.ISL) + float64(r.Input.SLA.OSL)/2
	best := -1
	if len(ctxs) > 0 {
		nearest := ctxs[0]
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
		addRefLine(p, r.Input.SLA.ITL, false, fmt.Sprintf("Target ITL: %s ms", fmtNum(r.Input.SLA.ITL)))
	}
	if best >= 0 {
		if !itl {
			addRefLine(p, 100*d.KVUsage[best], true, fmt.Sprintf("ITL ≤ %s ms up to %.1f%% KV", fmtNum(r.Input.SLA.ITL), 100*d.KVUsage[best]))
		}
		mk, err := marker(100*d.KVUsage[best], z[best])
		if err != nil {
			return nil, err
		}
		p.Add(mk)
		p.Legend.Add(fmt.Sprintf("Selected%s at context %.0f", selectedSuffix(r.Selection.Decode), d.ContextLength[best]), mk)
	}
	p.X.Min = 0
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
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
