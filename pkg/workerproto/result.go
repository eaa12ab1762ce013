package workerproto

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/loadgen"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// ResultSchema versions the JSON under ResultKey.
const (
	ResultSchema = "kubectl-dgdr.worker-result/v1"
	ResultKey    = "result.json"
)

// Result is what a measure container writes to its ConfigMap.
type Result struct {
	SchemaVersion string          `json:"schemaVersion"`
	Phase         string          `json:"phase"`
	Backend       string          `json:"backend"`
	Model         string          `json:"model"`
	Mapping       results.Mapping `json:"mapping"`
	// MaxKVTokens is the engine's KV capacity over all attention-DP ranks
	// (decode only); KVSource says where it came from: flag, metrics,
	// server-info, log or default.
	MaxKVTokens int            `json:"maxKvTokens,omitempty"`
	KVSource    string         `json:"kvSource,omitempty"`
	Prefill     []PrefillPoint `json:"prefill,omitempty"`
	Decode      []DecodePoint  `json:"decode,omitempty"`
	Warnings    []string       `json:"warnings,omitempty"`
	// Error is set when the measurement failed as a whole.
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// PrefillPoint is one TTFT measurement (profiler.md §6.4).
type PrefillPoint struct {
	ISL        int     `json:"isl"`
	TTFTMs     float64 `json:"ttftMs"`
	ThptPerGPU float64 `json:"throughputPerGpu"`
	// AIPerf is the load generator's export of the measured run.
	AIPerf loadgen.Export `json:"aiperf"`
}

// DecodePoint is one ITL measurement (profiler.md §7.4, §12.3).
type DecodePoint struct {
	ISL           int            `json:"isl"`
	OSL           int            `json:"osl"`
	Concurrency   int            `json:"concurrency"`
	ITLMs         float64        `json:"itlMs"`
	ThptPerGPU    float64        `json:"throughputPerGpu"`
	ContextLength float64        `json:"contextLength"` // isl + osl/2
	KVUsage       float64        `json:"kvUsage"`       // contextLength × concurrency / maxKvTokens
	AIPerf        loadgen.Export `json:"aiperf"`
}

// ReadResult decodes a result ConfigMap (the plugin reads what the measure container wrote).
func ReadResult(cm *corev1.ConfigMap) (*Result, error) {
	raw, ok := cm.Data[ResultKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no key %s", cm.Namespace, cm.Name, ResultKey)
	}
	var r Result
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s key %s: %w", cm.Namespace, cm.Name, ResultKey, err)
	}
	if r.SchemaVersion != ResultSchema {
		return nil, fmt.Errorf("ConfigMap %s/%s: schema %q, want %q", cm.Namespace, cm.Name, r.SchemaVersion, ResultSchema)
	}
	return &r, nil
}
