package estimator

// engineConfig holds the serving engines' own defaults that the memory and
// step models depend on. Each value names the code that sets it, so that a
// reader can check it against the engine release.
type engineConfig struct {
	// batchTokens is the most tokens one step schedules: vLLM
	// max_num_batched_tokens, SGLang chunked_prefill_size, TensorRT-LLM
	// max_num_tokens. The activation peak is measured at this size.
	batchTokens int
	// maxSeqs is vLLM's max_num_seqs: its start-up profile run samples that
	// many sequences at once, which sets the activation peak.
	maxSeqs int
	// blockTokens is the KV page; capacities round down to whole pages.
	blockTokens int
	// graphBatch is the largest decode batch per rank replayed from a
	// captured CUDA graph; larger batches launch every kernel from Python.
	graphBatch int
	// prefillGraphTokens is the largest step with prompt tokens replayed
	// from a captured graph; 0 when the engine captures decode-only steps.
	prefillGraphTokens int
}

// engine returns the defaults of the estimator's backend on its GPU for a
// mapping.
func (e *Estimator) engine(m Mapping) engineConfig {
	c := e.engineDefaults(m)
	if t := e.opts.MaxNumBatchedTokens; t > 0 {
		c.batchTokens = t
	}
	return c
}

func (e *Estimator) engineDefaults(m Mapping) engineConfig {
	switch e.opts.Backend {
	case "sglang":
		// SGLang's tp_size is the whole engine, attention-DP ranks included.
		return sglangConfig(e.sys.MemoryMiB, m.N)
	case "trtllm":
		// tensorrt_llm/llmapi/llm_args.py: max_num_tokens 8192,
		// KvCacheConfig.tokens_per_block 32, and CudaGraphConfig's
		// max_batch_size of 128 when none is given
		// (validate_cuda_graph_config). The PyTorch model engine replays
		// graphs for generation-only batches: context steps run eagerly.
		return engineConfig{batchTokens: 8192, maxSeqs: 2048, blockTokens: 32, graphBatch: 128}
	default:
		return vllmConfig(&e.sys)
	}
}

// vllmConfig follows vllm/engine/arg_utils.py EngineArgs.get_batch_defaults
// for the OpenAI server: GPUs with at least 70 GiB other than A100 get
// max_num_batched_tokens 8192 and max_num_seqs 1024, the rest 2048 and 256.
// CacheConfig.block_size is 16 on CUDA, and vllm/config/compilation.py caps
// the captured sizes at min(2·max_num_seqs, 512). The V1 model runner
// picks a graph by the step's scheduled tokens, prompt tokens included, so
// a prefill step of up to 512 tokens replays a graph too.
func vllmConfig(s *System) engineConfig {
	if s.UsableGiB >= 70 && s.Generation != "ampere" {
		return engineConfig{batchTokens: 8192, maxSeqs: 1024, blockTokens: 16, graphBatch: 512, prefillGraphTokens: 512}
	}
	return engineConfig{batchTokens: 2048, maxSeqs: 256, blockTokens: 16, graphBatch: 512, prefillGraphTokens: 512}
}

// sglangConfig follows python/sglang/srt/server_args.py
// _handle_gpu_memory_settings: chunked_prefill_size and cuda_graph_max_bs
// by the GPU's memory (nvidia-smi MiB) and TP; page_size is 1. Its graphs
// are decode batches (the piecewise prefill graph is opt-in), so every
// prefill (extend) step runs eagerly.
func sglangConfig(memMiB, tp int) engineConfig {
	c := engineConfig{blockTokens: 1}
	small := tp < 4
	switch {
	case memMiB < 20*1024:
		c.batchTokens, c.graphBatch = 2048, 8
	case memMiB < 35*1024:
		c.batchTokens, c.graphBatch = 2048, pick(small, 24, 80)
	case memMiB < 60*1024:
		c.batchTokens, c.graphBatch = 4096, pick(small, 32, 160)
	case memMiB < 160*1024:
		c.batchTokens, c.graphBatch = 8192, pick(small, 256, 512)
	default:
		c.batchTokens, c.graphBatch = 16384, 512
	}
	c.maxSeqs = c.graphBatch
	return c
}

func pick(cond bool, a, b int) int {
	if cond {
		return a
	}
	return b
}

// CUDAGraphBatch is the largest decode batch per attention-DP rank that the
// engine replays from a captured CUDA graph for a mapping.
func (e *Estimator) CUDAGraphBatch(m Mapping) (int, error) {
	m, err := e.CheckMapping(m)
	if err != nil {
		return 0, err
	}
	return e.engine(m).graphBatch, nil
}
