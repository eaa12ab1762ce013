package output

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"path"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// moeResults is a MoE profile: TEP prefill and DEP 2…16 decode, the sweep
// where DEP=2 and DEP=16 used to get nearly the same colour.
func moeResults() *results.Results {
	r := typicalResults("sglang", mapping("TEP", 8), mapping("DEP", 16))
	r.Input.IsMoE = true
	r.Input.SLA.ISL, r.Input.SLA.OSL = 4000, 500
	r.Prefill, r.Decode = nil, nil
	for _, n := range []int{2, 4, 8, 16} {
		pm, dm := mapping("TEP", n), mapping("DEP", n)
		ttft := 900 / math.Pow(float64(n), 0.8) // more GPUs: faster, less per GPU
		r.Prefill = append(r.Prefill, results.PrefillPoint{Mapping: pm, ISL: 4000, TTFTMs: ttft, ThptPerGPU: 4000 / ttft / float64(n) * 1000})
		for _, c := range []int{n, 8 * n, 32 * n, 64 * n} {
			itl := 15 + float64(c)*0.05/float64(n)
			r.Decode = append(r.Decode, results.DecodePoint{Mapping: dm, Concurrency: c, ContextLength: 4250, ITLMs: itl,
				ThptPerGPU: float64(c) * 1000 / itl / float64(n), MaxKVTokens: 100000 * n})
		}
	}
	// The decode grid holds the workload's context row (4250) and the
	// planner's lattice row next to it (7093).
	di := &results.DecodeInterpolation{MaxKVTokens: 1600000}
	for _, ctx := range []float64{350, 4250, 7093, 13836} {
		for _, u := range []float64{0.01, 0.05, 0.2, 0.5, 0.9} {
			di.KVUsage = append(di.KVUsage, u)
			di.ContextLength = append(di.ContextLength, ctx)
			di.ITLMs = append(di.ITLMs, 10+40*u+ctx/2000)
			di.ThptPerGPU = append(di.ThptPerGPU, u*1e4/(10+40*u))
		}
	}
	r.DecodeInterpolation = di
	r.Selection.Decode = &results.Choice{Mapping: mapping("DEP", 16), LatencyMs: 19, ThptPerGPU: 900, MeetsSLA: true, Concurrency: 128}
	return r
}

// renderAll builds and renders every chart of r, keyed by its first name.
func renderAll(t *testing.T, r *results.Results) (map[string]*figure, map[string]layout, map[string][]byte) {
	t.Helper()
	figs, lays, pngs := map[string]*figure{}, map[string]layout{}, map[string][]byte{}
	rd := newRenderer()
	for _, c := range charts(r) {
		f, err := c.build()
		if err != nil {
			t.Fatalf("%s: %v", c.names[0], err)
		}
		b, lay, err := rd.render(f)
		if err != nil {
			t.Fatalf("%s: %v", c.names[0], err)
		}
		figs[c.names[0]], lays[c.names[0]], pngs[c.names[0]] = f, lay, b
	}
	if len(figs) != 7 {
		t.Fatalf("%d charts, want 7", len(figs))
	}
	return figs, lays, pngs
}

var fixtures = map[string]func() *results.Results{
	"dense": func() *results.Results { return typicalResults("vllm", mapping("TP", 1), mapping("TP", 2)) },
	"dense+frontier": func() *results.Results {
		return withFrontier(typicalResults("vllm", mapping("TP", 1), mapping("TP", 2)))
	},
	"moe": moeResults,
}

// Every chart is twice the old 672×432 at 96 dpi, and the decode ITL chart
// is written under the seed's and upstream's names alike.
func TestPlotResolutionAndNames(t *testing.T) {
	out, err := Plots(withFrontier(typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 8 {
		t.Errorf("%d files, want 7 charts and the upstream alias", len(out))
	}
	seed := out[path.Join(DirDecodeInterpolation, FileDecodeITLInterp)]
	upstream := out[path.Join(DirDecodeInterpolation, "decode_itl_interpolation.png")]
	if len(seed) == 0 || !bytes.Equal(seed, upstream) {
		t.Errorf("decode_itl_interpolation.png (%d bytes) is not the seed's decode_itl_interplation.png (%d bytes)", len(upstream), len(seed))
	}
	for name, b := range out {
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.Width < 2*672 || cfg.Height < 2*432 {
			t.Errorf("%s is %d×%d, want at least 1344×864", name, cfg.Width, cfg.Height)
		}
	}
}

// The legend sits in its own band between the title and the axes, so it
// covers no data point: the TP=1 prefill point at the right edge, under
// where "Selected" used to be drawn, included. Every point is drawn whole
// inside the axes (the data margins), and nothing leaves the canvas.
func TestPlotLegendAndMargins(t *testing.T) {
	for fx, mk := range fixtures {
		figs, lays, _ := renderAll(t, mk())
		for name, f := range figs {
			lay := lays[name]
			canvas := vg.Rectangle{Max: vg.Point{X: plotWidth, Y: plotHeight}}
			if !inside(lay.Legend, canvas) || !inside(lay.Title, canvas) || !inside(lay.Data, canvas) {
				t.Errorf("%s/%s: title %v, legend %v or data %v leaves the canvas", fx, name, lay.Title, lay.Legend, lay.Data)
			}
			if len(f.legend) == 0 || lay.Legend.Min.Y < lay.Data.Max.Y || lay.Legend.Max.Y > lay.Title.Min.Y {
				t.Errorf("%s/%s: legend %v is not between the title %v and the data %v", fx, name, lay.Legend, lay.Title, lay.Data)
			}
			if overlaps(lay.Legend, lay.Data) {
				t.Errorf("%s/%s: legend %v overlaps the data area %v", fx, name, lay.Legend, lay.Data)
			}
			if len(f.points) == 0 {
				t.Errorf("%s/%s: no points tracked", fx, name)
			}
			// The largest marker (the selected ring) must fit between the
			// point and the frame: the data area plus the axis padding on the
			// axis sides, the data margin on the others.
			r := vg.Points(8)
			frame := vg.Rectangle{Min: vg.Point{X: lay.Data.Min.X - f.X.Padding, Y: lay.Data.Min.Y - f.Y.Padding}, Max: lay.Data.Max}
			for _, p := range f.points {
				x, y := lay.X(p.X), lay.Y(p.Y)
				if x-r < frame.Min.X || x+r > frame.Max.X || y-r < frame.Min.Y || y+r > frame.Max.Y {
					t.Errorf("%s/%s: point (%g, %g) at (%.1f, %.1f) is clipped by the frame %v", fx, name, p.X, p.Y, x, y, frame)
				}
				if overlaps(vg.Rectangle{Min: vg.Point{X: x - r, Y: y - r}, Max: vg.Point{X: x + r, Y: y + r}}, lay.Legend) {
					t.Errorf("%s/%s: point (%g, %g) is under the legend", fx, name, p.X, p.Y)
				}
			}
		}
	}
}

func inside(r, in vg.Rectangle) bool {
	return r.Min.X >= in.Min.X && r.Min.Y >= in.Min.Y && r.Max.X <= in.Max.X && r.Max.Y <= in.Max.Y
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// Nothing of the data is drawn in the legend band: with the entries
// blanked (labels of spaces, no thumbnails) the band is plain white.
func TestPlotLegendBandHoldsNoData(t *testing.T) {
	for fx, mk := range fixtures {
		r := mk()
		for _, ch := range charts(r) {
			f, err := ch.build()
			if err != nil {
				t.Fatal(err)
			}
			for i := range f.legend {
				f.legend[i].label = strings.Repeat(" ", len(f.legend[i].label))
				f.legend[i].thumbs = nil
			}
			rd := newRenderer()
			_, lay, err := rd.render(f)
			if err != nil {
				t.Fatal(err)
			}
			px := float64(plotDPI) / vg.Inch.Points()
			h := rd.img.Bounds().Dy()
			for y := int(float64(lay.Legend.Min.Y.Points()) * px); y < int(float64(lay.Legend.Max.Y.Points())*px); y++ {
				for x := 0; x < rd.img.Bounds().Dx(); x++ {
					if c := rd.img.RGBAAt(x, h-1-y); c.R < 250 || c.G < 250 || c.B < 250 {
						t.Fatalf("%s/%s: the blanked legend band has a pixel %v at (%d, %d)", fx, ch.names[0], c, x, h-1-y)
					}
				}
			}
		}
	}
}

// Tick labels are round numbers without needless decimals, evenly spaced,
// about five per axis; integer axes (GPUs, tokens, percentages) never show
// a decimal point.
func TestTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi  float64
		integer bool
	}{{0, 105, true}, {80, 450, true}, {5, 82, true}, {0, 42000, true}, {0, 1, false}, {0.3, 2.7, false}, {0, 9, true},
		{15, 165, true}, {0, 2300, true}, {1e5, 1.4e5, true}, {-3, 12, true}, {0.001, 0.0043, false}} {
		ticks := niceTicks{}.Ticks(c.lo, c.hi)
		var labelled []plot.Tick
		for _, tk := range ticks {
			if tk.Value < c.lo-1e-9 || tk.Value > c.hi+1e-9 {
				t.Errorf("[%g, %g]: tick %g outside the range", c.lo, c.hi, tk.Value)
			}
			if tk.Label != "" {
				labelled = append(labelled, tk)
			}
		}
		if len(labelled) < 3 || len(labelled) > 7 {
			t.Errorf("[%g, %g]: %d labelled ticks %v, want 3-7", c.lo, c.hi, len(labelled), labelled)
			continue
		}
		step := labelled[1].Value - labelled[0].Value
		m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9))
		if !slicesContainsApprox([]float64{1, 2, 2.5, 5}, m) {
			t.Errorf("[%g, %g]: step %g is not 1, 2, 2.5 or 5 × 10^k", c.lo, c.hi, step)
		}
		for i, tk := range labelled {
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil || math.Abs(v-tk.Value) > step*1e-6 {
				t.Errorf("[%g, %g]: label %q for %g", c.lo, c.hi, tk.Label, tk.Value)
			}
			if i > 0 && math.Abs(tk.Value-labelled[i-1].Value-step) > step*1e-6 {
				t.Errorf("[%g, %g]: uneven spacing %v", c.lo, c.hi, labelled)
			}
			if c.integer && strings.Contains(tk.Label, ".") {
				t.Errorf("[%g, %g]: integer axis labelled %q", c.lo, c.hi, tk.Label)
			}
			if tk.Label == "-0" {
				t.Errorf("[%g, %g]: label -0", c.lo, c.hi)
			}
		}
	}
	// A log axis labels 1, 2, 5 × 10^k.
	var got []string
	for _, tk := range (logTicks{}).Ticks(0.45, 23) {
		if tk.Label != "" {
			got = append(got, tk.Label)
		}
	}
	if strings.Join(got, " ") != "0.5 1 2 5 10 20" {
		t.Errorf("log ticks on [0.45, 23]: %v", got)
	}
}

func slicesContainsApprox(v []float64, x float64) bool {
	for _, y := range v {
		if math.Abs(x-y) < 1e-6 {
			return true
		}
	}
	return false
}

// The rendered charts' own axes have integer labels: every axis but the
// cost ($) is a count, a length, a latency in whole ms or a percentage.
func TestChartAxesIntegerLabels(t *testing.T) {
	figs, _, _ := renderAll(t, moeResults())
	for name, f := range figs {
		for ax, a := range map[string]*plot.Axis{"x": &f.X, "y": &f.Y} {
			if name == FileCostSLA && ax == "y" {
				continue
			}
			for _, tk := range a.Tick.Marker.Ticks(a.Min, a.Max) {
				if strings.Contains(tk.Label, ".") {
					t.Errorf("%s %s axis labels %q", name, ax, tk.Label)
				}
			}
		}
	}
}

// Series get clearly different colours, DEP=2 and DEP=16 included; the
// palette keeps away from the SLA red.
func TestSeriesColoursDistinct(t *testing.T) {
	for i := range palette {
		for j := range i {
			if d := deltaE(palette[i], palette[j]); d < 20 {
				t.Errorf("palette colours %d and %d are %.1f ΔE apart", j, i, d)
			}
		}
		if d := deltaE(palette[i], slaColor); d < 25 {
			t.Errorf("palette colour %d is %.1f ΔE from the SLA red", i, d)
		}
	}
	f, err := decodePerformance(moeResults())
	if err != nil {
		t.Fatal(err)
	}
	colours := map[string]color.Color{}
	for _, e := range f.legend {
		if l, ok := e.thumbs[0].(*plotter.Line); ok && strings.Contains(e.label, "DEP=") {
			colours[e.label] = l.Color
		}
	}
	dep2, dep16 := colours["2 GPU(s) [DEP=2]"], colours["16 GPU(s) [DEP=16]"]
	if dep2 == nil || dep16 == nil || deltaE(dep2, dep16) < 20 {
		t.Errorf("DEP=2 %v and DEP=16 %v are not clearly different (legend %v)", dep2, dep16, colours)
	}
}

// deltaE is the CIE76 distance of two sRGB colours.
func deltaE(a, b color.Color) float64 {
	la, aa, ba := lab(a)
	lb, ab, bb := lab(b)
	return math.Sqrt((la-lb)*(la-lb) + (aa-ab)*(aa-ab) + (ba-bb)*(ba-bb))
}

func lab(c color.Color) (l, a, b float64) {
	r, g, bl, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 65535
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	R, G, B := lin(r), lin(g), lin(bl)
	x := (0.4124*R + 0.3576*G + 0.1805*B) / 0.95047
	y := 0.2126*R + 0.7152*G + 0.0722*B
	z := (0.0193*R + 0.1192*G + 0.9505*B) / 1.08883
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	return 116*f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))
}

// cost_sla.png: the x axis says tokens per second, the lines differ in
// colour and dashes and the legend names each line's prefill cost; costs
// spanning a decade or more go on a log axis.
func TestCostSLAReadable(t *testing.T) {
	r := moeResults()
	f, err := costSLA(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.X.Label.Text, "/s") {
		t.Errorf("x label %q lacks /s", f.X.Label.Text)
	}
	seen := map[color.Color]bool{}
	var lines int
	for _, e := range f.legend {
		l, ok := e.thumbs[0].(*plotter.Line)
		if !ok || !strings.HasPrefix(e.label, "TTFT: ") {
			continue
		}
		lines++
		if !strings.Contains(e.label, "(prefill $") {
			t.Errorf("legend %q does not name the prefill cost", e.label)
		}
		if seen[l.Color] {
			t.Errorf("two TTFT lines share the colour %v", l.Color)
		}
		seen[l.Color] = true
		if lines == 2 && len(l.Dashes) == 0 {
			t.Errorf("the second TTFT line is solid like the first")
		}
	}
	if lines < 2 {
		t.Fatalf("%d TTFT lines, want the 4 prefill Pareto points", lines)
	}
	_, log := f.Y.Scale.(plot.LogScale)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range f.points {
		lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
	}
	if log != (hi/lo >= 10) {
		t.Errorf("costs span %.3g…%.3g; log axis %v", lo, hi, log)
	}
}

// "Selected … at context N" names the workload's context, ISL + OSL/2,
// when the grid has that row, and says so when it falls back to the
// nearest row.
func TestDecodeInterpolationContext(t *testing.T) {
	f, err := decodeInterpolation(moeResults(), true)
	if err != nil {
		t.Fatal(err)
	}
	if l := legendWith(f, "Selected"); !strings.Contains(l, "at context 4250 (ISL+OSL/2)") || strings.Contains(l, "7093") {
		t.Errorf("selected legend %q, want the workload's context 4250", l)
	}
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 2)) // rows 350, 7093, …; workload 3075
	f, err = decodeInterpolation(r, false)
	if err != nil {
		t.Fatal(err)
	}
	if l := legendWith(f, "Selected"); !strings.Contains(l, "at context 350 (nearest to ISL+OSL/2 = 3075)") {
		t.Errorf("selected legend %q, want the nearest row named as such", l)
	}
}

func legendWith(f *figure, prefix string) string {
	for _, e := range f.legend {
		if strings.HasPrefix(e.label, prefix) {
			return e.label
		}
	}
	return ""
}

// Custom markers draw what they say: a filled polygon covers its centre,
// the ring leaves it empty.
func TestGlyphs(t *testing.T) {
	rd := newRenderer()
	xy := plotter.XYs{{X: 1, Y: 1}}
	for i, g := range []draw.GlyphDrawer{polygon{4, 0}, ring{}} {
		s, _ := plotter.NewScatter(xy)
		s.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(20), Shape: g}
		f := newFigure("", "", "")
		f.Add(s)
		f.track(xy)
		_, lay, err := rd.render(f)
		if err != nil {
			t.Fatal(err)
		}
		px := float64(plotDPI) / vg.Inch.Points()
		x, y := int(float64(lay.X(1).Points())*px), rd.img.Bounds().Dy()-1-int(float64(lay.Y(1).Points())*px)
		if c := rd.img.RGBAAt(x, y); (c.R < 100) != (i == 0) {
			t.Errorf("glyph %T: centre pixel %v", g, c)
		}
	}
}

// Plots draws every chart on one canvas and lets it go before returning,
// so the report and the other files reuse its memory: right after Plots
// the heap holds the PNGs, not the 4.6 MB canvas (make bench-profile's
// peak RSS depends on it).
func TestPlotsReleaseTheCanvas(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	out, err := Plots(r)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	var pngs uint64
	for _, b := range out {
		pngs += uint64(len(b))
	}
	canvas := uint64(4 * 1344 * 864)
	if grown := ms.HeapAlloc - min(before, ms.HeapAlloc); grown > pngs+canvas/2 {
		t.Errorf("the heap grew by %d KB over Plots (PNGs %d KB): the canvas (%d KB) is still reachable", grown>>10, pngs>>10, canvas>>10)
	}
}
