package calibrate

import (
	"encoding/json"
	"fmt"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
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
	moe, err := LoadMoERows(dir)
	if err != nil {
		return nil, err
	}
	c.MoEScale = FitMoE(c, moe)
	rep := &Report{Rows: len(rows), Fitted: c, HeldOut: map[string][]Errors{}, HeldOutSingle: map[string][]Errors{}}
	inSample := Predict(c, rows)
	rep.InSample = Summarize(inSample, SystemBackend)
	var heldShort []Prediction
	for _, fam := range HeldOutFamilies {
		preds, err := HeldOut(dir, rows, fam)
		if err != nil {
			return nil, err
		}
		rep.HeldOut[fam] = Summarize(preds, SystemBackend)
		rep.HeldOutSingle[fam] = Summarize(SingleStream(preds), SystemBackend)
		heldShort = append(heldShort, ShortPrompts(SingleStream(preds))...)
	}
	rep.Short = shortRows(heldShort, ShortPrompts(SingleStream(inSample)))
	// An unseen GPU generation: the proxy for A100 and L40S, which have no rows.
	unseen, err := heldOutBy(dir, rows, func(r Row) bool { return generation(r.System) == "blackwell" })
	if err != nil {
		return nil, err
	}
	rep.UnseenGeneration = findGroup(Summarize(unseen, SystemBackend), "all")
	rep.ShortHeldOut = findGroup(Summarize(heldShort, SystemBackend), "all")
	rep.SGLangVsVLLM = matchedRatios(rows)
	moePreds := Predict(c, moe)
	rep.MoERows, rep.MoESkipped = len(moePreds), len(moe)-len(moePreds)
	byModel := func(r Row) string { return r.Model + " / " + r.System + " / " + r.Backend }
	rep.MoE = Summarize(moePreds, byModel)
	rep.MoEHeldOut = Summarize(moeLeaveOneModelOut(c, moe), byModel)
	rep.MoEShortISL = findGroup(Summarize(ShortPrompts(moePreds), SystemBackend), "all")
	mem, err := LoadMemoryRows()
	if err != nil {
		return nil, err
	}
	if rep.Memory, err = CheckMemory(mem); err != nil {
		return nil, err
	}
	rep.IssueKV = issueKV()
	rep.Reference = referencePoints(c)
	rep.AICITLMPE, err = loadAICBaseline(dir)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// moeLeaveOneModelOut predicts each MoE model's rows with kernel scales
// fitted on the other MoE models only.
func moeLeaveOneModelOut(c *estimator.Coefficients, moe []Row) []Prediction {
	models := map[string]bool{}
	for _, r := range moe {
		models[r.Model] = true
	}
	var out []Prediction
	for _, m := range sortedKeys(models) {
		var train, test []Row
		for _, r := range moe {
			if r.Model == m {
				test = append(test, r)
			} else {
				train = append(train, r)
			}
		}
		held := c.Clone()
		held.MoEScale = FitMoE(c, train)
		out = append(out, Predict(held, test)...)
	}
	return out
}

// ShortPrompts keeps the predictions of rows with at most shortISL new
// prompt tokens.
func ShortPrompts(preds []Prediction) []Prediction {
	var out []Prediction
	for _, p := range preds {
		if p.Row.ISL <= shortISL {
			out = append(out, p)
		}
	}
	return out
}

// shortISL is the issue's bound on a short prompt.
const shortISL = 256

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
