package estimator

import (
	"strings"
	"testing"
)

func TestSuggestModel(t *testing.T) {
	for in, want := range map[string]string{
		"Qwen/Qwen-3-0.6B":       "Qwen/Qwen3-0.6B",
		"qwen3-32":               "Qwen/Qwen3-32B",
		"meta-llama/Llama-3-8B":  "meta-llama/Llama-3.1-8B",
		"deepseek-ai/DeepSek-R1": "deepseek-ai/DeepSeek-R1",
		"acme/NoSuchModel-7B":    "",
	} {
		if got := SuggestModel(in); got != want {
			t.Errorf("SuggestModel(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := LookupModel("Qwen/Qwen-3-0.6B")
	if err == nil || !strings.Contains(err.Error(), "did you mean Qwen/Qwen3-0.6B?") || !strings.Contains(err.Error(), "kubectl dgdr models") {
		t.Fatalf("LookupModel error: %v", err)
	}
	// The suggestion, followed, is found.
	if _, err := LookupModel(SuggestModel("Qwen/Qwen-3-0.6B")); err != nil {
		t.Fatal(err)
	}
}
