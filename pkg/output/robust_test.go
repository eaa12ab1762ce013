package output

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Odd results never panic: they render or fail with an error naming the field.
func TestOddResults(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name    string
		mutate  func(r *results.Results) *results.Results
		wantErr string // "" means it must render
	}{
		{"nil results", func(*results.Results) *results.Results { return nil }, "results are nil"},
		{"nil selection", func(r *results.Results) *results.Results { r.Selection = results.Selection{}; return r }, "results.selection.prefill is missing"},
		{"nil decode selection", func(r *results.Results) *results.Results { r.Selection.Decode = nil; return r }, "results.selection.decode is missing"},
		{"unknown mapping", func(r *results.Results) *results.Results { r.Selection.Prefill.Mapping.Kind = "PP"; return r }, "kind = \"PP\""},
		{"zero GPUs", func(r *results.Results) *results.Results { r.Selection.Decode.Mapping.N = 0; return r }, "numGpus = 0"},
		{"NaN prefill", func(r *results.Results) *results.Results { r.Prefill[0].TTFTMs = math.NaN(); return r }, "results.prefill[0].ttftMs is NaN"},
		{"Inf decode thpt", func(r *results.Results) *results.Results { r.Decode[1].ThptPerGPU = inf; return r }, "results.decode[1].throughputPerGpu is +Inf"},
		{"NaN selection", func(r *results.Results) *results.Results { r.Selection.Decode.LatencyMs = math.NaN(); return r }, "results.selection.decode.latencyMs"},
		{"NaN interpolation", func(r *results.Results) *results.Results { r.DecodeInterpolation.ITLMs[5] = math.NaN(); return r }, "results.decodeInterpolation[5].z_itl"},
		{"ragged interpolation", func(r *results.Results) *results.Results {
			r.PrefillInterpolation.TTFTMs = r.PrefillInterpolation.TTFTMs[:2]
			return r
		}, "differ in length"},
		{"fractional ISL", func(r *results.Results) *results.Results { r.PrefillInterpolation.ISL[2] = 10.5; return r }, "prefill_isl[2] = 10.5"},
		{"negative max KV", func(r *results.Results) *results.Results { r.DecodeInterpolation.MaxKVTokens = -1; return r }, "max_kv_tokens = -1"},
		{"empty sweeps", func(r *results.Results) *results.Results {
			r.Prefill, r.Decode, r.PrefillInterpolation, r.DecodeInterpolation = nil, nil, nil, nil
			return r
		}, ""},
		{"single points", func(r *results.Results) *results.Results {
			r.Prefill, r.Decode = r.Prefill[:1], r.Decode[:1]
			d := r.DecodeInterpolation
			d.KVUsage, d.ContextLength, d.ITLMs, d.ThptPerGPU = d.KVUsage[:1], d.ContextLength[:1], d.ITLMs[:1], d.ThptPerGPU[:1]
			return r
		}, ""},
		{"flat values", func(r *results.Results) *results.Results {
			for i := range r.Prefill {
				r.Prefill[i].TTFTMs, r.Prefill[i].ThptPerGPU = 0, 0
			}
			p := r.PrefillInterpolation
			for i := range p.ISL {
				p.ISL[i], p.TTFTMs[i], p.ThptPerGPU[i] = 100, 0, 0
			}
			d := r.DecodeInterpolation
			for i := range d.KVUsage {
				d.KVUsage[i], d.ContextLength[i], d.ITLMs[i], d.ThptPerGPU[i] = 0, 0, 0, 0
			}
			r.Input.SLA.TTFT, r.Input.SLA.ITL = 0, 0
			return r
		}, ""},
		{"three prefill points", func(r *results.Results) *results.Results {
			p := r.PrefillInterpolation
			p.ISL, p.TTFTMs, p.ThptPerGPU = p.ISL[:3], p.TTFTMs[:3], p.ThptPerGPU[:3]
			return r
		}, ""},
		{"huge values", func(r *results.Results) *results.Results {
			r.Prefill[0].TTFTMs, r.Decode[0].ThptPerGPU = 1e300, 1e300
			return r
		}, ""},
		{"TP larger than node", func(r *results.Results) *results.Results { r.Selection.Prefill.Mapping = mapping("TP", 16); return r }, "TP cannot span nodes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.mutate(typicalResults("vllm", mapping("TP", 1), mapping("TP", 1)))
			dir := filepath.Join(t.TempDir(), "out")
			_, err := Write(dir, r, typicalInputs("vllm", ""))
			check := func(what string, err error) {
				t.Helper()
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("%s: unexpected error %v", what, err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("%s: want error containing %q, got %v", what, tc.wantErr, err)
				}
			}
			check("Write", err)
			_, err = GenerateDGD(r, typicalInputs("vllm", ""))
			if tc.wantErr != "" && strings.Contains(tc.wantErr, "selection") || tc.wantErr == "results are nil" {
				check("GenerateDGD", err)
			}
			// Plots alone never panic either.
			_, _ = Plots(r)
			_, _ = PlannerProfileData(r)
		})
	}
}

func FuzzWrite(f *testing.F) {
	f.Add(1.0, 20.0, 3, 2, int64(3000), 0.5, uint8(1))
	f.Add(math.NaN(), 0.0, 0, 0, int64(0), math.Inf(-1), uint8(0))
	f.Add(1e-300, -5.0, 17, 64, int64(-1), 1e308, uint8(7))
	f.Fuzz(func(t *testing.T, ttft, itl float64, nPrefill, nDecode int, isl int64, scale float64, kinds uint8) {
		if nPrefill < 0 || nPrefill > 40 || nDecode < 0 || nDecode > 40 {
			t.Skip()
		}
		kindsList := []string{"TP", "TEP", "DEP", "", "XX"}
		r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
		r.Input.SLA.TTFT, r.Input.SLA.ITL, r.Input.SLA.ISL = ttft, itl, isl
		r.Prefill = r.Prefill[:min(nPrefill, len(r.Prefill))]
		r.Decode = r.Decode[:min(nDecode, len(r.Decode))]
		for i := range r.Decode {
			r.Decode[i].ITLMs *= scale
		}
		r.Selection.Prefill.Mapping.Kind = kindsList[int(kinds)%len(kindsList)]
		p := r.PrefillInterpolation
		n := min(nPrefill, len(p.ISL))
		p.ISL, p.TTFTMs, p.ThptPerGPU = p.ISL[:n], p.TTFTMs[:n], p.ThptPerGPU[:n]
		in := typicalInputs("vllm", "")
		in.NoPlots = kinds%2 == 0 // keep the fuzzer fast; plots are covered below
		files, err := Write(filepath.Join(t.TempDir(), "o"), r, in)
		if err == nil && len(files) == 0 {
			t.Fatal("Write succeeded without files")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
