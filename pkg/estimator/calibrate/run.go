package calibrate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// HeldOutFamilies are validated by leaving each out of the fit in turn.
var HeldOutFamilies = []string{"llama", "qwen"}

// Run fits on every row, validates each held-out family and builds the report.
func Run(dir string) (*Report, error) {
	rows, err := LoadRows(dir)
	if err != nil {
		return nil, err
	}
	c, err := Fit(dir, rows)
	if err != nil {
		return nil, err
	}
	rep := &Report{Rows: len(rows), Fitted: c, HeldOut: map[string][]Errors{}, HeldOutSingle: map[string][]Errors{}}
	rep.InSample = Summarize(Predict(c, rows), SystemBackend)
	for _, fam := range HeldOutFamilies {
		preds, _, err := HeldOut(dir, rows, fam)
		if err != nil {
			return nil, err
		}
		rep.HeldOut[fam] = Summarize(preds, SystemBackend)
		rep.HeldOutSingle[fam] = Summarize(SingleStream(preds), SystemBackend)
	}
	moe, err := LoadMoERows(dir)
	if err != nil {
		return nil, err
	}
	preds := Predict(c, moe)
	rep.MoERows, rep.MoESkipped = len(preds), len(moe)-len(preds)
	rep.MoE = Summarize(preds, func(r Row) string { return r.Model + " / " + r.System + " / " + r.Backend })
	rep.AICITLMPE, err = loadAICBaseline(dir)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// loadAICBaseline reads AIC's signed ITL errors from the BLIS baseline file.
func loadAICBaseline(dir string) (map[string]float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "blis_baseline_errors.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Experiments map[string]struct {
			Metadata struct {
				Model string `json:"model"`
				TP    int    `json:"tp"`
			} `json:"metadata"`
			Simulators map[string]map[string]float64 `json:"simulators"`
		} `json:"experiments"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("blis_baseline_errors.json: %w", err)
	}
	out := map[string]float64{}
	for id, e := range doc.Experiments {
		if s, ok := e.Simulators["aiconfigurator-estimate"]; ok {
			if v, ok := s["itl_mean_mpe"]; ok {
				out[fmt.Sprintf("%s (%s, TP%d)", id, e.Metadata.Model, e.Metadata.TP)] = v
			}
		}
	}
	return out, nil
}

// SingleStream keeps the concurrency-1 predictions.
func SingleStream(preds []Prediction) []Prediction {
	var out []Prediction
	for _, p := range preds {
		if p.Row.Concurrency == 1 {
			out = append(out, p)
		}
	}
	return out
}
