package suggest

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	keys := []string{"isl", "osl", "ttft", "itl", "maxNumGpusPerEngine", "max_num_gpus_per_engine", "useAiConfigurator", "use_ai_configurator"}
	for in, want := range map[string]string{
		"tftt":                   "ttft",
		"ttf":                    "ttft",
		"ITL":                    "itl",
		"max_num_gpu_per_engine": "max_num_gpus_per_engine",
		"maxNumGpuPerEngine":     "maxNumGpusPerEngine",
		"use_ai_configurtor":     "use_ai_configurator",
		"latency":                "",
		"":                       "",
		strings.Repeat("x", 100): "",
	} {
		if got := Closest(in, keys); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzClosest(f *testing.F) {
	f.Add("tftt")
	f.Fuzz(func(t *testing.T, s string) {
		got := Closest(s, []string{"isl", "osl", "ttft", "itl"})
		if got != "" && got != "isl" && got != "osl" && got != "ttft" && got != "itl" {
			t.Fatalf("Closest returned %q, not a candidate", got)
		}
	})
}
