package profiler

import "fmt"

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

// SweepContextLength is §12.1: the smaller of the user's cap and the model's.
func SweepContextLength(user, model int, log *Logger) (int, error) {
	switch {
	case user <= 0 && model <= 0:
		return 0, fmt.Errorf("No max_context_length available from args.max_context_length or model_info from HF config; set spec.profilingConfig.config.engine.maxContextLength")
	case user <= 0:
		log.Infof("Using model's maximum context length: %d", model)
		return model, nil
	case model <= 0:
		log.Infof("Using user-provided max_context_length: %d", user)
		return user, nil
	}
	c := min(user, model)
	log.Infof("Using minimum of user-provided and model's maximum context length: %d", c)
	return c, nil
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
