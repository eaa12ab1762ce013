package mocker

import (
	"fmt"
	"net/http"
	"strings"
)

// metrics writes vLLM's Prometheus metrics for the KV cache and the
// scheduler, one series per attention-DP rank (label engine, as vLLM's DP
// front end does), so the measure container reads the mocker like vLLM.
func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	type rankStat struct {
		running, waiting, free int
	}
	s.mu.Lock()
	stats := make([]rankStat, len(s.ranks))
	for i, r := range s.ranks {
		stats[i] = rankStat{r.running, len(r.waiting), r.freeBlocks}
	}
	prompt, gen, success := s.prompt, s.gen, s.success
	s.mu.Unlock()

	var b strings.Builder
	model := s.cfg.Model
	family := func(name, typ, help string, value func(i int) string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for i := range stats {
			fmt.Fprintf(&b, "%s{engine=\"%d\",model_name=%q} %s\n", name, i, model, value(i))
		}
	}
	fmt.Fprintf(&b, "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\n")
	for i := range stats {
		fmt.Fprintf(&b, "vllm:cache_config_info{block_size=\"%d\",cache_dtype=\"auto\",enable_prefix_caching=\"False\",engine=\"%d\",num_gpu_blocks=\"%d\"} 1.0\n",
			s.cfg.BlockSize, i, s.cfg.NumGPUBlocks)
	}
	family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", func(i int) string {
		return fmt.Sprintf("%d.0", stats[i].running)
	})
	family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", func(i int) string {
		return fmt.Sprintf("%d.0", stats[i].waiting)
	})
	usage := func(i int) string {
		return fmt.Sprintf("%g", 1-float64(stats[i].free)/float64(s.cfg.NumGPUBlocks))
	}
	family("vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.", usage)
	family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", usage)
	// Totals are engine-wide; report them on engine 0.
	total := func(v int64) func(int) string {
		return func(i int) string {
			if i == 0 {
				return fmt.Sprintf("%d.0", v)
			}
			return "0.0"
		}
	}
	family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", total(prompt))
	family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", total(gen))
	family("vllm:request_success_total", "counter", "Count of successfully processed requests.", total(success))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
