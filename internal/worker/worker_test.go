package worker_test

import (
	"bytes"
	"context"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/worker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/mocker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

func serve(t *testing.T, cfg mocker.Config) string {
	t.Helper()
	srv, err := mocker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// The measure verb end to end: engine readiness, KV capacity from the
// simulator's vLLM metrics, the decode sweep, and the result ConfigMap.
func TestMeasureDecodeWritesConfigMap(t *testing.T) {
	url := serve(t, mocker.Config{Model: "m", NumGPUBlocks: 64, BlockSize: 16,
		Timing: mocker.FixedTiming{PrefillTime: 10 * time.Millisecond, DecodeTime: 5 * time.Millisecond}})
	client := fake.NewSimpleClientset()
	env := map[string]string{workerproto.EnvNamespace: "ns", workerproto.EnvDGDRName: "qwen", workerproto.EnvDGDRUID: "uid-1"}
	var out, errOut bytes.Buffer
	term := filepath.Join(t.TempDir(), "termination-log")
	cmd := worker.NewRootCmd(worker.Env{
		Getenv: func(k string) string { return env[k] }, Out: &out, ErrOut: &errOut,
		KubeClient: func() (kubernetes.Interface, error) { return client, nil },
	})
	cmd.SetArgs([]string{"measure", "--phase=decode", "--backend=mocker", "--model=m", "--num-gpus=1",
		"--isl=100", "--osl=10", "--granularity=3", "--engine-url=" + url, "--configmap=qwen-decode-tp1",
		"--label=dgdr.nvidia.com/phase=decode", "--termination-log=" + term})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("measure: %v\n%s", err, errOut.String())
	}
	cm, err := client.CoreV1().ConfigMaps("ns").Get(ctx, "qwen-decode-tp1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o := cm.OwnerReferences; len(o) != 1 || o[0].Name != "qwen" || o[0].UID != "uid-1" || o[0].Kind != "DynamoGraphDeploymentRequest" {
		t.Fatalf("owner %+v", o)
	}
	if cm.Labels["dgdr.nvidia.com/name"] != "qwen" || cm.Labels["dgdr.nvidia.com/phase"] != "decode" {
		t.Fatalf("labels %v", cm.Labels)
	}
	res, err := workerproto.ReadResult(cm)
	if err != nil {
		t.Fatal(err)
	}
	// 64 blocks × 16 = 1024 tokens; 1024 // (100 + 10) = 9 ⇒ [1, 5, 9].
	if res.MaxKVTokens != 1024 || res.KVSource != "metrics" {
		t.Fatalf("KV %d from %q, want 1024 from metrics", res.MaxKVTokens, res.KVSource)
	}
	if len(res.Decode) != 3 || res.Decode[0].Concurrency != 1 || res.Decode[1].Concurrency != 5 || res.Decode[2].Concurrency != 9 {
		t.Fatalf("decode points %+v", res.Decode)
	}
	for _, p := range res.Decode {
		if p.ITLMs < 4 || p.ITLMs > 10 || p.ContextLength != 105 || p.AIPerf.RequestCount.Avg != float64(p.Concurrency) {
			t.Fatalf("point %+v", p)
		}
	}
	b, err := os.ReadFile(term)
	if err != nil || !strings.Contains(string(b), "max_kv_tokens 1024 (metrics); 3 points") {
		t.Fatalf("termination log %q, %v", b, err)
	}
	// A retried pod (a fresh process) updates the same ConfigMap.
	cmd = worker.NewRootCmd(worker.Env{
		Getenv: func(k string) string { return env[k] }, Out: &out, ErrOut: &errOut,
		KubeClient: func() (kubernetes.Interface, error) { return client, nil },
	})
	cmd.SetArgs([]string{"measure", "--phase=decode", "--backend=mocker", "--model=m", "--num-gpus=1",
		"--isl=100", "--osl=10", "--concurrency=2", "--engine-url=" + url, "--configmap=qwen-decode-tp1", "--termination-log="})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("second measure: %v", err)
	}
	cm, _ = client.CoreV1().ConfigMaps("ns").Get(ctx, "qwen-decode-tp1", metav1.GetOptions{})
	if res, err := workerproto.ReadResult(cm); err != nil || len(res.Decode) != 1 || res.Decode[0].Concurrency != 2 {
		t.Fatalf("updated result: %+v, %v", res, err)
	}
}

// DEP prefill: a burst of attn_dp × 4 requests against ranks that take one
// sequence at a time; the §6.4 formula recovers the configured prefill time.
func TestMeasurePrefillDEPFormula(t *testing.T) {
	const prefill = 100 * time.Millisecond
	url := serve(t, mocker.Config{Model: "m", NumGPUBlocks: 1000, AttnDP: 2, MaxNumSeqs: 1,
		Timing: mocker.FixedTiming{PrefillTime: prefill, DecodeTime: 20 * time.Millisecond}})
	task := workerproto.Task{Phase: workerproto.PhasePrefill, Backend: "mocker", Model: "m",
		Mapping: results.Mapping{Kind: "DEP", N: 2}, ISLs: []int{64}, EngineURL: url}
	task.Normalize()
	if err := task.Validate(); err != nil {
		t.Fatal(err)
	}
	r := &worker.Runner{Poll: 10 * time.Millisecond}
	res, err := r.Measure(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Prefill[0]
	if math.Abs(p.TTFTMs-100) > 10 {
		t.Fatalf("DEP TTFT %.1f ms, want 100 ± 10 (max %.1f)", p.TTFTMs, *p.AIPerf.TimeToFirstToken.Max)
	}
	if p.AIPerf.RequestCount.Avg != 8 {
		t.Fatalf("burst of %v requests, want attn_dp × 4 = 8", p.AIPerf.RequestCount.Avg)
	}
	// thpt = isl / ttft / gpus × 1000 × attn_dp
	if want := 64 / p.TTFTMs / 2 * 1000 * 2; math.Abs(p.ThptPerGPU-want) > 1e-9 {
		t.Fatalf("throughput %v, want %v", p.ThptPerGPU, want)
	}
}

// Without metrics the capacity comes from the engine log (§15.7).
func TestKVCapacityFallsBackToLog(t *testing.T) {
	var log bytes.Buffer
	serve(t, mocker.Config{Model: "m", NumGPUBlocks: 100, MaxModelLen: 1600, Log: &log,
		Timing: mocker.FixedTiming{PrefillTime: time.Millisecond, DecodeTime: time.Millisecond}})
	path := filepath.Join(t.TempDir(), "engine.log")
	if err := os.WriteFile(path, log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	task := workerproto.Task{Backend: "vllm", Mapping: results.Mapping{Kind: "TP", N: 1, TP: 1, EP: 1, AttnDP: 1},
		MetricsURL: "http://127.0.0.1:1/metrics", EngineLog: path}
	kv, src, warns := (&worker.Runner{}).KVCapacity(context.Background(), task)
	if kv != 1600 || src != "log" || len(warns) == 0 {
		t.Fatalf("kv %d from %q (warnings %v), want 1600 from the log with a warning about metrics", kv, src, warns)
	}
	task.Backend, task.EngineLog = "trtllm", filepath.Join(t.TempDir(), "missing.log")
	if kv, src, _ := (&worker.Runner{}).KVCapacity(context.Background(), task); kv != worker.TRTLLMDefaultKVTokens || src != "default" {
		t.Fatalf("TRT-LLM default: %d from %q", kv, src)
	}
}

func TestMeasureUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"measure", "--phase=train", "--backend=vllm", "--model=m", "--isl=1"},
		{"measure", "--phase=decode", "--backend=vllm", "--model=m", "--isl=1", "--osl=1"},
		{"measure", "--no-such-flag"},
		{"mocker", "--served-model-name=m", "--prefill-ms=5"},
	} {
		cmd := worker.NewRootCmd(worker.Env{})
		cmd.SetArgs(args)
		err := cmd.Execute()
		var ue *worker.UsageError
		if err == nil || !asUsage(err, &ue) {
			t.Errorf("%v: %v; want a usage error (exit %d)", args, err, workerproto.ExitUsage)
		}
	}
}

func asUsage(err error, ue **worker.UsageError) bool {
	for e := err; e != nil; {
		if u, ok := e.(*worker.UsageError); ok {
			*ue = u
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}
