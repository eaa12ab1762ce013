package worker

import (
	"bytes"
	"fmt"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricFamily parses one family from an engine's Prometheus text
// exposition with expfmt. Only that family's lines (its HELP and TYPE
// comments and its samples) reach the parser, so an odd metric elsewhere on
// the page cannot hide the one we need.
func metricFamily(text []byte, name string) (*dto.MetricFamily, error) {
	var own bytes.Buffer
	for line := range bytes.Lines(text) {
		if familyOf(line) == name {
			own.Write(line)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&own)
	if err != nil {
		return nil, err
	}
	f, ok := fams[name]
	if !ok || len(f.GetMetric()) == 0 {
		return nil, fmt.Errorf("no %s samples", name)
	}
	return f, nil
}

// familyOf is the metric name a text-format line is about: the name a HELP
// or TYPE comment documents, or a sample's name ("" for other lines).
func familyOf(line []byte) string {
	line = bytes.TrimLeft(line, " \t")
	if rest, ok := bytes.CutPrefix(line, []byte("#")); ok {
		f := bytes.Fields(rest)
		if len(f) >= 2 && slices.Contains([]string{"HELP", "TYPE"}, string(f[0])) {
			return string(f[1])
		}
		return ""
	}
	if i := bytes.IndexAny(line, "{ \t\r\n"); i >= 0 {
		line = line[:i]
	}
	return string(line)
}

// sampleValue is a gauge's, counter's or untyped sample's value.
func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

// labelsOf is a sample's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
