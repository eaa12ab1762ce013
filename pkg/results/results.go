// Package results is the data a profile produces: the plan, every measured
// point, the selection and the interpolation grids. It is what results.json
// holds, what outputs are rendered from, and what `profile --from` re-reads.
package results

import (
	"fmt"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// SchemaVersion of results.json.
const SchemaVersion = "kubectl-dgdr.results/v1"

// Mapping is one parallel mapping of an engine (profiler.md §4.3).
type Mapping struct {
	Kind   string `json:"kind"` // TP, TEP or DEP
	N      int    `json:"numGpus"`
	TP     int    `json:"tpSize"`
	EP     int    `json:"expertSplit"`
	AttnDP int    `json:"attnDp"`
}

// Label is the upstream label, e.g. "TP=4".
func (m Mapping) Label() string { return fmt.Sprintf("%s=%d", m.Kind, m.N) }

// Tag is the work-dir tag, e.g. "TP4".
func (m Mapping) Tag() string { return fmt.Sprintf("%s%d", m.Kind, m.N) }

// Short is the seed's form, e.g. "TP:4".
func (m Mapping) Short() string { return fmt.Sprintf("%s:%d", m.Kind, m.N) }

// Results is results.json.
type Results struct {
	SchemaVersion string   `json:"schemaVersion"`
	Versions      Versions `json:"versions"`
	Input         Input    `json:"input"`
	Plan          Plan     `json:"plan"`

	Prefill []PrefillPoint `json:"prefill"`
	Decode  []DecodePoint  `json:"decode"`

	Selection Selection `json:"selection"`
	// Frontier is how far every swept mapping goes within the SLA (absent
	// with the upstream selection rule, which does not search for it).
	Frontier *Frontier `json:"frontier,omitempty"`

	PrefillInterpolation *PrefillInterpolation `json:"prefillInterpolation,omitempty"`
	DecodeInterpolation  *DecodeInterpolation  `json:"decodeInterpolation,omitempty"`

	// PrefillGrids/DecodeGrids hold the grids of every swept mapping (the
	// selected ones included) when they were measured, so `profile --from`
	// can re-select for a new SLA without measuring.
	PrefillGrids []PrefillGrid `json:"prefillGrids,omitempty"`
	DecodeGrids  []DecodeGrid  `json:"decodeGrids,omitempty"`

	// DryRun marks a plan-only result: nothing was measured.
	DryRun bool `json:"dryRun,omitempty"`

	Warnings []string `json:"warnings,omitempty"`
}

// PrefillGrid is the prefill interpolation grid of one mapping.
type PrefillGrid struct {
	Mapping Mapping `json:"mapping"`
	PrefillInterpolation
}

// DecodeGrid is the decode interpolation grid of one mapping.
type DecodeGrid struct {
	Mapping Mapping `json:"mapping"`
	DecodeInterpolation
}

// Versions records what produced the results.
type Versions struct {
	Plugin    string `json:"plugin"`
	Commit    string `json:"commit,omitempty"`
	Estimator string `json:"estimator,omitempty"`
	Measurer  string `json:"measurer"` // simulation or online
}

// Input is what was profiled.
type Input struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Model       string            `json:"model"`
	Backend     string            `json:"backend"`
	System      string            `json:"system,omitempty"`
	GPUsPerNode int               `json:"gpusPerNode"`
	GPUMemMiB   int               `json:"gpuMemoryMiB,omitempty"`
	IsMoE       bool              `json:"isMoe"`
	SLA         profileconfig.SLA `json:"sla"`
	MaxContext  int               `json:"maxContextLength,omitempty"`
}

// Plan is the sweep the profiler decided on.
type Plan struct {
	MinGPUs         int              `json:"minGpus"`
	MaxGPUs         int              `json:"maxGpus"`
	GPUCounts       []int            `json:"gpuCounts"`
	PrefillMappings []Mapping        `json:"prefillMappings"`
	DecodeMappings  []Mapping        `json:"decodeMappings"`
	Dropped         []DroppedMapping `json:"dropped,omitempty"`

	// Measurement counts and the GPU time an online run would take.
	PrefillPoints       int `json:"prefillPoints"`
	DecodePoints        int `json:"decodePoints"`
	InterpolationPoints int `json:"interpolationPoints"`
	// FrontierPoints is the most points an online run measures beyond the
	// coarse sweep to find each mapping's SLA frontier (inside the sweep's
	// Jobs), and FrontierGridJobs the extra grid Jobs near the SLA.
	FrontierPoints    int     `json:"frontierPoints,omitempty"`
	FrontierGridJobs  int     `json:"frontierGridJobs,omitempty"`
	EstimatedGPUHours float64 `json:"estimatedGpuHours"`
	// MaxISL is the largest ISL the prefill frontier search may ask for.
	MaxISL int `json:"maxIsl,omitempty"`
}

// DroppedMapping is a candidate the filters rejected, with the logged reason.
type DroppedMapping struct {
	Phase   string  `json:"phase"`
	Mapping Mapping `json:"mapping"`
	Reason  string  `json:"reason"`
}

// PrefillPoint is one TTFT measurement of the sweep.
type PrefillPoint struct {
	Mapping    Mapping `json:"mapping"`
	ISL        int     `json:"isl"`
	TTFTMs     float64 `json:"ttftMs"`
	ThptPerGPU float64 `json:"throughputPerGpu"`
}

// DecodePoint is one ITL measurement of the sweep.
type DecodePoint struct {
	Mapping       Mapping `json:"mapping"`
	Concurrency   int     `json:"concurrency"`
	ContextLength float64 `json:"contextLength"`
	ITLMs         float64 `json:"itlMs"`
	ThptPerGPU    float64 `json:"throughputPerGpu"`
	MaxKVTokens   int     `json:"maxKvTokens"`
	// Frontier marks a point the SLA frontier search measured, beyond the
	// coarse sweep of profiler.md §7.3.
	Frontier bool `json:"frontier,omitempty"`
}

// Choice is one selected engine.
type Choice struct {
	Mapping    Mapping `json:"mapping"`
	LatencyMs  float64 `json:"latencyMs"` // TTFT for prefill, ITL for decode
	ThptPerGPU float64 `json:"throughputPerGpu"`
	MeetsSLA   bool    `json:"meetsSla"`
	// Concurrency of the chosen decode point (informational; not used downstream).
	Concurrency int `json:"concurrency,omitempty"`
	// KVUsage is the share of the decode engine's KV cache the chosen point uses.
	KVUsage float64 `json:"kvUsage,omitempty"`
}

// Selection rules.
const (
	// RuleFrontier picks the mapping with the highest throughput per GPU at
	// its SLA frontier (the default).
	RuleFrontier = "frontier"
	// RuleUpstream is Dynamo's rule on the coarse sweep only (profiler.md §8).
	RuleUpstream = "upstream"
)

// Selection is the recommendation.
type Selection struct {
	Prefill *Choice `json:"prefill,omitempty"`
	Decode  *Choice `json:"decode,omitempty"`
	// Rule is RuleFrontier or RuleUpstream ("" in results from before the
	// frontier search: the upstream rule).
	Rule string `json:"rule,omitempty"`
	// CoarseDecode is what the upstream rule picks from the coarse sweep,
	// for comparison (frontier rule only).
	CoarseDecode *Choice `json:"coarseDecode,omitempty"`
}

// Frontier bounds.
const (
	BoundSLA     = "sla"     // the next step misses the target
	BoundKV      = "kv"      // decode: the largest concurrency the sweep goes to still meets it
	BoundContext = "context" // prefill: the largest ISL the sweep goes to still meets it
	BoundNone    = "none"    // even the smallest point misses the target
)

// Frontier is the SLA frontier of every swept mapping.
type Frontier struct {
	Prefill []PrefillFrontier `json:"prefill,omitempty"`
	Decode  []DecodeFrontier  `json:"decode,omitempty"`
}

// DecodeFrontier is the largest concurrency of one decode mapping whose ITL
// meets the target, at the SLA's ISL and OSL.
type DecodeFrontier struct {
	Mapping Mapping `json:"mapping"`
	// Concurrency is the frontier; 0 when even the smallest misses.
	Concurrency int     `json:"concurrency"`
	ITLMs       float64 `json:"itlMs,omitempty"`
	ThptPerGPU  float64 `json:"throughputPerGpu,omitempty"`
	KVUsage     float64 `json:"kvUsage,omitempty"`
	// NextConcurrency is the measured concurrency above the frontier, which
	// misses the target (0 when the frontier is the sweep's largest).
	NextConcurrency int     `json:"nextConcurrency,omitempty"`
	NextITLMs       float64 `json:"nextItlMs,omitempty"`
	// Bound is what stops the frontier: BoundSLA, BoundKV or BoundNone.
	Bound string `json:"bound"`
	// Exact is false when the search ran out of points before the bracket
	// was one step wide: the frontier is then a lower bound.
	Exact bool `json:"exact"`
	// Points is how many points the search measured beyond the coarse sweep.
	Points int `json:"points"`
	// CoarseConcurrency and CoarseThptPerGPU are the best coarse point
	// within the target: what the upstream rule sees (0 when none).
	CoarseConcurrency int     `json:"coarseConcurrency,omitempty"`
	CoarseThptPerGPU  float64 `json:"coarseThroughputPerGpu,omitempty"`
}

// PrefillFrontier is the largest ISL one prefill mapping serves within the
// TTFT target (batch 1).
type PrefillFrontier struct {
	Mapping Mapping `json:"mapping"`
	// MaxISL is the frontier; 0 when even the smallest ISL misses, or when
	// the measurer could not search (Bound is then "").
	MaxISL     int     `json:"maxIsl"`
	TTFTMs     float64 `json:"ttftMs,omitempty"`
	NextISL    int     `json:"nextIsl,omitempty"`
	NextTTFTMs float64 `json:"nextTtftMs,omitempty"`
	Bound      string  `json:"bound"`
	Exact      bool    `json:"exact"`
	Points     int     `json:"points"`
}

// PrefillInterpolation is selected_prefill_interpolation/raw_data.npz.
type PrefillInterpolation struct {
	ISL        []float64 `json:"prefill_isl"`
	TTFTMs     []float64 `json:"prefill_ttft"`
	ThptPerGPU []float64 `json:"prefill_thpt_per_gpu"`
}

// DecodeInterpolation is selected_decode_interpolation/raw_data.npz.
type DecodeInterpolation struct {
	MaxKVTokens   int       `json:"max_kv_tokens"`
	KVUsage       []float64 `json:"x_kv_usage"`
	ContextLength []float64 `json:"y_context_length"`
	ITLMs         []float64 `json:"z_itl"`
	ThptPerGPU    []float64 `json:"z_thpt_per_gpu"`
}
