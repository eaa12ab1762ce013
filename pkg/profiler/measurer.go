package profiler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Measurer answers the profiler's measurement questions. The simulation
// (estimator) and the online (Jobs + load generator) implementations sit
// behind it; the profiler never knows which one it drives.
type Measurer interface {
	// Name is recorded in results.json (versions.measurer).
	Name() string
	// PrefillTTFT is the TTFT in ms of one request of isl tokens, batch 1 per
	// attention-DP rank (DEP-normalised, profiler.md §6.4).
	PrefillTTFT(ctx context.Context, m results.Mapping, isl int) (float64, error)
	// MaxKVTokens is the engine's KV capacity over all attention-DP ranks.
	MaxKVTokens(ctx context.Context, m results.Mapping) (int, error)
	// Decode measures concurrency sequences of isl+osl tokens.
	Decode(ctx context.Context, m results.Mapping, isl, osl, concurrency int) (DecodeSample, error)
}

// DecodeSample is one decode measurement (profiler.md §7.4). The estimator
// derives the throughput from the ITL; an engine's is measured, since a
// load generator that cannot keep every request in flight delivers less
// than concurrency / ITL.
type DecodeSample struct {
	ITLMs      float64
	ThptPerGPU float64
}

func (d DecodeSample) valid() bool {
	return finite(d.ITLMs) && d.ITLMs > 0 && finite(d.ThptPerGPU) && d.ThptPerGPU > 0
}

// SkipError means the mapping cannot run (does not fit, never got ready):
// the profiler logs Reason as a warning, drops the mapping and goes on.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// IsSkip reports whether err is a SkipError.
func IsSkip(err error) (*SkipError, bool) {
	var s *SkipError
	ok := errors.As(err, &s)
	return s, ok
}

// Simulation measures with the analytic estimator (the reference profiler's
// AI Configurator path, with the full mapping passed, P9/P10).
type Simulation struct {
	Est *estimator.Estimator
	// Log, when set, gets the reference's estimator-mode lines (§6.2, §7.4).
	Log *Logger
}

// NewSimulation wraps an estimator.
func NewSimulation(e *estimator.Estimator) *Simulation { return &Simulation{Est: e} }

// Name implements Measurer.
func (s *Simulation) Name() string { return "simulation" }

func toEst(m results.Mapping) estimator.Mapping {
	return estimator.Mapping{Kind: m.Kind, N: m.N, TP: m.TP, EP: m.EP, AttnDP: m.AttnDP}
}

// fits turns an estimator "does not fit" into the §17 skip warning.
func (s *Simulation) fits(m results.Mapping) error {
	mem, err := s.Est.Memory(toEst(m))
	if err != nil {
		return err
	}
	if !mem.Fits {
		need := mem.WeightsGiBPerGPU + mem.ActivationsGiBPerGPU + mem.ReserveGiBPerGPU
		return &SkipError{Reason: fmt.Sprintf("Skipping %s on %d GPU(s): model does not fit in GPU memory (%.1f GiB > %.1f GiB)",
			m.Label(), m.N, need, mem.BudgetGiBPerGPU)}
	}
	return nil
}

// PrefillTTFT implements Measurer.
func (s *Simulation) PrefillTTFT(ctx context.Context, m results.Mapping, isl int) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.fits(m); err != nil {
		return 0, err
	}
	s.Log.Infof("Using ai-configurator to estimate prefill latency")
	ttft, err := s.Est.PrefillTTFT(toEst(m), isl)
	if err == nil {
		s.Log.Infof("Estimated prefill TTFT: %.2fms", ttft)
	}
	return ttft, err
}

// MaxKVTokens implements Measurer.
func (s *Simulation) MaxKVTokens(ctx context.Context, m results.Mapping) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.fits(m); err != nil {
		return 0, err
	}
	return s.Est.MaxKVTokens(toEst(m))
}

// Decode implements Measurer: the step time at the average context
// isl + osl/2 (the estimator's step time is affine in context, §3.4).
func (s *Simulation) Decode(ctx context.Context, m results.Mapping, isl, osl, concurrency int) (DecodeSample, error) {
	if err := ctx.Err(); err != nil {
		return DecodeSample{}, err
	}
	s.Log.Infof("Using ai-configurator to estimate decode latency.")
	itl, err := s.Est.DecodeITL(toEst(m), concurrency, float64(isl)+float64(osl)/2)
	if err != nil {
		return DecodeSample{}, err
	}
	d := DecodeSample{ITLMs: itl, ThptPerGPU: DecodeThroughputPerGPU(concurrency, itl, m)}
	s.Log.Infof("Estimated decode ITL: %.2fms", d.ITLMs)
	s.Log.Infof("Estimated decode throughput per GPU: %.2f tokens/s/GPU", d.ThptPerGPU)
	return d, nil
}

// ModelInfoFrom derives the profiler's model facts from an estimator model,
// with the size from the estimator's TP=1 weight bytes (all experts).
func ModelInfoFrom(e *estimator.Estimator) (ModelInfo, error) {
	md := e.Model()
	mem, err := e.Memory(estimator.Mapping{Kind: "TP", N: 1, TP: 1, EP: 1, AttnDP: 1})
	if err != nil {
		return ModelInfo{}, fmt.Errorf("model %s: %w", md.Name, err)
	}
	info := ModelInfo{
		Name:         cmp.Or(md.HFID, md.Name),
		Architecture: md.Architecture,
		SizeMiB:      math.Round(mem.WeightsGiBPerGPU * 1024),
		IsMoE:        IsMoEArchitecture(md.Architecture),
		MaxContext:   md.MaxContext,
		Heads:        md.Heads,
		KVHeads:      md.KVHeads,
		Intermediate: md.Intermediate,
	}
	if info.IsMoE {
		info.NumExperts = md.NumExperts
	}
	// DeepSeek's FP8 checkpoints quantise in 128×128 blocks
	// (quantization_config.weight_block_size); the catalog has no field for it.
	if md.IsMLA() && e.Precision() == "fp8" {
		info.QuantBlock = 128
	}
	return info, nil
}
