package grid

import "math"

// DefaultProbes is how many points an online Job measures beyond its coarse
// sweep to find the SLA crossing: each costs one more measurement on an
// engine that is already up, never another Job.
const DefaultProbes = 3

// Sample is one measured point of a curve that grows with X: the ITL at a
// decode concurrency, or the TTFT at a prefill ISL.
type Sample struct {
	X int
	Y float64
}

// Bracket finds the SLA crossing on measured samples: lo is the largest X
// whose Y meets the target (0 when none does), hi the smallest measured X
// above lo (0 when lo is the largest). Non-finite samples are ignored.
func Bracket(samples []Sample, target float64) (lo, hi int) {
	for _, s := range samples {
		if usable(s) && s.Y <= target && s.X > lo {
			lo = s.X
		}
	}
	if lo == 0 {
		return 0, 0
	}
	for _, s := range samples {
		if usable(s) && s.X > lo && (hi == 0 || s.X < hi) {
			hi = s.X
		}
	}
	return lo, hi
}

// NextProbe is one step of the search for the largest X in [floor, ceil]
// whose Y meets the target, on the measured curve: first the ends of the
// range when the samples do not bracket the crossing yet, then bisection
// between the bracket's ends, on the step lattice (decode concurrencies are
// multiples of the attention-DP size). ok is false when there is nothing
// left to search: the floor misses, the ceiling meets, or the bracket is
// one step wide. The profiler and the online measure container both call
// it, so a Job's extra points are exactly those the profiler asks for.
func NextProbe(samples []Sample, target float64, step, floor, ceil int) (x int, ok bool) {
	step = max(step, 1)
	lo, hi := Bracket(samples, target)
	switch {
	case lo == 0:
		if lowest(samples) > floor && floor > 0 {
			return floor, true
		}
		return 0, false
	case hi == 0:
		if lo < ceil {
			return ceil, true
		}
		return 0, false
	case hi-lo <= step:
		return 0, false
	}
	return lo + (hi-lo)/step/2*step, true
}

func lowest(samples []Sample) int {
	low := 0
	for _, s := range samples {
		if usable(s) && (low == 0 || s.X < low) {
			low = s.X
		}
	}
	return low
}

func usable(s Sample) bool { return s.X > 0 && !math.IsNaN(s.Y) && !math.IsInf(s.Y, 0) }
