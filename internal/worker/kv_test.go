package worker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/loadgen"
)

func TestKVFromLog(t *testing.T) {
	cases := []struct {
		name, backend, log string
		dp, want           int
		wantErr            bool
	}{
		{"vllm", "vllm", "INFO 05-01 [kv_cache_utils.py:716] GPU KV cache size: 643,888 tokens\nINFO 05-01 [kv_cache_utils.py:720] Maximum concurrency for 40,960 tokens per request: 15.72x\n", 1, 643891, false},
		{"vllm dp", "vllm", "(EngineCore_DP0) Maximum concurrency for 4,096 tokens per request: 2.50x\n(EngineCore_DP1) Maximum concurrency for 4,096 tokens per request: 9.00x", 4, 40960, false},
		{"vllm none", "vllm", "nothing here", 1, 0, true},
		{"vllm garbage", "vllm", "Maximum concurrency for lots tokens per request: ax", 1, 0, true},
		{"sglang", "sglang", "[2025] KV Cache is allocated. #tokens: 1018530, K size: 3.35 GB\n", 2, 2037060, false},
		{"sglang no tokens", "sglang", "KV Cache is allocated. K size: 3 GB", 1, 0, true},
		{"trtllm last wins", "trtllm", "[TRT-LLM] Allocated 2.00 GiB for max tokens in paged KV cache (1000).\n[TRT-LLM] Allocated 40.00 GiB for max tokens in paged KV cache (262144).\n", 1, 262144, false},
		{"trtllm dp", "trtllm", "Allocated 1 GiB for max tokens in paged KV cache (1000).", 4, 4000, false},
		{"trtllm default", "trtllm", "no kv line", 2, TRTLLMDefaultKVTokens, true},
		{"unknown", "tgi", "x", 1, 0, true},
	}
	for _, c := range cases {
		got, line, err := KVFromLog(c.backend, c.log, c.dp)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%s: KVFromLog = %d, %v; want %d, error %v", c.name, got, err, c.want, c.wantErr)
		}
		if err == nil && !strings.HasPrefix(line, "Found KV cache:") {
			t.Errorf("%s: log line %q", c.name, line)
		}
	}
	// The reference logs per rank x dp = total (§15.7).
	if _, line, _ := KVFromLog("vllm", "Maximum concurrency for 4,096 tokens per request: 2.50x", 4); line != "Found KV cache: 10240 per rank x 4 = 40960 total" {
		t.Errorf("log line %q", line)
	}
}

const vllmMetrics = `# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="0",num_gpu_blocks="2048"} 1.0
vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="1",num_gpu_blocks="2048"} 1.0
vllm:num_requests_running{engine="0",model_name="m"} 3.0
`

func TestMetricsParsing(t *testing.T) {
	// Odd lines of other metrics do not hide the one we read; escapes and
	// timestamps in its own samples are expfmt's to handle.
	page := vllmMetrics + "bad line without value\nx{a=\"unterminated} 1\n" +
		`vllm:cache_config_info{block_size="16",engine="2",note="q\"uote\nx",num_gpu_blocks="1024"} 1 1700000000` + "\n"
	kv, err := KVFromMetrics("vllm", []byte(page), 2)
	if err != nil || kv != 2*2048*16+1024*16 {
		t.Fatalf("vllm per-engine series must be summed: %d, %v", kv, err)
	}
	// A broken sample of the metric itself is an error that names it.
	broken := vllmMetrics + `vllm:cache_config_info{block_size="16",engine="2"` + "\n"
	if _, err := KVFromMetrics("vllm", []byte(broken), 1); err == nil || !strings.Contains(err.Error(), "vllm:cache_config_info") {
		t.Fatalf("broken sample: %v", err)
	}
	// One unlabelled series is one rank: × attn_dp, like the log rule.
	one := []byte(`vllm:cache_config_info{block_size="32",num_gpu_blocks="100"} 1` + "\n")
	if kv, err := KVFromMetrics("mocker", one, 4); err != nil || kv != 12800 {
		t.Fatalf("unlabelled: %d, %v", kv, err)
	}
	// vLLM reports "None" blocks before memory profiling.
	none := []byte(`vllm:cache_config_info{block_size="16",num_gpu_blocks="None"} 1` + "\n")
	if _, err := KVFromMetrics("vllm", none, 1); err == nil || !strings.Contains(err.Error(), "vllm:cache_config_info") {
		t.Fatalf("None blocks: %v", err)
	}
	sg := []byte("# TYPE sglang:max_total_num_tokens gauge\nsglang:max_total_num_tokens{model_name=\"m\"} 500000\n")
	if kv, err := KVFromMetrics("sglang", sg, 2); err != nil || kv != 1000000 {
		t.Fatalf("sglang: %d, %v", kv, err)
	}
	if _, err := KVFromMetrics("sglang", []byte(vllmMetrics), 1); err == nil || !strings.Contains(err.Error(), "sglang:max_total_num_tokens") {
		t.Fatalf("a page without the metric: %v", err)
	}
	if _, err := KVFromMetrics("trtllm", sg, 1); err == nil {
		t.Fatal("trtllm has no Prometheus KV metric")
	}
	if kv, err := KVFromSGLangServerInfo([]byte(`{"max_total_num_tokens": 1234, "x": 1}`), 2); err != nil || kv != 2468 {
		t.Fatalf("server info: %d, %v", kv, err)
	}
	stats := `[{"kvCacheStats":{"maxNumBlocks":10,"tokensPerBlock":32}},{"kvCacheStats":{"maxNumBlocks":8192,"tokensPerBlock":32}}]`
	if kv, err := KVFromTRTLLMStats([]byte(stats), 1); err != nil || kv != 262144 {
		t.Fatalf("trtllm stats: %d, %v", kv, err)
	}
	if _, err := KVFromTRTLLMStats([]byte(`[]`), 1); err == nil {
		t.Fatal("empty stats must fail")
	}
}

func TestPrefillTTFTFormula(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	e := loadgen.Export{TimeToFirstToken: &loadgen.Stat{Avg: 140, P50: f(50), Max: f(500)}, InterTokenLatency: &loadgen.Stat{Avg: 10}}
	if v, err := PrefillTTFT(e, 1); err != nil || v != 50 {
		t.Fatalf("attn_dp 1 uses the median of the requests: %v, %v", v, err)
	}
	// (500 − 10 × 4 × 3) / 4 = 95
	if v, err := PrefillTTFT(e, 8); err != nil || v != 95 {
		t.Fatalf("DEP burst formula: %v, %v, want 95", v, err)
	}
	for _, c := range []struct {
		e    loadgen.Export
		dp   int
		want string
	}{
		{loadgen.Export{}, 1, "Failed to extract TTFT from AIPerf result"},
		{loadgen.Export{TimeToFirstToken: &loadgen.Stat{Avg: 50}}, 8, "Failed to extract max TTFT from AIPerf result for DEP prefill"},
		{loadgen.Export{TimeToFirstToken: &loadgen.Stat{Max: f(100)}, InterTokenLatency: &loadgen.Stat{Avg: 10}}, 8, "the burst formula gives -5.00 ms"},
	} {
		if _, err := PrefillTTFT(c.e, c.dp); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PrefillTTFT(%+v, %d): %v, want %q", c.e, c.dp, err, c.want)
		}
	}
}

func FuzzParsers(f *testing.F) {
	f.Add(vllmMetrics, "Maximum concurrency for 4,096 tokens per request: 2.50x")
	f.Add(`a{b="c\"} 1`, "KV Cache is allocated #tokens: 99999999999999999999")
	f.Add("{}", "Allocated for max tokens in paged KV cache (1)")
	f.Fuzz(func(t *testing.T, metrics, log string) {
		for _, b := range []string{"vllm", "sglang", "mocker"} {
			if kv, err := KVFromMetrics(b, []byte(metrics), 3); err == nil && kv < 0 {
				t.Fatalf("negative capacity %d", kv)
			}
			if kv, _, err := KVFromLog(b, log, 3); err == nil && kv < 0 {
				t.Fatalf("negative capacity %d from log", kv)
			}
		}
		_, _, _ = KVFromLog("trtllm", log, 3)
		_, _ = KVFromTRTLLMStats([]byte(metrics), 2)
		_, _ = KVFromSGLangServerInfo([]byte(metrics), 2)
	})
}

func TestClientBoundWarning(t *testing.T) {
	export := func(c float64) loadgen.Export {
		return loadgen.Export{EffectiveConcurrency: loadgen.Scalar("requests", c)}
	}
	cases := []struct {
		n    int
		e    loadgen.Export
		warn bool
	}{
		{64, export(64), false},
		{64, export(49), false}, // within ClientBoundRatio
		{64, export(40), true},
		{2000, export(230), true},
		{2, export(1), false},         // too few requests to judge
		{64, loadgen.Export{}, false}, // no tokens, nothing to judge
	}
	for _, c := range cases {
		w := clientBound(1000, c.n, c.e)
		if (w != "") != c.warn {
			t.Errorf("concurrency %d, effective %+v: warning %q, want one: %v", c.n, c.e.EffectiveConcurrency, w, c.warn)
		}
		if c.warn && (!strings.Contains(w, fmt.Sprintf("concurrency %d:", c.n)) || !strings.Contains(w, "load generator")) {
			t.Errorf("warning %q does not name the concurrency and the cause", w)
		}
	}
}
