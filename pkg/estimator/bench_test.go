package estimator

import "testing"

// profilerGrid is what one profile asks: prefill at 4 TPs × 20 ISLs and
// decode at 4 TPs × 36 (concurrency, context) points, plus KV capacity.
func profilerGrid(tb testing.TB, md *Model, sys *System) float64 {
	e, err := New(md, sys, Options{Backend: "vllm"})
	if err != nil {
		tb.Fatal(err)
	}
	sum := 0.0
	for _, tp := range []int{1, 2, 4, 8} {
		m := NewMapping("TP", tp)
		for i := 1; i <= 20; i++ {
			v, err := e.PrefillTTFT(m, i*1600)
			if err != nil {
				tb.Fatal(err)
			}
			sum += v
		}
		kv, err := e.MaxKVTokens(m)
		if err != nil {
			tb.Fatal(err)
		}
		sum += float64(kv)
		for _, c := range []int{1, 8, 64, 256, 1024, 2000} {
			for _, ctx := range []float64{100, 1000, 4000, 16000, 32000, 64000} {
				v, err := e.DecodeITL(m, c, ctx)
				if err != nil {
					tb.Fatal(err)
				}
				sum += v
			}
		}
	}
	return sum
}

func BenchmarkProfilerGrid(b *testing.B) {
	md, _ := LookupModel("Qwen/Qwen3-32B")
	sys, _ := LookupSystem("h200_sxm")
	for b.Loop() {
		profilerGrid(b, md, sys)
	}
}

func BenchmarkProfilerGridMoE(b *testing.B) {
	md, _ := LookupModel("deepseek-ai/DeepSeek-R1")
	sys, _ := LookupSystem("b200_sxm")
	for b.Loop() {
		profilerGrid(b, md, sys)
	}
}
