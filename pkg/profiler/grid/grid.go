// Package grid holds the request grids of the reference profiler
// (profiler.md §7.3, §12): the decode concurrencies and the prefill and
// decode interpolation ISLs. It is a leaf so that the profiler, which plans
// the grids, and the measure container, which sweeps them in a Job, share
// one definition without the worker linking the profiler.
package grid

import "fmt"

// Constants of the reference profiler's grids (profiler.md §7, §12).
const (
	DecodeMaxConcurrency   = 2000 // DECODE_MAX_CONCURRENCY
	DecodeInterpolationOSL = 500  // fixed OSL of the decode grid (P20)
	PrefillContextHeadroom = 512  // room for the chat template
	PrefillMinISL          = 100
)

// NumRequestRange is get_num_request_range with the fixed formula of
// profiler.md §7.3 (P1): every value is a multiple of attnDP and the last
// never exceeds min(engineMax, 2000). Integer arithmetic keeps
// floor(i × (cpd−1)/(g−1)) exact where float steps would round down.
func NumRequestRange(attnDP, engineMax, g int) []int {
	if attnDP < 1 {
		attnDP = 1
	}
	maxc := min(engineMax, DecodeMaxConcurrency)
	cpd := maxc / attnDP
	if cpd <= 0 {
		return nil
	}
	var out []int
	if cpd < g || g < 2 {
		for i := 1; i <= cpd; i++ {
			out = append(out, i*attnDP)
		}
		return out
	}
	for i := 0; i < g; i++ {
		out = append(out, attnDP*(1+i*(cpd-1)/(g-1)))
	}
	return out
}

// pyRange is Python's range(start, stop, step) for step > 0.
func pyRange(start, stop, step int) []int {
	if step < 1 {
		step = 1
	}
	var out []int
	for v := start; v < stop; v += step {
		out = append(out, v)
	}
	return out
}

// PrefillISLs is the prefill interpolation grid of §12.2.
func PrefillISLs(contextLength, g int) ([]int, error) {
	l := contextLength - PrefillContextHeadroom
	if l <= PrefillMinISL {
		return nil, fmt.Errorf("max_context_length %d is too small to profile prefill; it must exceed %d", l, PrefillMinISL+PrefillContextHeadroom)
	}
	return pyRange(PrefillMinISL, l, (l-PrefillMinISL)/max(g, 1)), nil
}

// DecodeISLs is the decode interpolation grid of §12.3 (no −512 here).
func DecodeISLs(contextLength, g int) []int {
	c := contextLength - DecodeInterpolationOSL
	if c <= PrefillMinISL {
		return nil
	}
	return pyRange(PrefillMinISL, c, c/max(g, 1))
}
