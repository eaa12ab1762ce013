package loadgen

import (
	"math"
	"sort"
)

// Stat is one metric of AIPerf's profile_export_aiperf.json: a unit and the
// statistics of its distribution. Single-value metrics set only Avg.
type Stat struct {
	Unit string   `json:"unit"`
	Avg  float64  `json:"avg"`
	P1   *float64 `json:"p1,omitempty"`
	P5   *float64 `json:"p5,omitempty"`
	P10  *float64 `json:"p10,omitempty"`
	P25  *float64 `json:"p25,omitempty"`
	P50  *float64 `json:"p50,omitempty"`
	P75  *float64 `json:"p75,omitempty"`
	P90  *float64 `json:"p90,omitempty"`
	P95  *float64 `json:"p95,omitempty"`
	P99  *float64 `json:"p99,omitempty"`
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
	Std  *float64 `json:"std,omitempty"`
}

// Scalar is a single-value metric.
func Scalar(unit string, v float64) *Stat { return &Stat{Unit: unit, Avg: v} }

// Distribution summarises values; nil when there are none.
func Distribution(unit string, values []float64) *Stat {
	if len(values) == 0 {
		return nil
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	avg := sum / float64(len(s))
	ss := 0.0
	for _, v := range s {
		ss += (v - avg) * (v - avg)
	}
	p := func(q float64) *float64 { v := Percentile(s, q); return &v }
	std := math.Sqrt(ss / float64(len(s)))
	return &Stat{
		Unit: unit, Avg: avg,
		P1: p(1), P5: p(5), P10: p(10), P25: p(25), P50: p(50), P75: p(75), P90: p(90), P95: p(95), P99: p(99),
		Min: &s[0], Max: &s[len(s)-1], Std: &std,
	}
}

// Percentile of sorted values with linear interpolation between closest
// ranks (NumPy's default, which AIPerf uses).
func Percentile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n == 1 {
		return sorted[0]
	}
	q = math.Min(math.Max(q, 0), 100)
	pos := q / 100 * float64(n-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, n-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}
