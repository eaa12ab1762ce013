// Package calibrate fits the estimator's coefficients to the measurements in
// ../shared/data/groundtruth and reports its held-out accuracy. `make
// calibrate` runs it through hack/calibrate; a test re-runs it to catch drift.
package calibrate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// RepoRoot walks up from dir to the folder holding go.mod.
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		d = p
	}
}

// DataDir is ../shared/data/groundtruth next to the repository root, or
// $DGDR_GROUNDTRUTH when set.
func DataDir(from string) (string, error) {
	d := os.Getenv("DGDR_GROUNDTRUTH")
	if d == "" {
		root, err := RepoRoot(from)
		if err != nil {
			return "", err
		}
		d = filepath.Join(root, "..", "shared", "data", "groundtruth")
	}
	if _, err := os.Stat(d); err != nil {
		return "", fmt.Errorf("calibration data not found at %s (set DGDR_GROUNDTRUTH): %w", d, err)
	}
	return filepath.Clean(d), nil
}

// table is a CSV file as header-indexed rows.
type table struct {
	cols map[string]int
	rows [][]string
}

func readCSV(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCSV(f, path)
}

// parseCSV reads CSV text with a header line; name labels errors.
func parseCSV(in io.Reader, path string) (*table, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &table{cols: map[string]int{}}
	for i, h := range head {
		t.cols[strings.TrimSpace(h)] = i
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

func (t *table) str(row []string, col string) string {
	i, ok := t.cols[col]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

func (t *table) num(row []string, col string) (float64, bool) {
	v, err := strconv.ParseFloat(t.str(row, col), 64)
	return v, err == nil
}

// nums parses required numeric columns; the error names the first bad one.
func (t *table) nums(row []string, cols ...string) ([]float64, error) {
	out := make([]float64, len(cols))
	for i, c := range cols {
		v, ok := t.num(row, c)
		if !ok {
			return nil, fmt.Errorf("column %s = %q is not a number", c, t.str(row, c))
		}
		out[i] = v
	}
	return out, nil
}

// Row is one end-to-end measurement of a dense model.
type Row struct {
	ID, Model, Family, System, Backend, Precision string
	ISL, OSL, Prefix, Concurrency, TP             int     // TP: the engine's GPU count
	Kind                                          string  // TP (default), TEP or DEP
	TTFT, TPOT                                    float64 // ms, measured means
	Source                                        string
}

// family groups checkpoints for held-out validation.
func family(model string) string {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "qwen"):
		return "qwen"
	case strings.Contains(m, "llama"):
		return "llama"
	}
	return "other"
}

// LoadRows reads the dense aggregated AIC rows and the BLIS vLLM
// single-stream rows. Rows whose engine batch differs from the client
// concurrency are dropped (the engine capped the batch; queueing unknown).
func LoadRows(dir string) ([]Row, error) {
	t, err := readCSV(filepath.Join(dir, "aic_silicon_dense_agg_clean.csv"))
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, r := range t.rows {
		conc, ok1 := t.num(r, "concurrency")
		batch, ok2 := t.num(r, "batch_size")
		if !ok2 {
			continue
		}
		if !ok1 {
			conc = batch
		}
		if conc != batch {
			continue
		}
		isl, _ := t.num(r, "isl")
		osl, _ := t.num(r, "osl")
		tp, _ := t.num(r, "tp")
		ttft, ok3 := t.num(r, "ttft_ms")
		tpot, ok4 := t.num(r, "tpot_ms")
		if !ok3 || !ok4 || isl < 1 || osl < 2 || tp < 1 || ttft <= 0 || tpot <= 0 {
			continue
		}
		prec := t.str(r, "precision")
		if prec == "unspecified" || prec == "" {
			prec = "bf16"
		}
		model := t.str(r, "model")
		rows = append(rows, Row{ID: t.str(r, "id"), Model: model, Family: family(model), System: t.str(r, "system"),
			Backend: t.str(r, "backend"), Precision: prec, ISL: int(isl), OSL: int(osl), Concurrency: int(conc), TP: int(tp),
			TTFT: ttft, TPOT: tpot, Source: "aic_silicon_dense_agg_clean.csv"})
	}
	b, err := readCSV(filepath.Join(dir, "blis_h1_vllm_h100_sync.csv"))
	if err != nil {
		return nil, err
	}
	for i, r := range b.rows {
		v, err := b.nums(r, "tp", "prompt_tokens", "prefix_tokens", "output_tokens", "ttft_mean_ms", "tpot_mean_ms")
		if err != nil {
			return nil, fmt.Errorf("blis_h1_vllm_h100_sync.csv row %d: %w", i+2, err)
		}
		tp, pt, px, ot, ttft, tpot := v[0], v[1], v[2], v[3], v[4], v[5]
		model := b.str(r, "model")
		rows = append(rows, Row{ID: b.str(r, "experiment"), Model: model, Family: family(model), System: "h100_sxm",
			Backend: "vllm", Precision: "bf16", ISL: int(pt), Prefix: int(px), OSL: int(ot), Concurrency: 1, TP: int(tp),
			TTFT: ttft, TPOT: tpot, Source: "blis_h1_vllm_h100_sync.csv"})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, nil
}

// gemmPoint, attnPoint and arPoint are kernel microbenchmark rows.
type gemmPoint struct{ m, k, n, us float64 }

type prefillPoint struct{ heads, d, s, us float64 }

type decodePoint struct{ bytes, us float64 }

type arPoint struct {
	family   string
	n        int
	bytes    float64
	medianUs float64
}

func loadGEMM(dir string) ([]gemmPoint, error) {
	t, err := readCSV(filepath.Join(dir, "blis_bench_data_h100", "gemm__h100__data.csv"))
	if err != nil {
		return nil, err
	}
	var out []gemmPoint
	for i, r := range t.rows {
		v, err := t.nums(r, "m", "k", "n", "latency_us")
		if err != nil {
			return nil, fmt.Errorf("gemm__h100__data.csv row %d: %w", i+2, err)
		}
		if v[3] > 0 {
			out = append(out, gemmPoint{v[0], v[1], v[2], v[3]})
		}
	}
	return out, nil
}

// loadAttention reads the MHA prefill and decode files; a name is
// heads-kvheads-headdim[-tpN].
func loadAttention(dir string) ([]prefillPoint, []decodePoint, error) {
	d := filepath.Join(dir, "blis_bench_data_h100")
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil, nil, err
	}
	var pre []prefillPoint
	var dec []decodePoint
	for _, e := range ents {
		name := e.Name()
		var heads, kv, hd, tp int
		switch {
		case strings.HasPrefix(name, "mha__prefill__h100__"):
			if _, err := fmt.Sscanf(strings.TrimPrefix(name, "mha__prefill__h100__"), "%d-%d-%d.csv", &heads, &kv, &hd); err != nil {
				continue
			}
			t, err := readCSV(filepath.Join(d, name))
			if err != nil {
				return nil, nil, err
			}
			for i, r := range t.rows {
				v, err := t.nums(r, "seq_len", "latency_us")
				if err != nil {
					return nil, nil, fmt.Errorf("%s row %d: %w", name, i+2, err)
				}
				if v[1] > 0 {
					pre = append(pre, prefillPoint{float64(heads), float64(hd), v[0], v[1]})
				}
			}
		case strings.HasPrefix(name, "mha__decode__h100__"):
			if _, err := fmt.Sscanf(strings.TrimPrefix(name, "mha__decode__h100__"), "%d-%d-%d-tp%d.csv", &heads, &kv, &hd, &tp); err != nil {
				continue
			}
			t, err := readCSV(filepath.Join(d, name))
			if err != nil {
				return nil, nil, err
			}
			kvg := (kv + tp - 1) / tp
			for i, r := range t.rows {
				v, err := t.nums(r, "batch_size", "kv_len", "latency_us")
				if err != nil {
					return nil, nil, fmt.Errorf("%s row %d: %w", name, i+2, err)
				}
				if v[2] > 0 {
					dec = append(dec, decodePoint{v[0] * v[1] * 2 * float64(kvg) * float64(hd) * 2, v[2]})
				}
			}
		}
	}
	return pre, dec, nil
}

// loadAllReduce reads the single-node NVSwitch groups of the Vidur files.
func loadAllReduce(dir string) ([]arPoint, error) {
	var out []arPoint
	for _, f := range []struct{ file, family string }{
		{"vidur_h100_dgx_all_reduce.csv", "h100"}, {"vidur_a100_dgx_all_reduce.csv", "a100"},
	} {
		t, err := readCSV(filepath.Join(dir, f.file))
		if err != nil {
			return nil, err
		}
		for i, r := range t.rows {
			v, err := t.nums(r, "num_workers", "devices_per_node", "size", "time_stats.all_reduce.median")
			if err != nil {
				return nil, fmt.Errorf("%s row %d: %w", f.file, i+2, err)
			}
			n, dpn, size, med := v[0], v[1], v[2], v[3]
			if med <= 0 || n != dpn || (n != 2 && n != 4 && n != 8) {
				continue
			}
			out = append(out, arPoint{f.family, int(n), size, med * 1000})
		}
	}
	return out, nil
}

// LoadMoERows reads the aggregated MoE rows of aic_silicon_sample.csv whose
// layout is one of the profiler's mappings (TP=n with expert TP, TEP=n,
// DEP=n) on a system of the catalog. They are never fitted: they measure
// how the dense calibration transfers to MoE and MLA.
func LoadMoERows(dir string) ([]Row, error) {
	t, err := readCSV(filepath.Join(dir, "aic_silicon_sample.csv"))
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, r := range t.rows {
		if t.str(r, "mode") != "agg" {
			continue
		}
		model := t.str(r, "model_path")
		md, err := estimator.LookupModel(model)
		if err != nil || !md.IsMoE() {
			continue
		}
		sys := t.str(r, "system")
		if _, err := estimator.LookupSystem(sys); err != nil {
			continue
		}
		num := func(c string, def float64) float64 {
			if v, ok := t.num(r, c); ok {
				return v
			}
			return def
		}
		tp, dp, mtp, mep := num("tp_size", 1), math.Max(num("attention_dp_size", 1), 1), num("moe_tp_size", 1), num("moe_ep_size", 1)
		var kind string
		n := tp * dp
		switch {
		case dp == 1 && mtp == tp && mep == 1:
			kind = "TP"
		case dp == 1 && mep == tp && mtp == 1:
			kind = "TEP"
		case tp == 1 && mep == dp && mtp == 1:
			kind = "DEP"
		default:
			continue
		}
		conc := 0.0
		for _, part := range strings.Split(t.str(r, "silicon_data_source"), ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "silicon_concurrency="); ok {
				conc, _ = strconv.ParseFloat(v, 64)
			}
		}
		batch, _ := t.num(r, "batch_size")
		isl, _ := t.num(r, "isl")
		osl, _ := t.num(r, "osl")
		ttft, ok1 := t.num(r, "silicon_ttft_ms")
		tpot, ok2 := t.num(r, "silicon_tpot_ms")
		if conc < 1 || conc != batch || !ok1 || !ok2 || ttft <= 0 || tpot <= 0 || isl < 1 || osl < 2 || n < 1 || n > 1024 {
			continue
		}
		prec := t.str(r, "precision")
		if prec == "" {
			prec = md.WeightDtype
		}
		if _, ok := map[string]bool{"bf16": true, "fp8": true, "fp4": true}[prec]; !ok {
			continue
		}
		rows = append(rows, Row{ID: t.str(r, "id"), Model: model, Family: family(model), System: sys, Backend: t.str(r, "backend"),
			Precision: prec, ISL: int(isl), OSL: int(osl), Concurrency: int(conc), TP: int(n), Kind: kind,
			TTFT: ttft, TPOT: tpot, Source: "aic_silicon_sample.csv"})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, nil
}

// beyondGEMMPeak lists the rows whose measured throughput needs more GEMM
// work per second than the GPU can do: the closed loop's c requests each
// compute isl + osl tokens per cycle of TTFT + (osl − 1)·TPOT, at two FLOPs
// per weight per token, and no GEMM of the H100 microbenchmark ran above
// maxMFU of the datasheet peak. Such a row cannot have computed its whole
// prompt (a prefix-cache hit on repeated benchmark prompts would explain
// it). They stay in the fit and the figures; ACCURACY.md names them.
func beyondGEMMPeak(rows []Row, maxMFU float64) []Row {
	var out []Row
	for _, r := range rows {
		if need, ok := gemmShare(r); ok && need > maxMFU {
			out = append(out, r)
		}
	}
	return out
}

// gemmShare is the share of the datasheet peak (at the row's weight dtype)
// that the row's measured throughput takes in dense GEMMs on each GPU.
func gemmShare(r Row) (float64, bool) {
	md, err1 := estimator.LookupModel(r.Model)
	sys, err2 := estimator.LookupSystem(r.System)
	if err1 != nil || err2 != nil || md.IsMoE() || md.IsMLA() {
		return 0, false
	}
	e, err := estimator.New(md, sys, estimator.Options{Backend: r.Backend, Precision: r.Precision})
	if err != nil {
		return 0, false
	}
	layer, _, err := e.LayerCounts(1, 1)
	if err != nil {
		return 0, false
	}
	perToken := layer*float64(md.Layers) + 2*float64(md.Hidden)*float64(md.Vocab)
	peak := sys.BF16TFLOPS
	switch {
	case e.Precision() == "fp4" && sys.FP4TFLOPS > 0:
		peak = sys.FP4TFLOPS
	case e.Precision() != "bf16" && sys.FP8TFLOPS > 0:
		peak = sys.FP8TFLOPS
	}
	cycleS := (r.TTFT + float64(r.OSL-1)*r.TPOT) / 1000
	flops := float64(r.Concurrency) * float64(r.ISL+r.Prefix+r.OSL) * perToken
	return flops / cycleS / float64(r.TP) / (peak * 1e12), true
}

// maxGEMMShare is the highest share of the 1979 TFLOPS peak any GEMM of the
// H100 microbenchmark reached.
func maxGEMMShare(dir string) (float64, error) {
	gemm, err := loadGEMM(dir)
	if err != nil {
		return 0, err
	}
	return bestGEMMShare(gemm), nil
}

// bestGEMMShare is the highest share of the FP8 peak among gemm.
func bestGEMMShare(gemm []gemmPoint) float64 {
	best := 0.0
	for _, g := range gemm {
		best = math.Max(best, 2*g.m*g.k*g.n/(g.us*gemmFilePeak))
	}
	return best
}
