package output

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"

	"git.sr.ht/~sbinet/gg"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart geometry: 7×4.5 inches at 192 dpi, twice the 96 dpi of a screen,
// so the PNGs (1344×864 pixels) stay sharp on high-density displays and
// when the report is zoomed.
const (
	plotWidth  = 7 * vg.Inch
	plotHeight = 4.5 * vg.Inch
	plotDPI    = 192

	// dataMargin is the share of each axis' span left empty beyond the
	// outermost data, so no marker touches the frame.
	dataMargin = 0.05
)

// Text sizes in points.
const (
	titleSize  = 13
	labelSize  = 11
	tickSize   = 9
	legendSize = 9
)

var (
	textFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

	slaColor      = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	selectedColor = color.RGBA{A: 255}
	frontierColor = color.RGBA{R: 84, G: 39, B: 143, A: 255}

	// palette is a categorical palette (matplotlib's tab10) without its red
	// and purple, which the SLA lines and the frontier marks use: neighbouring
	// series never get similar colours.
	palette = []color.Color{
		color.RGBA{R: 31, G: 119, B: 180, A: 255},  // blue
		color.RGBA{R: 255, G: 127, B: 14, A: 255},  // orange
		color.RGBA{R: 44, G: 160, B: 44, A: 255},   // green
		color.RGBA{R: 140, G: 86, B: 75, A: 255},   // brown
		color.RGBA{R: 227, G: 119, B: 194, A: 255}, // pink
		color.RGBA{R: 23, G: 190, B: 207, A: 255},  // cyan
		color.RGBA{R: 188, G: 189, B: 34, A: 255},  // olive
		color.RGBA{R: 127, G: 127, B: 127, A: 255}, // grey
	}
	// shapes vary with the colour so that series stay apart in grey scale
	// and beyond eight series; all are filled or thick, to read at a glance.
	// A ring and an upward triangle are left out: they mark the selected
	// point and the SLA frontier.
	shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, polygon{4, math.Pi / 4}, polygon{4, 0},
		polygon{3, math.Pi}, cross{}, polygon{6, 0}}
	// dashes tell apart lines that run close together (cost_sla.png).
	dashes = [][]vg.Length{nil, {vg.Points(7), vg.Points(3)}, {vg.Points(2), vg.Points(2)},
		{vg.Points(7), vg.Points(2), vg.Points(2), vg.Points(2)}}
)

func seriesColor(i int) color.Color      { return palette[i%len(palette)] }
func seriesShape(i int) draw.GlyphDrawer { return shapes[i%len(shapes)] }

// polygon is a filled regular marker: n vertices on the marker's circle,
// the first at angle rot clockwise from the top (a square is {4, π/4}, a
// diamond {4, 0}, a downward triangle {3, π}).
type polygon struct {
	n   int
	rot float64
}

func (g polygon) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetColor(sty.Color)
	var p vg.Path
	for i := range g.n {
		a := g.rot + 2*math.Pi*float64(i)/float64(g.n)
		q := vg.Point{X: pt.X + sty.Radius*vg.Length(math.Sin(a)), Y: pt.Y + sty.Radius*vg.Length(math.Cos(a))}
		if i == 0 {
			p.Move(q)
		} else {
			p.Line(q)
		}
	}
	p.Close()
	c.Fill(p)
}

// cross is a thick ×.
type cross struct{}

func (cross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(1.8)}
	r := sty.Radius * 0.8
	c.StrokeLine2(ls, pt.X-r, pt.Y-r, pt.X+r, pt.Y+r)
	c.StrokeLine2(ls, pt.X-r, pt.Y+r, pt.X+r, pt.Y-r)
}

func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(textFont, size), Handler: plot.DefaultTextHandler}
}

// A figure is one chart. Its title and legend are laid out here rather than
// by gonum/plot: the legend goes in a band between the title and the axes,
// so it can never cover a data point or a line.
type figure struct {
	*plot.Plot
	title  string
	legend []legendEntry
	// points is every data point drawn, for the checks that none is
	// clipped or covered.
	points plotter.XYs
}

type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

func newFigure(title, x, y string) *figure {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(textFont, labelSize)
		a.Tick.Label.Font = font.From(textFont, tickSize)
		a.Tick.Marker = niceTicks{}
		// Room between the axis line and the data for half a marker, so a
		// point on a range end pinned at zero is drawn whole.
		a.Padding = vg.Points(9)
	}
	p.Add(plotter.NewGrid())
	return &figure{Plot: p, title: title}
}

func (f *figure) addLegend(label string, thumbs ...plot.Thumbnailer) {
	f.legend = append(f.legend, legendEntry{label: label, thumbs: thumbs})
}

func (f *figure) track(xys plotter.XYs) { f.points = append(f.points, xys...) }

// frame sets the axis ranges for drawing in area: the data plus a margin on
// each side of dataMargin of the span, or more when the axis is short, so
// the largest marker fits; a y range starting at zero stays there (a
// throughput of 0 is the natural floor; the axis padding keeps its markers
// whole).
func (f *figure) frame(area draw.Canvas) {
	x0, x1, y0, y1 := f.X.Min, f.X.Max, f.Y.Min, f.Y.Max
	fx, fy := dataMargin, dataMargin
	// The second pass sizes the margins on the data area the first one gave.
	for range 2 {
		f.X.Min, f.X.Max, f.Y.Min, f.Y.Max = x0, x1, y0, y1
		padAxis(&f.X, false, fx)
		padAxis(&f.Y, y0 == 0, fy)
		d := f.Plot.DataCanvas(area)
		fx, fy = marginFor(d.Max.X-d.Min.X), marginFor(d.Max.Y-d.Min.Y)
	}
}

// marginFor is the share of the span to add on each side of an axis of
// length l so that markerRoom fits between the outermost point and the end.
func marginFor(l vg.Length) float64 {
	if l <= 4*markerRoom {
		return dataMargin // a degenerate canvas: nothing sensible fits
	}
	return max(dataMargin, float64(markerRoom/(l-2*markerRoom)))
}

// markerRoom is the room the largest marker (the selected ring) needs
// around its point.
const markerRoom = vg.Length(10)

func padAxis(a *plot.Axis, keepMin bool, margin float64) {
	if math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) || math.IsNaN(a.Min) || math.IsNaN(a.Max) {
		a.Min, a.Max = 0, 1
		return
	}
	if _, log := a.Scale.(plot.LogScale); log {
		// A margin in log space: the same share of the decades shown.
		if a.Min <= 0 {
			return
		}
		lo, hi := math.Log10(a.Min), math.Log10(a.Max)
		span := math.Max(hi-lo, 0.5)
		a.Min, a.Max = math.Pow(10, lo-margin*span), math.Pow(10, hi+margin*span)
		return
	}
	span := a.Max - a.Min
	if span == 0 {
		span = math.Max(math.Abs(a.Max), 1)
	}
	if !keepMin {
		lo := a.Min - margin*span
		if a.Min >= 0 && lo < 0 {
			lo = 0 // no negative latencies or lengths
		}
		a.Min = lo
	}
	a.Max += margin * span
}

// layout is where a figure's parts landed on the canvas.
type layout struct {
	Title  vg.Rectangle
	Legend vg.Rectangle // empty without entries
	Data   vg.Rectangle
	// X and Y map data values to canvas coordinates.
	X, Y func(float64) vg.Length
}

// Spacing of the title and legend band, in points.
const (
	edgePad      = 8
	thumbWidth   = 24
	thumbGap     = 5
	legendColGap = 16
	legendRowGap = 3
)

// renderer draws figures one at a time on a single reused canvas and PNG
// encoder, so a whole profile holds one canvas at a time, not one per chart.
type renderer struct {
	img *image.RGBA
	enc png.Encoder
	// buf is the encoder's scratch output; each chart keeps an exact-size
	// copy, not a buffer grown by doubling.
	buf bytes.Buffer
}

func newRenderer() *renderer {
	w := int(math.Round(float64(plotWidth / vg.Inch * plotDPI)))
	h := int(math.Round(float64(plotHeight / vg.Inch * plotDPI)))
	// Best speed: default deflate takes most of the rendering time, and
	// flat colours compress well anyway.
	return &renderer{img: image.NewRGBA(image.Rect(0, 0, w, h)),
		enc: png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}}
}

// pngBuffers keeps the PNG encoder's deflate state between charts.
type pngBuffers struct{ b *png.EncoderBuffer }

func (p *pngBuffers) Get() *png.EncoderBuffer  { return p.b }
func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.b = b }

// release drops the canvas and the encoder's state (which holds the last
// image it encoded), so the next collection frees them.
func (r *renderer) release() {
	r.img = nil
	r.enc = png.Encoder{}
	r.buf = bytes.Buffer{}
}

// render draws f and returns it as PNG bytes with the layout it used.
func (r *renderer) render(f *figure) (b []byte, lay layout, err error) {
	// gonum/plot panics on some degenerate inputs; a plot must never take
	// the whole profile down, so turn that into an error.
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("rendering failed: %v", rec)
		}
	}()
	lay = r.draw(f)
	r.buf.Reset()
	if err := r.enc.Encode(&r.buf, r.img); err != nil {
		return nil, lay, err
	}
	return bytes.Clone(r.buf.Bytes()), lay, nil
}

func (r *renderer) draw(f *figure) layout {
	// The canvas draws straight into r.img (vgimg.New would allocate an
	// image and then a copy of it for its context); the background fill
	// clears what the previous chart left.
	ctx := gg.NewContextForRGBA(r.img)
	ctx.SetLineCapButt()
	ctx.InvertY()
	dc := draw.New(vgimg.NewWith(vgimg.UseImageWithContext(r.img, ctx), vgimg.UseDPI(plotDPI)))

	var lay layout
	top := dc.Max.Y - edgePad
	if f.title != "" {
		sty := textStyle(titleSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		h := sty.Height(f.title)
		w := sty.Width(f.title)
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: top}, f.title)
		lay.Title = vg.Rectangle{Min: vg.Point{X: dc.Center().X - w/2, Y: top - h}, Max: vg.Point{X: dc.Center().X + w/2, Y: top}}
		top -= h + edgePad
	}
	if len(f.legend) > 0 {
		lay.Legend = drawLegend(dc, f.legend, top)
		top = lay.Legend.Min.Y - edgePad
	}
	area := draw.Crop(dc, edgePad, -edgePad, edgePad, top-dc.Max.Y)
	f.frame(area)
	f.Plot.Draw(area)
	data := f.Plot.DataCanvas(area)
	lay.Data = data.Rectangle
	lay.X, lay.Y = f.Plot.Transforms(&data)
	return lay
}

// drawLegend lays the entries out in as many columns as fit the width
// (filled top to bottom, then left to right), centred under the title, and
// returns the band they take.
func drawLegend(dc draw.Canvas, entries []legendEntry, top vg.Length) vg.Rectangle {
	sty := textStyle(legendSize)
	sty.YAlign = draw.YCenter
	widths := make([]vg.Length, len(entries))
	for i, e := range entries {
		widths[i] = thumbWidth + thumbGap + sty.Width(e.label)
	}
	avail := dc.Max.X - dc.Min.X - 2*edgePad
	rows, cols := len(entries), []vg.Length{maxLen(widths)}
	for n := len(entries); n > 1; n-- {
		r := (len(entries) + n - 1) / n
		c := columnWidths(widths, r)
		if sumLen(c)+vg.Length(len(c)-1)*legendColGap <= avail {
			rows, cols = r, c
			break
		}
	}
	rowH := sty.Height("Ag") + legendRowGap
	total := sumLen(cols) + vg.Length(len(cols)-1)*legendColGap
	left := dc.Center().X - total/2
	x := left
	for c, w := range cols {
		for r := 0; r < rows; r++ {
			i := c*rows + r
			if i >= len(entries) {
				break
			}
			y := top - rowH*vg.Length(r) - rowH/2
			th := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - rowH/2 + 1}, Max: vg.Point{X: x + thumbWidth, Y: y + rowH/2 - 1}}}
			for _, t := range entries[i].thumbs {
				t.Thumbnail(&th)
			}
			dc.FillText(sty, vg.Point{X: x + thumbWidth + thumbGap, Y: y}, entries[i].label)
		}
		x += w + legendColGap
	}
	return vg.Rectangle{Min: vg.Point{X: left, Y: top - rowH*vg.Length(rows)}, Max: vg.Point{X: left + total, Y: top}}
}

// columnWidths is the width of each column when entries fill columns of
// rows entries each.
func columnWidths(widths []vg.Length, rows int) []vg.Length {
	var cols []vg.Length
	for i := 0; i < len(widths); i += rows {
		cols = append(cols, maxLen(widths[i:min(i+rows, len(widths))]))
	}
	return cols
}

func maxLen(v []vg.Length) vg.Length {
	var m vg.Length
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func sumLen(v []vg.Length) vg.Length {
	var s vg.Length
	for _, x := range v {
		s += x
	}
	return s
}

// niceTicks marks about five round values (steps of 1, 2, 2.5 or 5 × 10^k,
// never 2.5 below 10 so integer axes keep integer labels) with minor ticks
// between them, and labels them with no more decimals than the step needs.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: formatTick(lo, 0)}}
	}
	step, minor, prec := niceStep(hi - lo)
	var ticks []plot.Tick
	for k := math.Ceil(lo / minor); k*minor <= hi*(1+1e-12)+1e-12*math.Abs(hi); k++ {
		v := k * minor
		t := plot.Tick{Value: v}
		if q := v / step; math.Abs(q-math.Round(q)) < 1e-9 {
			t.Label = formatTick(v, prec)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// niceStep picks the major step for a span, its minor step and the
// decimals its labels need.
func niceStep(span float64) (step, minor float64, prec int) {
	const target = 5.0
	mag := math.Pow(10, math.Floor(math.Log10(span/target)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m == 2.5 && mag < 10 {
			continue
		}
		step = m * mag
		if span/step <= target+1.5 {
			break
		}
	}
	minor = step / 5
	if m := step / mag; m == 2 || m == 20 {
		minor = step / 4
	}
	prec = max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	return step, minor, prec
}

func formatTick(v float64, prec int) string {
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// logTicks marks 1, 2 and 5 × 10^k on a log axis (every integer multiple
// when the range spans less than a decade), with 3…9 × 10^k as minor ticks.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return niceTicks{}.Ticks(lo, hi)
	}
	labelled := map[int]bool{1: true, 2: true, 5: true}
	if hi/lo < 10 {
		labelled = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		mag := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * mag
			if v < lo*(1-1e-12) || v > hi*(1+1e-12) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] {
				t.Label = formatTick(v, max(0, -int(e)))
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
