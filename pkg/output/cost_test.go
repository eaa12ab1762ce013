package output

import (
	"slices"
	"testing"
)

func TestPareto(t *testing.T) {
	// (latency, throughput): 1 is beaten by 0 (same latency, less
	// throughput); 4 repeats 3 and both stay; 5 is not priceable.
	pts := [][2]float64{{10, 100}, {10, 90}, {20, 150}, {30, 200}, {30, 200}, {0, 500}, {40, 180}}
	got := pareto(len(pts), func(i int) (float64, float64) { return pts[i][0], pts[i][1] })
	if want := []int{0, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("pareto = %v, want %v", got, want)
	}
}

// One prefill and one decode point: the single line's one point is the
// profiler's cost formula.
func TestCostSLAFormula(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	r.Prefill, r.Decode = r.Prefill[:1], r.Decode[:1]
	p, err := costSLA(r)
	if err != nil {
		t.Fatal(err)
	}
	isl, osl := float64(r.Input.SLA.ISL), float64(r.Input.SLA.OSL)
	wantX := 1000 / r.Decode[0].ITLMs
	wantY := osl*1000/r.Decode[0].ThptPerGPU*3.0/3600 + isl*1000/r.Prefill[0].ThptPerGPU*3.0/3600
	xmin, xmax, ymin, ymax := p.X.Min, p.X.Max, p.Y.Min, p.Y.Max
	if xmin > wantX || xmax < wantX || ymin > wantY || ymax < wantY {
		t.Errorf("axes x [%g, %g] y [%g, %g] do not hold the point (%g, %g)", xmin, xmax, ymin, ymax, wantX, wantY)
	}
	if p.title != "Cost Per 1000 i"+fmtNum(isl)+"o"+fmtNum(osl)+" requests (GPU/hour = $3.0) Under Different SLA" {
		t.Errorf("title %q", p.title)
	}
}
