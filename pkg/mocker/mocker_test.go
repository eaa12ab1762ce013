package mocker

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

func newTest(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Timing == nil {
		cfg.Timing = FixedTiming{PrefillTime: time.Millisecond, DecodeTime: time.Millisecond}
	}
	if cfg.Model == "" {
		cfg.Model = "m"
	}
	if cfg.NumGPUBlocks == 0 {
		cfg.NumGPUBlocks = 100
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	s, url := newTest(t, Config{AttnDP: 2, BlockSize: 16, NumGPUBlocks: 50})
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != "m" {
		t.Fatalf("models %+v", models)
	}
	// Non-streaming completions: usage counts words + BOS.
	code, body := post(t, url+"/v1/completions", `{"model":"m","prompt":"a b c","max_tokens":3}`)
	if code != 200 || !strings.Contains(body, `"prompt_tokens":4`) || !strings.Contains(body, `"completion_tokens":3`) {
		t.Fatalf("completions: %d %s", code, body)
	}
	// Streaming chat: one chunk per token, usage and [DONE] at the end.
	code, body = post(t, url+"/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"text","text":"x y"}]}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}`)
	if code != 200 || strings.Count(body, `"content":" x"`) != 4 || !strings.Contains(body, `"prompt_tokens":9`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("chat stream: %d %s", code, body)
	}
	resp, err = http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="False",engine="1",num_gpu_blocks="50"} 1.0`,
		`vllm:num_requests_running{engine="0",model_name="m"} 0.0`,
		`vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0`,
		`vllm:generation_tokens_total{engine="0",model_name="m"} 7.0`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, m)
		}
	}
	if st := s.Stats(); st.Success != 2 || st.FreeBlocks != 100 {
		t.Fatalf("stats %+v: want 2 successes and every block free", st)
	}
}

func TestRequestErrors(t *testing.T) {
	_, url := newTest(t, Config{NumGPUBlocks: 2, BlockSize: 16})
	for body, want := range map[string]string{
		`{"model":"other","messages":[{"role":"user","content":"x"}]}`: "does not exist",
		`{"messages":[]}`: "messages is empty",
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`:                "max_tokens 0",
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":100}`:              "KV blocks",
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":2,"min_tokens":3}`: "min_tokens 3",
		`{`: "not a valid request",
		`{"messages":[{"role":"user","content":5}]}`: "content",
	} {
		code, got := post(t, url+"/v1/chat/completions", body)
		if code < 400 || !strings.Contains(got, want) {
			t.Errorf("%s: %d %s; want an error containing %q", body, code, got, want)
		}
	}
}

func TestStartupAndConfig(t *testing.T) {
	var log bytes.Buffer
	_, url := newTest(t, Config{StartupDelay: time.Hour, NumGPUBlocks: 10, MaxModelLen: 80, Log: &log})
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health during start-up: %d", resp.StatusCode)
	}
	if !strings.Contains(log.String(), "Maximum concurrency for 80 tokens per request: 2.00x") {
		t.Fatalf("start-up log: %s", log.String())
	}
	for _, c := range []Config{{}, {Model: "m"}, {Model: "m", NumGPUBlocks: 1}, {Model: "m", NumGPUBlocks: 1, Timing: FixedTiming{}, TimeScale: -1}} {
		if _, err := New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestEstimatorTiming(t *testing.T) {
	md, err := estimator.LookupModel("Qwen/Qwen3-0.6B")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := estimator.LookupSystem("h100_sxm")
	if err != nil {
		t.Fatal(err)
	}
	e, err := estimator.New(md, sys, estimator.Options{Backend: "vllm"})
	if err != nil {
		t.Fatal(err)
	}
	m := estimator.Mapping{Kind: "TP", N: 1, TP: 1, EP: 1, AttnDP: 1}
	tm, err := NewEstimatorTiming(e, m)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := tm.Prefill(3000)
	want, _ := e.PrefillTTFT(m, 3000)
	if err != nil || pf != ms(want) {
		t.Fatalf("prefill %v, want the estimator's %v ms", pf, want)
	}
	d1, _ := tm.Decode(1, 3000)
	d64, _ := tm.Decode(64, 3000)
	if d1 <= 0 || d64 <= d1 {
		t.Fatalf("decode step must grow with the batch: %v at 1, %v at 64", d1, d64)
	}
	if _, err := NewEstimatorTiming(e, estimator.Mapping{Kind: "XX", N: 1}); err == nil {
		t.Fatal("bad mapping accepted")
	}
}
