package worker

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// TRTLLMDefaultKVTokens is the reference profiler's fallback when the
// TRT-LLM log has no KV line (profiler.md §15.7).
const TRTLLMDefaultKVTokens = 100000

// KVFromMetrics reads the engine's KV capacity in tokens over all attention
// DP ranks from its Prometheus metrics. Series with distinct engine/dp_rank
// labels are summed (one per rank); a single unlabelled series is one rank
// and is multiplied by attnDP, as the log rule does.
func KVFromMetrics(backend string, samples []Sample, attnDP int) (int, error) {
	attnDP = max(attnDP, 1)
	perSeries := map[string]float64{}
	rankLabelled := false
	add := func(s Sample, v float64) {
		key := s.Labels["engine"] + "/" + s.Labels["dp_rank"]
		if key != "/" {
			rankLabelled = true
		}
		perSeries[key] = v
	}
	var metric string
	switch backend {
	case workerproto.BackendVLLM, workerproto.BackendMocker:
		metric = "vllm:cache_config_info"
		for _, s := range samples {
			if s.Name != metric {
				continue
			}
			blocks, err1 := strconv.Atoi(s.Labels["num_gpu_blocks"])
			bs, err2 := strconv.Atoi(s.Labels["block_size"])
			if err1 != nil || err2 != nil || blocks <= 0 || bs <= 0 {
				continue // vLLM reports "None" before profiling memory
			}
			add(s, float64(blocks)*float64(bs))
		}
	case workerproto.BackendSGLang:
		metric = "sglang:max_total_num_tokens"
		for _, s := range samples {
			if s.Name == metric && s.Value > 0 {
				add(s, s.Value)
			}
		}
	default:
		return 0, fmt.Errorf("backend %q has no Prometheus KV metric: use vllm, sglang or mocker", backend)
	}
	if len(perSeries) == 0 {
		return 0, fmt.Errorf("metric %s with a positive capacity is not in the engine's /metrics", metric)
	}
	total := 0.0
	for _, v := range perSeries {
		total += v
	}
	if !rankLabelled {
		total *= float64(attnDP)
	}
	if total > math.MaxInt32 {
		return 0, fmt.Errorf("KV capacity %.0f tokens from %s is implausible", total, metric)
	}
	return int(total), nil
}

// KVFromSGLangServerInfo reads max_total_num_tokens from SGLang's
// /get_server_info (per rank; × attnDP).
func KVFromSGLangServerInfo(body []byte, attnDP int) (int, error) {
	var info struct {
		Max *float64 `json:"max_total_num_tokens"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return 0, fmt.Errorf("SGLang /get_server_info is not JSON: %w", err)
	}
	if info.Max == nil || *info.Max <= 0 || *info.Max > math.MaxInt32 {
		return 0, fmt.Errorf("SGLang /get_server_info has no positive max_total_num_tokens")
	}
	return int(*info.Max) * max(attnDP, 1), nil
}

// KVFromTRTLLMStats reads trtllm-serve's /metrics JSON (iteration stats):
// the last entry's kvCacheStats.maxNumBlocks × tokensPerBlock, per rank.
func KVFromTRTLLMStats(body []byte, attnDP int) (int, error) {
	var stats []struct {
		KV *struct {
			MaxNumBlocks   float64 `json:"maxNumBlocks"`
			TokensPerBlock float64 `json:"tokensPerBlock"`
		} `json:"kvCacheStats"`
	}
	if err := json.Unmarshal(body, &stats); err != nil {
		return 0, fmt.Errorf("trtllm-serve /metrics is not a JSON list of iteration stats: %w", err)
	}
	for i := len(stats) - 1; i >= 0; i-- {
		if kv := stats[i].KV; kv != nil && kv.MaxNumBlocks > 0 && kv.TokensPerBlock > 0 {
			t := kv.MaxNumBlocks * kv.TokensPerBlock
			if t > math.MaxInt32 {
				break
			}
			return int(t) * max(attnDP, 1), nil
		}
	}
	return 0, fmt.Errorf("trtllm-serve /metrics has no kvCacheStats with maxNumBlocks and tokensPerBlock (iteration stats appear after the first request)")
}

var (
	sglangTokensRE = regexp.MustCompile(`#tokens:\s*(\d+)`)
	trtllmKVRE     = regexp.MustCompile(`paged KV cache \((\d+)\)`)
	vllmConcRE     = regexp.MustCompile(`^\s*([\d,]+)\s+tokens per request:\s*([0-9.eE+-]+)x`)
)

// KVFromLog applies profiler.md §15.7 to an engine log: the KV capacity in
// tokens over attnDP ranks, and the line the reference logs. On failure it
// returns the reference's fallback (0, or 100000 for TRT-LLM) with an error.
func KVFromLog(backend, log string, attnDP int) (int, string, error) {
	attnDP = max(attnDP, 1)
	lines := strings.Split(log, "\n")
	switch backend {
	case workerproto.BackendVLLM, workerproto.BackendMocker:
		for _, l := range lines {
			_, after, ok := strings.Cut(l, "Maximum concurrency for")
			if !ok {
				continue
			}
			m := vllmConcRE.FindStringSubmatch(after)
			if m == nil {
				continue
			}
			tokens, err1 := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
			x, err2 := strconv.ParseFloat(m[2], 64)
			if err1 != nil || err2 != nil || tokens*x > math.MaxInt32 || tokens*x < 0 {
				continue
			}
			per := int(tokens * x)
			total := per * attnDP
			return total, fmt.Sprintf("Found KV cache: %d per rank x %d = %d total", per, attnDP, total), nil
		}
		return 0, "", fmt.Errorf("no `Maximum concurrency for` line in the vLLM log")
	case workerproto.BackendSGLang:
		for _, l := range lines {
			if !strings.Contains(l, "KV Cache is allocated") || !strings.Contains(l, "#tokens:") {
				continue
			}
			if m := sglangTokensRE.FindStringSubmatch(l); m != nil {
				v, err := strconv.Atoi(m[1])
				if err != nil || v > math.MaxInt32/attnDP {
					continue
				}
				return v * attnDP, fmt.Sprintf("Found KV cache: %d per rank x %d = %d total", v, attnDP, v*attnDP), nil
			}
		}
		return 0, "", fmt.Errorf("no `KV Cache is allocated ... #tokens:` line in the SGLang log")
	case workerproto.BackendTRTLLM:
		found := -1
		for _, l := range lines { // the last match wins (issue #6905)
			if !strings.Contains(l, "Allocated") || !strings.Contains(l, "for max tokens in paged KV cache") {
				continue
			}
			if m := trtllmKVRE.FindStringSubmatch(l); m != nil {
				if v, err := strconv.Atoi(m[1]); err == nil && v <= math.MaxInt32/attnDP {
					found = v
				}
			}
		}
		if found < 0 {
			return TRTLLMDefaultKVTokens, "", fmt.Errorf("Could not find KV cache size in TRT-LLM logs, using default value of %d", TRTLLMDefaultKVTokens)
		}
		return found * attnDP, fmt.Sprintf("Found KV cache: %d per rank x %d = %d total", found, attnDP, found*attnDP), nil
	}
	return 0, "", fmt.Errorf("backend %q is not supported: use vllm, sglang, trtllm or mocker", backend)
}
