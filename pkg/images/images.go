// Package images is the one place that names Dynamo's runtime images: the
// NGC repository of each backend and the tag used when a request names none.
package images

// Registry is Dynamo's NGC registry path.
const Registry = "nvcr.io/nvidia/ai-dynamo"

// DefaultTag is the Dynamo release the examples, the admission messages and
// every generated default use.
const DefaultTag = "0.6.1"

// runtimes are NGC's names of the backend runtime images. TensorRT-LLM's is
// tensorrtllm-runtime; trtllm-runtime, in some upstream docs, does not exist
// on NGC (LegacyNames keeps it recognisable).
var runtimes = map[string]string{
	"vllm":   "vllm-runtime",
	"sglang": "sglang-runtime",
	"trtllm": "tensorrtllm-runtime",
}

// LegacyNames are runtime image names seen in upstream documentation that
// still say which backend is meant.
var LegacyNames = map[string]string{"trtllm-runtime": "trtllm"}

// Name is the runtime image name of a backend (vllm-runtime), "" for an
// unknown backend.
func Name(backend string) string { return runtimes[backend] }

// Repository is the runtime image of a backend without a tag
// (nvcr.io/nvidia/ai-dynamo/vllm-runtime), "" for an unknown backend.
func Repository(backend string) string {
	if n := Name(backend); n != "" {
		return Registry + "/" + n
	}
	return ""
}

// Runtime is the runtime image of a backend at DefaultTag, "" for an
// unknown backend.
func Runtime(backend string) string {
	if r := Repository(backend); r != "" {
		return r + ":" + DefaultTag
	}
	return ""
}

// BackendOf names the backend whose runtime image is called name (the last
// path element without the tag), or "".
func BackendOf(name string) string {
	for b, n := range runtimes {
		if n == name {
			return b
		}
	}
	return LegacyNames[name]
}
