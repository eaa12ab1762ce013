package online

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// TestBenchParallelVsSequential times an online profile of
// examples/vllm-dense-online.yaml on the simulator with 16 fake GPUs,
// parallel against MaxParallel=1 (figures in BENCH.md). It takes minutes:
// run with ONLINE_BENCH=1.
func TestBenchParallelVsSequential(t *testing.T) {
	if os.Getenv("ONLINE_BENCH") == "" {
		t.Skip("set ONLINE_BENCH=1 to run the parallel/sequential benchmark")
	}
	needEnv(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", "vllm-dense-online.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ex v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	var c struct {
		SLA      profileconfig.SLA `json:"sla"`
		Hardware struct {
			Min int `json:"min_num_gpus_per_engine"`
			Max int `json:"max_num_gpus_per_engine"`
		} `json:"hardware"`
	}
	if err := json.Unmarshal(ex.Spec.ProfilingConfig.Config.Raw, &c); err != nil {
		t.Fatal(err)
	}
	// The example's SLA and GPU range; smaller grids than the defaults
	// (context 8192, granularity 4/2) keep the sequential run in minutes.
	pc := profileCase{sla: c.SLA, minGPUs: c.Hardware.Min, maxGPUs: c.Hardware.Max, maxCtx: 8192, gp: 4, gd: 2}
	cfg, _ := pc.config(t)
	times := map[int]time.Duration{}
	for _, par := range []int{0, 1} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		d := ex.DeepCopy()
		d.Name, d.Namespace = "bench-par"+strconv.Itoa(par), "default"
		if err := e2e.crc.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		tmpl := mockerTemplate()
		tmpl.Mocker.NumGPUBlocks = 0 // the estimator's KV cache, as BENCH.md was measured
		if v, err := strconv.ParseFloat(os.Getenv("ONLINE_BENCH_TIMESCALE"), 64); err == nil && v > 0 {
			tmpl.Mocker.TimeScale = v // 1: real time, so that waiting on the engines dominates
		}
		// A real engine spends its first minutes loading weights and capturing
		// CUDA graphs; ONLINE_BENCH_ENGINE_STARTUP (e.g. 20s) models that.
		if v, err := time.ParseDuration(os.Getenv("ONLINE_BENCH_ENGINE_STARTUP")); err == nil && v > 0 {
			tmpl.EngineArgs = append(tmpl.EngineArgs, "--startup-delay="+v.String())
		}
		m := newMeasurer(t, d, tmpl, par, &events{})
		m.opts.Logf = nil
		start := time.Now()
		r, err := (&profilerRun{m}).run(ctx, cfg)
		times[par] = time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("max-parallel %d: %v", par, err)
		}
		t.Logf("max-parallel %d: %v, %d Jobs, prefill %s decode %s", par, times[par], m.Stats().Created,
			r.Selection.Prefill.Mapping.Label(), r.Selection.Decode.Mapping.Label())
		deleteAndCheckNoOrphans(t, d)
	}
	ratio := float64(times[0]) / float64(times[1])
	t.Logf("parallel %v, sequential %v, ratio %.2f", times[0], times[1], ratio)
	if ratio > 1.0/3 {
		t.Errorf("parallel/sequential = %.2f, target <= 1/3", ratio)
	}
}
