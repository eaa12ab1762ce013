package images

import "testing"

func TestNames(t *testing.T) {
	for backend, want := range map[string]string{
		"vllm":   "nvcr.io/nvidia/ai-dynamo/vllm-runtime:" + DefaultTag,
		"sglang": "nvcr.io/nvidia/ai-dynamo/sglang-runtime:" + DefaultTag,
		"trtllm": "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:" + DefaultTag,
		"auto":   "",
	} {
		if got := Runtime(backend); got != want {
			t.Errorf("Runtime(%q) = %q, want %q", backend, got, want)
		}
		if want != "" && BackendOf(Name(backend)) != backend {
			t.Errorf("BackendOf(Name(%q)) = %q", backend, BackendOf(Name(backend)))
		}
	}
	if BackendOf("trtllm-runtime") != "trtllm" || BackendOf("dynamo-frontend") != "" {
		t.Error("the legacy trtllm-runtime name must name TensorRT-LLM, and the frontend no backend")
	}
}
