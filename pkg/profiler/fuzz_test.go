package profiler

import (
	"encoding/json"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// `profile --from FILE` re-selects from any results.json a user hands it:
// whatever the file holds, the what-if and its frontier lines return an
// error or a result, never a panic.
func FuzzReselect(f *testing.F) {
	c := plannerCases[0]
	p, cfg := simulate(f, c.model, c.system, c.backend, c.space, c.sla, c.aic)
	cfg.InterpolateAll = true
	r, err := p.Run(f.Context(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, 300.0, 15.0)
	f.Add([]byte(`{"prefill":[{"mapping":{"kind":"TP","numGpus":1},"isl":10,"ttftMs":5}],"decode":[{"mapping":{"kind":"DEP","numGpus":4,"attnDp":0},"concurrency":3,"itlMs":1,"frontier":true}],"frontier":{"decode":[]}}`), 10.0, 2.0)
	f.Fuzz(func(t *testing.T, data []byte, ttft, itl float64) {
		var r results.Results
		if json.Unmarshal(data, &r) != nil {
			return
		}
		if Reselect(&r, ttft, itl, NewLogger(nil)) != nil {
			return
		}
		_ = r.SuggestedLines()
		_ = r.FrontierRows()
		_ = frontierWarnings(&r)
	})
}
