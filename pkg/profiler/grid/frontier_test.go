package grid

import (
	"math"
	"testing"
)

func TestBracket(t *testing.T) {
	s := []Sample{{1, 8}, {80, 15.9}, {159, 24.8}, {40, math.NaN()}, {20, 9.9}}
	if lo, hi := Bracket(s, 10); lo != 20 || hi != 80 {
		t.Errorf("Bracket = %d, %d; want 20, 80 (the NaN at 40 is not a measurement)", lo, hi)
	}
	if lo, hi := Bracket(s, 5); lo != 0 || hi != 0 {
		t.Errorf("nothing meets 5 ms: Bracket = %d, %d", lo, hi)
	}
	if lo, hi := Bracket(s, 100); lo != 159 || hi != 0 {
		t.Errorf("everything meets: Bracket = %d, %d; want 159, 0", lo, hi)
	}
}

// Bisection on a monotone curve ends on the exact crossing: the last X
// that meets the target and the next lattice step that does not.
func TestNextProbeFindsTheCrossing(t *testing.T) {
	for _, c := range []struct {
		step, lo, hi int
		cross        float64
	}{{1, 1, 169, 55.5}, {1, 1, 80, 20.2}, {4, 4, 244, 97}, {8, 8, 400, 8.5}, {1, 100, 40436, 4711.3}} {
		itl := func(x int) float64 { return float64(x) - c.cross } // meets 0 below the crossing
		s := []Sample{{c.lo, itl(c.lo)}, {c.hi, itl(c.hi)}}
		probes := 0
		for {
			x, ok := NextProbe(s, 0, c.step, c.lo, c.hi)
			if !ok {
				break
			}
			if x%c.step != 0 || x <= c.lo || x >= c.hi {
				t.Fatalf("%+v: probe %d off the lattice or outside (%d, %d)", c, x, c.lo, c.hi)
			}
			s = append(s, Sample{x, itl(x)})
			probes++
		}
		lo, hi := Bracket(s, 0)
		if itl(lo) > 0 || itl(hi) <= 0 || hi-lo != c.step {
			t.Errorf("%+v: ended on [%d, %d] after %d probes", c, lo, hi, probes)
		}
		if limit := int(math.Ceil(math.Log2(float64(c.hi-c.lo)/float64(c.step)))) + 1; probes > limit {
			t.Errorf("%+v: %d probes, more than bisection's %d", c, probes, limit)
		}
	}
}

func TestNextProbeStops(t *testing.T) {
	for name, s := range map[string][]Sample{
		"nothing meets":   {{1, 12}, {80, 16}},
		"everything does": {{1, 5}, {80, 9}},
		"one step apart":  {{20, 9}, {21, 11}},
		"no samples":      nil,
	} {
		if x, ok := NextProbe(s, 10, 1, 1, 80); ok {
			t.Errorf("%s: probe %d", name, x)
		}
	}
}

// The prefill search starts from one point, the SLA's ISL: it first tries
// the range's end on the side where the crossing lies.
func TestNextProbeTriesTheRangeEnds(t *testing.T) {
	if x, ok := NextProbe([]Sample{{4000, 250}}, 300, 1, 100, 40448); !ok || x != 40448 {
		t.Errorf("the SLA ISL meets: probe %d, %v; want the ceiling 40448", x, ok)
	}
	if x, ok := NextProbe([]Sample{{4000, 470}}, 300, 1, 100, 40448); !ok || x != 100 {
		t.Errorf("the SLA ISL misses: probe %d, %v; want the floor 100", x, ok)
	}
	if _, ok := NextProbe([]Sample{{4000, 470}, {100, 310}}, 300, 1, 100, 40448); ok {
		t.Error("the floor misses: nothing to search")
	}
	if _, ok := NextProbe([]Sample{{4000, 250}, {40448, 290}}, 300, 1, 100, 40448); ok {
		t.Error("the ceiling meets: nothing to search")
	}
}
