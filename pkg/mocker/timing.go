package mocker

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// Timing gives the engine's step times.
type Timing interface {
	// Prefill is the time to compute a prompt of isl tokens (batch 1).
	Prefill(isl int) (time.Duration, error)
	// Decode is one decode step with running sequences in the engine at an
	// average context of ctx tokens.
	Decode(running int, ctx float64) (time.Duration, error)
}

// FixedTiming has constant step times (tests, demos).
type FixedTiming struct {
	PrefillTime time.Duration
	DecodeTime  time.Duration
}

// Prefill implements Timing.
func (f FixedTiming) Prefill(int) (time.Duration, error) { return f.PrefillTime, nil }

// Decode implements Timing.
func (f FixedTiming) Decode(int, float64) (time.Duration, error) { return f.DecodeTime, nil }

// EstimatorTiming takes step times from the analytic estimator for one
// model, system, backend and mapping. Decode times are cached per
// (running, context/32) since every token of every sequence asks.
type EstimatorTiming struct {
	Est     *estimator.Estimator
	Mapping estimator.Mapping

	mu    sync.Mutex
	cache map[[2]int]time.Duration
}

// NewEstimatorTiming checks the mapping against the estimator.
func NewEstimatorTiming(e *estimator.Estimator, m estimator.Mapping) (*EstimatorTiming, error) {
	if e == nil {
		return nil, fmt.Errorf("estimator is nil: build one with estimator.New")
	}
	cm, err := e.CheckMapping(m)
	if err != nil {
		return nil, err
	}
	return &EstimatorTiming{Est: e, Mapping: cm, cache: map[[2]int]time.Duration{}}, nil
}

func ms(v float64) time.Duration { return time.Duration(math.Round(v * float64(time.Millisecond))) }

// Prefill implements Timing.
func (t *EstimatorTiming) Prefill(isl int) (time.Duration, error) {
	v, err := t.Est.PrefillTTFT(t.Mapping, isl)
	return ms(v), err
}

// Decode implements Timing.
func (t *EstimatorTiming) Decode(running int, ctx float64) (time.Duration, error) {
	key := [2]int{running, int(ctx) / 32}
	t.mu.Lock()
	d, ok := t.cache[key]
	t.mu.Unlock()
	if ok {
		return d, nil
	}
	v, err := t.Est.DecodeITL(t.Mapping, max(running, 1), float64(key[1]*32+16))
	if err != nil {
		return 0, err
	}
	d = ms(v)
	t.mu.Lock()
	if len(t.cache) < 1<<16 {
		t.cache[key] = d
	}
	t.mu.Unlock()
	return d, nil
}
