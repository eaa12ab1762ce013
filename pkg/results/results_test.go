package results

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMappingNames(t *testing.T) {
	m := Mapping{Kind: "DEP", N: 16, TP: 1, EP: 16, AttnDP: 16}
	if m.Label() != "DEP=16" || m.Tag() != "DEP16" || m.Short() != "DEP:16" {
		t.Errorf("%s %s %s", m.Label(), m.Tag(), m.Short())
	}
}

// The grids round-trip through results.json with the npz array names inline.
func TestGridsRoundTrip(t *testing.T) {
	in := Results{SchemaVersion: SchemaVersion,
		PrefillGrids: []PrefillGrid{{Mapping: Mapping{Kind: "TP", N: 2, TP: 2, EP: 1, AttnDP: 1},
			PrefillInterpolation: PrefillInterpolation{ISL: []float64{100, 200}, TTFTMs: []float64{1, 2}, ThptPerGPU: []float64{3, 4}}}},
		DecodeGrids: []DecodeGrid{{Mapping: Mapping{Kind: "TP", N: 1, TP: 1, EP: 1, AttnDP: 1},
			DecodeInterpolation: DecodeInterpolation{MaxKVTokens: 643891, KVUsage: []float64{0.1}, ContextLength: []float64{350}, ITLMs: []float64{5}, ThptPerGPU: []float64{200}}}},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"prefill_isl":[100,200]`, `"max_kv_tokens":643891`, `"mapping":{"kind":"TP","numGpus":2`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("results.json lacks %s: %s", key, b)
		}
	}
	var out Results
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%+v\n%+v", in, out)
	}
}
