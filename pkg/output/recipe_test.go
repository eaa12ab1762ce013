package output

import (
	"slices"
	"strings"
	"testing"
)

const recipeCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: llama-recipe
data:
  disagg.yaml: |
    apiVersion: nvidia.com/v1alpha1
    kind: DynamoGraphDeployment
    metadata: {name: recipe}
    spec:
      services:
        prefill-engine:
          componentType: worker
          subComponentType: prefill
          extraPodSpec:
            mainContainer:
              args: [--model, other/model, --is-prefill-worker, --tensor-parallel-size, "8", --max-num-batched-tokens, "8192"]
        VllmDecodeWorker:
          componentType: worker
          extraPodSpec:
            mainContainer:
              args: [--model=other/model, --is-decode-worker, --block-size, "32", --kv-transfer-config, "{}"]
`

func TestParseRecipe(t *testing.T) {
	r, err := ParseRecipe([]byte(recipeCM), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.WorkerArgs("prefill"); !slices.Contains(got, "--max-num-batched-tokens") {
		t.Errorf("prefill args (by subComponentType) = %q", got)
	}
	if got := r.WorkerArgs("decode"); !slices.Contains(got, "--block-size") {
		t.Errorf("decode args (by service name) = %q", got)
	}
	if _, err := ParseRecipe([]byte(recipeCM), "other.yaml"); err == nil || !strings.Contains(err.Error(), "key other.yaml not found in ConfigMap llama-recipe") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := ParseRecipe([]byte("kind: Pod\n"), ""); err == nil {
		t.Error("a Pod is not a recipe")
	}
}

// The online engines keep the recipe's engine flags and drop the wrapper's
// and those the profiler sets.
func TestEngineArgs(t *testing.T) {
	got := EngineArgs([]string{"--model", "m", "--is-prefill-worker", "--tensor-parallel-size=8", "--max-num-batched-tokens", "8192",
		"--kv-transfer-config", "{}", "--enforce-eager", "--gpu-memory-utilization=0.9"})
	want := []string{"--max-num-batched-tokens", "8192", "--enforce-eager", "--gpu-memory-utilization=0.9"}
	if !slices.Equal(got, want) {
		t.Errorf("EngineArgs = %q, want %q", got, want)
	}
}

// The generated DGD keeps the recipe's worker flags, with the profiled
// model and parallelism.
func TestGenerateDGDWithRecipe(t *testing.T) {
	r, err := ParseRecipe([]byte(recipeCM), "disagg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := typicalInputs("vllm", "")
	in.Recipe = r
	d, err := GenerateDGD(typicalResults("vllm", mapping("TP", 2), mapping("TP", 1)), in)
	if err != nil {
		t.Fatal(err)
	}
	pre := mainContainer(t, d.Spec.Services["VllmPrefillWorker"]).Args
	if !slices.Equal(pre, []string{"--model", "Qwen/Qwen3-0.6B", "--is-prefill-worker", "--tensor-parallel-size", "2", "--max-num-batched-tokens", "8192"}) {
		t.Errorf("prefill args = %q", pre)
	}
	dec := mainContainer(t, d.Spec.Services["VllmDecodeWorker"]).Args
	if !slices.Equal(dec, []string{"--is-decode-worker", "--block-size", "32", "--kv-transfer-config", "{}", "--model", "Qwen/Qwen3-0.6B", "--tensor-parallel-size", "1"}) {
		t.Errorf("decode args = %q", dec)
	}
}
