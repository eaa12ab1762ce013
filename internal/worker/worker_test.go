package worker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/worker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/mocker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
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

// slowRequest delays the response to the nth measured or warm-up request
// (max_tokens 5; the calibration's have max_tokens 1) by d: one late
// answer, as a busy node or a stalled client gives. It returns the URL and
// the count of such requests.
func slowRequest(t *testing.T, cfg mocker.Config, n int64, d time.Duration) (string, *atomic.Int64) {
	t.Helper()
	srv, err := mocker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(`"max_tokens":5,`)) && seen.Add(1) == n {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
				}
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL, &seen
}

// A prefill point is the median of PrefillSamples requests: one request
// 400 ms late (the second measured one, after 3 warm-ups) leaves the point
// at the engine's 20 ms, where upstream's single request, or the mean,
// would report it.
func TestMeasurePrefillIsTheMedianOfSamples(t *testing.T) {
	url, _ := slowRequest(t, mocker.Config{Model: "m", NumGPUBlocks: 1000,
		Timing: mocker.FixedTiming{PrefillTime: 20 * time.Millisecond, DecodeTime: 5 * time.Millisecond}}, 5, 400*time.Millisecond)
	task := workerproto.Task{Phase: workerproto.PhasePrefill, Backend: "mocker", Model: "m",
		Mapping: results.Mapping{Kind: "TP", N: 1}, ISLs: []int{64}, EngineURL: url}
	task.Normalize()
	res, err := (&worker.Runner{Poll: 10 * time.Millisecond}).Measure(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Prefill[0]
	ttft := p.AIPerf.TimeToFirstToken
	if p.AIPerf.RequestCount.Avg != worker.PrefillSamples || *ttft.Max < 400 || ttft.Avg < 90 {
		t.Fatalf("%v requests, TTFT max %.1f ms, mean %.1f ms: want %d requests, the late one in the export",
			p.AIPerf.RequestCount.Avg, *ttft.Max, ttft.Avg, worker.PrefillSamples)
	}
	if p.TTFTMs < 20 || p.TTFTMs > 60 || p.TTFTMs != *ttft.P50 {
		t.Fatalf("TTFT %.1f ms, want the median %.1f near the engine's 20 ms", p.TTFTMs, *ttft.P50)
	}
}

// DEP prefill: bursts of attn_dp × 4 requests against ranks that take one
// sequence at a time; the §6.4 formula recovers the configured prefill time
// and the median burst drops one whose request came 800 ms late (the 4th
// of the second burst, after 2 × 3 warm-ups and a burst of 8).
func TestMeasurePrefillDEPFormula(t *testing.T) {
	const prefill = 50 * time.Millisecond
	url, sent := slowRequest(t, mocker.Config{Model: "m", NumGPUBlocks: 1000, AttnDP: 2, MaxNumSeqs: 1,
		Timing: mocker.FixedTiming{PrefillTime: prefill, DecodeTime: 10 * time.Millisecond}}, 6+8+4, 800*time.Millisecond)
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
	if math.Abs(p.TTFTMs-50) > 10 {
		t.Fatalf("DEP TTFT %.1f ms, want 50 ± 10 (max %.1f)", p.TTFTMs, *p.AIPerf.TimeToFirstToken.Max)
	}
	if n := sent.Load(); n != 6+8*worker.PrefillSamples {
		t.Fatalf("%d requests sent, want 6 warm-up and %d bursts of 8", n, worker.PrefillSamples)
	}
	if p.AIPerf.RequestCount.Avg != 8 || *p.AIPerf.TimeToFirstToken.Max > 800 {
		t.Fatalf("the point's burst has %v requests (max TTFT %.1f ms), want attn_dp × 4 = 8 and not the late burst",
			p.AIPerf.RequestCount.Avg, *p.AIPerf.TimeToFirstToken.Max)
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

// linearTiming is an engine whose decode step grows with the batch and
// whose prefill grows with the prompt, so that a latency target is crossed
// at a known point.
type linearTiming struct{}

func (linearTiming) Prefill(isl int) (time.Duration, error) {
	return time.Duration(isl) * 100 * time.Microsecond, nil
}
func (linearTiming) Decode(running int, _ float64) (time.Duration, error) {
	return 5*time.Millisecond + time.Duration(running)*5*time.Millisecond, nil
}

// checkProbes replays the frontier search on the points in measurement
// order: every frontier point is the step grid.NextProbe takes from the
// points before it, so the profiler, which replays the same steps, finds
// them; there are at most FrontierPoints of them.
func checkProbes(t *testing.T, xs []int, ys []float64, frontier []bool, target float64, step, floor, ceil, budget int) []grid.Sample {
	t.Helper()
	var s []grid.Sample
	n := 0
	for i := range xs {
		if frontier[i] {
			n++
			want, ok := grid.NextProbe(s, target, step, floor, ceil)
			if !ok || want != xs[i] {
				t.Errorf("frontier point %d at %d: the search's next step from %v is %d (%v)", n, xs[i], s, want, ok)
			}
		}
		s = append(s, grid.Sample{X: xs[i], Y: ys[i]})
	}
	if n == 0 || n > budget {
		t.Errorf("%d frontier points, want 1 to %d", n, budget)
	}
	return s
}

// The SLA frontier search inside a Job: after the coarse sweep, up to three
// more points bisect the measured curve around the target, decode by
// concurrency and prefill by ISL.
func TestMeasureSearchesTheFrontier(t *testing.T) {
	url := serve(t, mocker.Config{Model: "m", NumGPUBlocks: 64, BlockSize: 16, Timing: linearTiming{}})
	r := &worker.Runner{Poll: 10 * time.Millisecond}
	// ITL(n) ≈ 5 + 5n ms: 45 ms at 8 meets 47.5, 50 at 9 misses. The coarse
	// points [1, 5, 9] (1024 KV tokens / 110) bracket it between 5 and 9.
	task := workerproto.Task{Phase: workerproto.PhaseDecode, Backend: "mocker", Model: "m", Mapping: results.Mapping{Kind: "TP", N: 1},
		ISLs: []int{100}, OSL: 10, Granularity: 3, EngineURL: url, Target: 47.5, FrontierPoints: 3}
	task.Normalize()
	if err := task.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := r.Measure(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	var xs []int
	var ys []float64
	var fr []bool
	for _, p := range res.Decode {
		xs, ys, fr = append(xs, p.Concurrency), append(ys, p.ITLMs), append(fr, p.Frontier)
	}
	s := checkProbes(t, xs, ys, fr, 47.5, 1, 1, 9, 3)
	if lo, hi := grid.Bracket(s, 47.5); lo < 7 || lo > 8 || hi != lo+1 {
		t.Errorf("decode frontier bracket [%d, %d] from %v; want 8 and 9 (7 when the busy host slows the engine)", lo, hi, s)
	}

	// TTFT(isl) ≈ isl / 10 ms: the SLA's 200 meets 50 ms, the ceiling 1000
	// misses, then bisection towards 500.
	task = workerproto.Task{Phase: workerproto.PhasePrefill, Backend: "mocker", Model: "m", Mapping: results.Mapping{Kind: "TP", N: 1},
		ISLs: []int{200}, EngineURL: url, Target: 50, FrontierPoints: 3, MaxISL: 1000}
	task.Normalize()
	res, err = r.Measure(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	xs, ys, fr = nil, nil, nil
	for _, p := range res.Prefill {
		xs, ys, fr = append(xs, p.ISL), append(ys, p.TTFTMs), append(fr, p.Frontier)
	}
	s = checkProbes(t, xs, ys, fr, 50, 1, 100, 1000, 3)
	if len(s) != 4 || xs[1] != 1000 {
		t.Errorf("prefill points %v: want the SLA ISL, the ceiling 1000, then two bisection steps", xs)
	}
	if lo, hi := grid.Bracket(s, 50); lo < 200 || hi > 1000 || lo >= hi {
		t.Errorf("prefill bracket [%d, %d] from %v", lo, hi, s)
	}
}

// The plugin creates the result ConfigMap empty and the worker may only get
// and update it (its Role names it; create is refused): the result goes in
// by update, keeping the plugin's owner, and a rank > 0 waits for the
// result, not for the ConfigMap to exist.
func TestSinkFillsThePluginsConfigMap(t *testing.T) {
	owner := metav1.OwnerReference{APIVersion: "nvidia.com/v1alpha1", Kind: "DynamoGraphDeploymentRequest", Name: "qwen", UID: "uid-1", Controller: ptr.To(true)}
	client := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "qwen-prefill-tp1", Namespace: "ns",
		Labels: map[string]string{"dgdr.nvidia.com/mapping": "TP1"}, OwnerReferences: []metav1.OwnerReference{owner}}})
	client.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), "", errors.New("the worker's Role allows get and update only"))
	})
	sink := &worker.ConfigMapSink{Client: client, Namespace: "ns", Name: "qwen-prefill-tp1", DGDRName: "qwen", DGDRUID: "uid-1",
		Labels: map[string]string{"dgdr.nvidia.com/phase": "prefill"}}
	ctx := context.Background()
	early, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := sink.WaitResult(early, 10*time.Millisecond); err == nil {
		t.Fatal("WaitResult returned for an empty ConfigMap: a rank > 0 would end before rank 0 measured")
	}
	if err := sink.Write(ctx, &workerproto.Result{SchemaVersion: workerproto.ResultSchema, Phase: workerproto.PhasePrefill}); err != nil {
		t.Fatalf("writing into the plugin's ConfigMap: %v", err)
	}
	cm, err := client.CoreV1().ConfigMaps("ns").Get(ctx, "qwen-prefill-tp1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := workerproto.ReadResult(cm); err != nil || !reflect.DeepEqual(cm.OwnerReferences, []metav1.OwnerReference{owner}) ||
		cm.Labels["dgdr.nvidia.com/mapping"] != "TP1" || cm.Labels["dgdr.nvidia.com/phase"] != "prefill" {
		t.Fatalf("result %v, owner %+v, labels %v: want the result, the plugin's owner and both labels", err, cm.OwnerReferences, cm.Labels)
	}
	if err := sink.WaitResult(ctx, 10*time.Millisecond); err != nil {
		t.Fatalf("WaitResult after the write: %v", err)
	}
}
