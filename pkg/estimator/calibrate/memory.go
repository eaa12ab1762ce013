package calibrate

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// engineMemoryCSV is every KV-cache size an engine reported in public
// sources (data/README.md names each source).
//
//go:embed data/engine_memory.csv
var engineMemoryCSV []byte

// MemoryRow is one engine start-up: its settings and the KV cache it
// reported, as GiB, tokens, or the most sequences of isl+osl+slack tokens
// it admitted (TensorRT-LLM benchmarks).
type MemoryRow struct {
	Source, Engine, Version, System, Model string
	TP                                     int
	Fraction                               float64
	MaxNumTokens, ISL, OSL, Slack          int
	KVGiB                                  float64 // NaN when not reported
	KVTokens, MaxSeqs                      int
	Note                                   string
}

// LoadMemoryRows parses the embedded engine memory table.
func LoadMemoryRows() ([]MemoryRow, error) {
	return parseMemoryRows(bytes.NewReader(engineMemoryCSV))
}

func parseMemoryRows(in io.Reader) ([]MemoryRow, error) {
	t, err := parseCSV(in, "data/engine_memory.csv")
	if err != nil {
		return nil, err
	}
	var out []MemoryRow
	for i, r := range t.rows {
		atoi := func(col string) int {
			v, _ := strconv.Atoi(t.str(r, col))
			return v
		}
		m := MemoryRow{Source: t.str(r, "source"), Engine: t.str(r, "engine"), Version: t.str(r, "version"), System: t.str(r, "system"),
			Model: t.str(r, "model"), TP: atoi("tp"), MaxNumTokens: atoi("max_num_tokens"), ISL: atoi("isl"), OSL: atoi("osl"),
			Slack: atoi("slack"), KVTokens: atoi("kv_tokens"), MaxSeqs: atoi("max_seqs"), Note: t.str(r, "note"), KVGiB: math.NaN()}
		frac, ok := t.num(r, "fraction")
		m.Fraction = frac
		if v, ok := t.num(r, "kv_gib"); ok {
			m.KVGiB = v
		}
		if !ok || m.TP < 1 || m.Fraction <= 0 || m.Fraction > 1 || (math.IsNaN(m.KVGiB) && m.KVTokens == 0 && m.MaxSeqs == 0) {
			return nil, fmt.Errorf("data/engine_memory.csv row %d: needs tp >= 1, a fraction in (0, 1] and one of kv_gib, kv_tokens, max_seqs", i+2)
		}
		out = append(out, m)
	}
	return out, nil
}

// MemoryCheck is one MemoryRow with our KV cache and AI Configurator's.
type MemoryCheck struct {
	Row                          MemoryRow
	MeasuredGiB, OursGiB, AICGiB float64 // KV cache per GPU
	OursFits, MeasuredFits       bool
}

// CheckMemory answers every row with the committed estimator and with AI
// Configurator's memory model.
func CheckMemory(rows []MemoryRow) ([]MemoryCheck, error) {
	var out []MemoryCheck
	for _, r := range rows {
		e, err := memoryEstimator(r)
		if err != nil {
			return nil, fmt.Errorf("%s %s TP%d: %w", r.Engine, r.Model, r.TP, err)
		}
		m := estimator.NewMapping("TP", r.TP)
		mem, err := e.Memory(m)
		if err != nil {
			return nil, err
		}
		c := MemoryCheck{Row: r, OursGiB: mem.KVGiBPerGPU, OursFits: mem.Fits, AICGiB: aicKVGiB(e, r)}
		switch {
		case !math.IsNaN(r.KVGiB):
			c.MeasuredGiB = r.KVGiB
		case r.KVTokens > 0:
			c.MeasuredGiB = float64(r.KVTokens) * mem.KVBytesPerToken / (1 << 30)
		default:
			c.MeasuredGiB = float64(r.MaxSeqs*(r.ISL+r.OSL+r.Slack)) * mem.KVBytesPerToken / (1 << 30)
		}
		c.MeasuredFits = c.MeasuredGiB > 0
		out = append(out, c)
	}
	return out, nil
}

func memoryEstimator(r MemoryRow) (*estimator.Estimator, error) {
	md, err := estimator.LookupModel(r.Model)
	if err != nil {
		return nil, err
	}
	sys, err := estimator.LookupSystem(r.System)
	if err != nil {
		return nil, err
	}
	return estimator.New(md, sys, estimator.Options{Backend: r.Engine, GPUMemoryUtilization: r.Fraction, MaxNumBatchedTokens: r.MaxNumTokens})
}

// AI Configurator's memory model (aiconfigurator sdk/backends
// trtllm_backend.py _get_memory_usage, sglang_backend.py and
// inference_summary.py set_memory_and_check_oom), re-derived for the
// comparison: the KV budget is (capacity − non-KV) × fraction × (1 −
// 0.015) for TensorRT-LLM and capacity × fraction − non-KV for vLLM and
// SGLang, where non-KV is weights + activations at max_num_tokens + NCCL +
// 3.5 GiB, activations 2 · tokens · heads·head_dim · c(tp) with c from its
// measured table, and capacity the system file's mem_capacity.
const (
	aicOtherGiB        = 3.5
	aicReservedKVShare = 0.015
)

func aicKVGiB(e *estimator.Estimator, r MemoryRow) float64 {
	md, sys := e.Model(), e.System()
	mem, _ := e.Memory(estimator.NewMapping("TP", r.TP))
	tokens := r.MaxNumTokens
	if tokens == 0 {
		tokens = 8192
	}
	nonKV := mem.WeightsGiBPerGPU + aicActivationGiB(md, r.Engine, r.TP, tokens) + estimator.TRTLLMNCCLGiB(r.TP) + aicOtherGiB
	if r.Engine == "sglang" {
		nonKV += 0.2 * aicOtherGiB // OTHERS_OVERHEAD_FRAC
	}
	if r.Engine == "trtllm" {
		return (sys.HBMGiB - nonKV) * r.Fraction * (1 - aicReservedKVShare)
	}
	return sys.HBMGiB*r.Fraction - nonKV
}

// aicActivationGiB is AI Configurator's activation reserve for tokens
// tokens: TensorRT-LLM's measured table for vLLM and TensorRT-LLM, its
// higher SGLang table with 15 % on top.
func aicActivationGiB(md estimator.Model, engine string, tp, tokens int) float64 {
	moe := md.IsMoE() || md.IsMLA()
	c, floor := estimator.TRTLLMActivationScale(tp, moe), 70.0*(1<<20)
	if engine == "sglang" {
		c = map[bool]float64{true: 8.5, false: 6.5}[tp == 2]
		if tp <= 1 {
			c = 14
		}
		if moe {
			c *= 2
		}
		floor = 90 * (1 << 20)
	}
	head := md.HeadDim
	if head == 0 {
		head = md.Hidden / md.Heads
	}
	act := math.Max(2*float64(tokens)*float64(md.Heads*head)*c, floor)
	if engine == "sglang" {
		act *= 1.15 // ACTIVATION_OVERHEAD_FRAC
	}
	return act / (1 << 30)
}

// AICWrapperMaxBatch is the largest batch Dynamo's AI Configurator wrapper
// accepts (estimate_perf.py get_max_batch_size): the whole batch's total
// memory with activations for isl·B tokens below the capacity. Its
// max_kv_tokens is B · (isl + osl).
func AICWrapperMaxBatch(e *estimator.Estimator, tp, isl, osl int) int {
	md, sys := e.Model(), e.System()
	mem, _ := e.Memory(estimator.NewMapping("TP", tp))
	total := func(b int) float64 {
		kv := float64(b*(isl+osl)) * mem.KVBytesPerToken / (1 << 30)
		return mem.WeightsGiBPerGPU + aicActivationGiB(md, "trtllm", tp, isl*b) + kv + estimator.TRTLLMNCCLGiB(tp) + aicOtherGiB
	}
	b := 0
	for total(b+1) < sys.HBMGiB && b < 1<<20 {
		b++
	}
	return b
}
