package output

import (
	"fmt"
	"math"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Status values of profiler_status.yaml (profiler.md §16).
const (
	StatusRunning = "running"
	StatusSuccess = "success"
	StatusFailed  = "failed"

	MessageSuccess = "Profiler completed successfully"
)

// Status is profiler_status.yaml. Fields are in the upstream order.
type Status struct {
	Status    string            `json:"status"`
	Timestamp string            `json:"timestamp"`
	Message   string            `json:"message,omitempty"`
	Error     string            `json:"error,omitempty"`
	Outputs   map[string]string `json:"outputs,omitempty"`
	Warnings  []string          `json:"warnings,omitempty"`
	Phase     string            `json:"phase,omitempty"`
	// Selection and Frontier (this project): the rule, and how far every
	// mapping goes within the SLA.
	Selection string                `json:"selection,omitempty"`
	Frontier  []results.FrontierRow `json:"frontier,omitempty"`
}

// MarshalStatus renders s with its fields in the upstream order (status,
// timestamp, message, error, outputs) and an RFC 3339 UTC timestamp (§19 P3).
func MarshalStatus(s Status, now time.Time) ([]byte, error) {
	switch s.Status {
	case StatusRunning, StatusSuccess, StatusFailed:
	default:
		return nil, fmt.Errorf("profiler status %q is unknown; use %s, %s or %s", s.Status, StatusRunning, StatusSuccess, StatusFailed)
	}
	if s.Timestamp == "" {
		if now.IsZero() {
			now = time.Now()
		}
		s.Timestamp = now.UTC().Format(time.RFC3339)
	}
	// sigs.k8s.io/yaml sorts keys, so the ordered document is written by hand.
	var out []byte
	for _, kv := range []struct {
		k string
		v any
	}{{"status", s.Status}, {"timestamp", s.Timestamp}, {"message", s.Message}, {"error", s.Error},
		{"outputs", s.Outputs}, {"warnings", s.Warnings}, {"phase", s.Phase}, {"selection", s.Selection}, {"frontier", s.Frontier}} {
		switch t := kv.v.(type) {
		case string:
			if t == "" {
				continue
			}
		case map[string]string:
			if len(t) == 0 {
				continue
			}
		case []string:
			if len(t) == 0 {
				continue
			}
		case []results.FrontierRow:
			if len(t) == 0 {
				continue
			}
		}
		b, err := yaml.Marshal(map[string]any{kv.k: kv.v})
		if err != nil {
			return nil, fmt.Errorf("encoding profiler status %s: %w", kv.k, err)
		}
		out = append(out, b...)
	}
	return out, nil
}

// successStatus is the status of a completed profile with the outputs it
// lists and the SLA frontier of every mapping (latencies and throughputs
// rounded to 0.01 for reading; results.json has them in full).
func successStatus(r *results.Results, hasMocker bool, warnings []string) Status {
	outs := map[string]string{
		"config_with_planner": FileConfigWithPlanner,
		"disagg_config":       FileDisaggConfig,
	}
	if hasMocker {
		outs["mocker_config_with_planner"] = FileMockerConfigPlanner
	}
	st := Status{Status: StatusSuccess, Message: MessageSuccess, Outputs: outs, Warnings: warnings, Selection: r.Selection.Rule}
	for _, f := range r.FrontierRows() {
		f.LatencyMs, f.ThptPerGPU, f.CoarseThptPerGPU = round2(f.LatencyMs), round2(f.ThptPerGPU), round2(f.CoarseThptPerGPU)
		st.Frontier = append(st.Frontier, f)
	}
	return st
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
