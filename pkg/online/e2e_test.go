package online

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

const testModel = "Qwen/Qwen3-0.6B"

// createDGDR creates a DGDR and returns it with its UID.
func createDGDR(t testing.TB, name string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	d := &v1alpha1.DynamoGraphDeploymentRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{
			Model: testModel, Backend: "vllm",
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{ProfilerImage: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1",
				Config: &apiextensionsv1.JSON{Raw: []byte(`{"sweep":{"use_ai_configurator":false}}`)}},
		},
	}
	if err := e2e.crc.Create(context.Background(), d); err != nil {
		t.Fatalf("creating DGDR %s: %v", name, err)
	}
	return d
}

type profileCase struct {
	sla              profileconfig.SLA
	minGPUs, maxGPUs int
	maxCtx, gp, gd   int
	model            string // the estimator's model ("": testModel)
}

// smallCase keeps the e2e short: TP1/TP2/TP4, a 4k context, small grids.
var smallCase = profileCase{sla: profileconfig.SLA{ISL: 1000, OSL: 100, TTFT: 50, ITL: 10},
	minGPUs: 1, maxGPUs: 4, maxCtx: 4096, gp: 4, gd: 2}

func (pc profileCase) config(t testing.TB) (profiler.Config, *estimator.Estimator) {
	t.Helper()
	md, err := estimator.LookupModel(cmp.Or(pc.model, testModel))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := estimator.LookupSystem("h100_sxm")
	if err != nil {
		t.Fatal(err)
	}
	est, err := estimator.New(md, sys, estimator.Options{Backend: "vllm", GPUsPerNode: 8})
	if err != nil {
		t.Fatal(err)
	}
	info, err := profiler.ModelInfoFrom(est)
	if err != nil {
		t.Fatal(err)
	}
	return profiler.Config{
		Model: info, Hardware: profiler.Hardware{System: sys.Name, GPUsPerNode: 8, VRAMMiB: 81559},
		Space: profiler.SearchSpace{MinGPUs: pc.minGPUs, MaxGPUs: pc.maxGPUs, GPUsPerNode: 8},
		SLA:   pc.sla, MaxContextLength: pc.maxCtx, PrefillGranularity: pc.gp, DecodeGranularity: pc.gd,
	}, est
}

// testKVBlocks caps the mocker's KV cache at 70,400 tokens: 64 sequences
// of smallCase's 1,100 tokens. The estimator's capacity (552 at TP=1,
// 2,000 at TP=4) is more streams than a busy 2-core host can drive at
// 4× speed; the load generator then falls behind and measures smaller
// batches than asked.
const testKVBlocks = 4400

func mockerTemplate() jobs.Spec {
	return jobs.Spec{
		Backend: jobs.BackendMocker, WorkerImage: "ghcr.io/kubectl-dgdr/dgdr-worker:test", GPUsPerNode: 8,
		Mocker: jobs.MockerSpec{EstimatorModel: testModel, System: "h100_sxm", Backend: "vllm", TimeScale: 0.25,
			NumGPUBlocks: testKVBlocks},
		ReadyTimeout: time.Minute, ActiveDeadlineSeconds: 600,
	}
}

// events records the progress callback.
type events struct {
	mu  sync.Mutex
	all []JobEvent
}

func (e *events) add(ev JobEvent) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) count(s State) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.State == s {
			n++
		}
	}
	return n
}

func newMeasurer(t testing.TB, d *v1alpha1.DynamoGraphDeploymentRequest, tmpl jobs.Spec, maxPar int, ev *events) *Measurer {
	t.Helper()
	m, err := New(Options{Client: e2e.env.Client, DGDR: d, Template: tmpl, MaxParallel: maxPar,
		Poll: 200 * time.Millisecond, EnginePort: freePort, EngineRestartLimit: 1, OnJob: ev.add, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// kvCapped is the simulation with the mocker's KV cache, so that both
// sweep the same concurrencies.
type kvCapped struct {
	*profiler.Simulation
	tokens int
}

func (k kvCapped) MaxKVTokens(ctx context.Context, m results.Mapping) (int, error) {
	kv, err := k.Simulation.MaxKVTokens(ctx, m)
	return min(kv, k.tokens*max(m.AttnDP, 1)), err
}

// gpuStep is how many GPU-count steps apart two mappings are.
func gpuStep(counts []int, a, b results.Mapping) int {
	i, j := slices.Index(counts, a.N), slices.Index(counts, b.N)
	if i > j {
		i, j = j, i
	}
	return j - i
}

// Bounds of an online profile on the mocker against the simulation of the
// same engine. The mocker never runs faster than the estimator, so each
// point is bounded on that side; on the slow side a busy 2-core host makes
// single points late (a client-bound load generator, HTTP), so the median
// is bounded there: a uniformly slow measurer still fails (the mocker's
// 4× time scale left in fails both medians). TTFT's bound is the looser:
// the host adds a few real milliseconds to a 3.4–4.4 ms estimate (each
// point is already the median of worker.PrefillSamples requests).
const (
	maxThptOverSim = 1.1 // per decode point
	minThptMedian  = 0.5 // median of measured / simulated decode throughput
	minTTFTOverEst = 0.9 // per prefill point
	maxTTFTMedian  = 3.5 // median of measured / estimated prefill TTFT
)

// simulationGap lists how online's decode throughput and prefill TTFT
// stray from the simulation sim and the estimator est.
func simulationGap(t testing.TB, online, sim *results.Results, est *estimator.Estimator) []string {
	t.Helper()
	var gaps []string
	simDecode := map[string]results.DecodePoint{}
	for _, p := range sim.Decode {
		simDecode[fmt.Sprintf("%s/%d", p.Mapping.Label(), p.Concurrency)] = p
	}
	var thpt, ttft []float64
	for _, p := range online.Decode {
		sp, ok := simDecode[fmt.Sprintf("%s/%d", p.Mapping.Label(), p.Concurrency)]
		if !ok || !(p.ThptPerGPU <= maxThptOverSim*sp.ThptPerGPU) {
			gaps = append(gaps, fmt.Sprintf("decode %s concurrency %d: %.0f tokens/s/GPU exceeds %.1f × the simulation's %.0f (found: %v)",
				p.Mapping.Label(), p.Concurrency, p.ThptPerGPU, maxThptOverSim, sp.ThptPerGPU, ok))
			continue
		}
		thpt = append(thpt, p.ThptPerGPU/sp.ThptPerGPU)
	}
	for _, p := range online.Prefill {
		want, err := est.PrefillTTFT(estimator.Mapping{Kind: p.Mapping.Kind, N: p.Mapping.N, TP: p.Mapping.TP, EP: p.Mapping.EP, AttnDP: p.Mapping.AttnDP}, p.ISL)
		if err != nil {
			t.Fatal(err)
		}
		if !(p.TTFTMs >= minTTFTOverEst*want) {
			gaps = append(gaps, fmt.Sprintf("%s TTFT %.2f ms is below %.1f × the estimator's %.2f ms: is --time-scale undone?", p.Mapping.Label(), p.TTFTMs, minTTFTOverEst, want))
			continue
		}
		t.Logf("prefill %s ISL %d: TTFT %.2f ms (estimator %.2f ms)", p.Mapping.Label(), p.ISL, p.TTFTMs, want)
		ttft = append(ttft, p.TTFTMs/want)
	}
	t.Logf("medians: decode throughput %.2f × the simulation's, prefill TTFT %.2f × the estimator's", median(thpt), median(ttft))
	if m := median(thpt); !(m >= minThptMedian) {
		gaps = append(gaps, fmt.Sprintf("median decode throughput is %.2f × the simulation's over %d points, want at least %.1f: the measurer is slow", m, len(thpt), minThptMedian))
	}
	if m := median(ttft); !(m <= maxTTFTMedian) {
		gaps = append(gaps, fmt.Sprintf("median prefill TTFT is %.2f × the estimator's over %d points, want at most %.1f: the measurer is slow", m, len(ttft), maxTTFTMedian))
	}
	return gaps
}

// median is NaN for no values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// The bounds catch a uniformly slow measurer (here: the mocker's time
// scale not undone, 4× slow) and pass the simulation itself. No cluster.
func TestSimulationGapCatchesASlowMeasurer(t *testing.T) {
	cfg, est := smallCase.config(t)
	sim, err := (&profiler.Profiler{Measurer: profiler.NewSimulation(est)}).Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if gaps := simulationGap(t, sim, sim, est); len(gaps) != 0 {
		t.Fatalf("the simulation against itself: %v", gaps)
	}
	slow := *sim
	slow.Decode = slices.Clone(sim.Decode)
	for i := range slow.Decode {
		slow.Decode[i].ThptPerGPU /= 4
	}
	slow.Prefill = slices.Clone(sim.Prefill)
	for i := range slow.Prefill {
		slow.Prefill[i].TTFTMs *= 4
	}
	gaps := simulationGap(t, &slow, sim, est)
	if len(gaps) != 2 || !strings.Contains(gaps[0], "median decode throughput is 0.25") || !strings.Contains(gaps[1], "median prefill TTFT is 4.00") {
		t.Fatalf("a 4× slow measurer must fail both medians, got %q", gaps)
	}
}

func TestOnlineProfileMatchesSimulation(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg, est := smallCase.config(t)
	sim, err := (&profiler.Profiler{Measurer: kvCapped{profiler.NewSimulation(est), testKVBlocks * 16}}).Run(ctx, cfg)
	if err != nil {
		t.Fatalf("simulation: %v", err)
	}

	d := createDGDR(t, "qwen-online")
	ev := &events{}
	// In real time: at --time-scale 0.25 the host's scheduling delay (5–15
	// ms per request with 14 Jobs on 2 cores) reads 4× as long against
	// TTFTs of 1 ms; undoing the scale has its own unit test.
	tmpl := mockerTemplate()
	tmpl.Mocker.TimeScale = 1
	m := newMeasurer(t, d, tmpl, 0, ev)
	start := time.Now()
	r, err := (&profiler.Profiler{Measurer: m}).Run(ctx, cfg)
	if err != nil {
		t.Fatalf("online profile: %v", err)
	}
	t.Logf("online profile took %v; stats %+v", time.Since(start), m.Stats())

	sp, sd := sim.Selection.Prefill.Mapping, sim.Selection.Decode.Mapping
	op, od := r.Selection.Prefill.Mapping, r.Selection.Decode.Mapping
	t.Logf("simulation: prefill %s decode %s; online: prefill %s decode %s", sp.Label(), sd.Label(), op.Label(), od.Label())
	for _, p := range r.Decode {
		t.Logf("decode %s concurrency %d: ITL %.2f ms, %.0f tokens/s/GPU", p.Mapping.Label(), p.Concurrency, p.ITLMs, p.ThptPerGPU)
	}
	for _, gap := range simulationGap(t, r, sim, est) {
		t.Error(gap)
	}
	if gpuStep(r.Plan.GPUCounts, sp, op) > 1 || gpuStep(r.Plan.GPUCounts, sd, od) > 1 {
		t.Errorf("online selection (prefill %s, decode %s) is more than one GPU step from the simulation's (prefill %s, decode %s)",
			op.Label(), od.Label(), sp.Label(), sd.Label())
	}
	if r.Versions.Measurer != "online" || len(r.Prefill) != len(r.Plan.PrefillMappings) || len(r.Decode) == 0 {
		t.Errorf("results incomplete: measurer %q, %d prefill points for %d mappings, %d decode points",
			r.Versions.Measurer, len(r.Prefill), len(r.Plan.PrefillMappings), len(r.Decode))
	}
	if r.PrefillInterpolation == nil || r.DecodeInterpolation == nil || len(r.DecodeInterpolation.ITLMs) == 0 {
		t.Errorf("interpolation grids missing: prefill %v, decode %v", r.PrefillInterpolation, r.DecodeInterpolation)
	}
	// One Job per sweep mapping and phase; the grids are sharded by ISL.
	perPhase := map[string]int{}
	all, err := e2e.env.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelDGDRName + "=qwen-online"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range all.Items {
		perPhase[j.Labels[jobs.LabelPhase]]++
	}
	if perPhase[jobs.PhasePrefill] != len(r.Plan.PrefillMappings) || perPhase[jobs.PhaseDecode] != len(r.Plan.DecodeMappings) ||
		perPhase[jobs.PhasePrefillGrid] != len(r.PrefillInterpolation.ISL) || perPhase[jobs.PhaseDecodeGrid] < 2 ||
		m.Stats().Created != len(all.Items) {
		t.Errorf("Jobs per phase %v (created %d): want one per sweep mapping and phase, one per prefill grid ISL (%d), several decode grid ISLs",
			perPhase, m.Stats().Created, len(r.PrefillInterpolation.ISL))
	}
	for _, s := range []State{StatePending, StateEngineStarting, StateMeasuring, StateDone} {
		if ev.count(s) == 0 {
			t.Errorf("no progress event with state %q", s)
		}
	}
	jl, err := e2e.env.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelDGDRName + "=qwen-online"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jl.Items {
		if !metav1.IsControlledBy(&j, d) {
			t.Errorf("job/%s is not owned by the DGDR", j.Name)
		}
	}
	deleteAndCheckNoOrphans(t, d)
}

// Killing the orchestration mid-profile leaves the Jobs running; the next
// run re-attaches: no Job is created twice and finished ones are reused.
func TestResumeReusesFinishedJobs(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg, _ := smallCase.config(t)
	d := createDGDR(t, "qwen-resume")

	ev := &events{}
	m1 := newMeasurer(t, d, mockerTemplate(), 0, ev)
	kctx, kill := context.WithCancel(ctx)
	m1.opts.OnJob = func(e JobEvent) {
		ev.add(e)
		if e.State == StateDone && ev.count(StateDone) >= 2 {
			kill() // the plugin is closed mid-profile
		}
	}
	_, err := (&profiler.Profiler{Measurer: m1}).Run(kctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: want context.Canceled, got %v", err)
	}
	first := m1.Stats()
	jl, err := e2e.env.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelDGDRName + "=qwen-resume"})
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]types.UID{}
	for _, j := range jl.Items {
		uids[j.Name] = j.UID
	}
	if len(uids) == 0 || len(uids) != first.Created {
		t.Fatalf("after the kill: %d Jobs exist, the first run created %d", len(uids), first.Created)
	}

	m2 := newMeasurer(t, d, mockerTemplate(), 0, &events{})
	r, err := (&profiler.Profiler{Measurer: m2}).Run(ctx, cfg)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	second := m2.Stats()
	t.Logf("first run %+v, second run %+v", first, second)
	all, err := e2e.env.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelDGDRName + "=qwen-resume"})
	if err != nil {
		t.Fatal(err)
	}
	if total := len(all.Items); first.Created+second.Created != total || total < len(r.Plan.PrefillMappings)+len(r.Plan.DecodeMappings)+2 {
		t.Errorf("Jobs created: %d + %d, want %d in all (none twice)", first.Created, second.Created, total)
	}
	if second.ReusedResults+second.ReusedJobs < len(uids) || second.ReusedResults < 2 {
		t.Errorf("second run reused %d results and %d running Jobs, want all %d earlier Jobs (at least 2 finished)",
			second.ReusedResults, second.ReusedJobs, len(uids))
	}
	jl, err = e2e.env.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelDGDRName + "=qwen-resume"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jl.Items {
		if u, ok := uids[j.Name]; ok && u != j.UID {
			t.Errorf("job/%s was re-created (uid %s, was %s)", j.Name, j.UID, u)
		}
	}
	deleteAndCheckNoOrphans(t, d)
}

// An engine that crashes fails the profile with the pod's reason.
func TestEngineCrashReportsPodReason(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pc := smallCase
	pc.maxGPUs = 1
	cfg, _ := pc.config(t)
	d := createDGDR(t, "qwen-crash")
	tmpl := mockerTemplate()
	tmpl.EngineArgs = []string{"--no-such-flag"}
	ev := &events{}
	m := newMeasurer(t, d, tmpl, 0, ev)
	_, err := (&profiler.Profiler{Measurer: m}).Run(ctx, cfg)
	if err == nil {
		t.Fatal("a crashing engine gave no error")
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"engine container engine crashed", "exit code 2", "reason Error", "unknown flag: --no-such-flag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if ev.count(StateFailed) == 0 {
		t.Error("no failed progress event")
	}
	res, err := Cancel(ctx, e2e.env.Client, "default", "qwen-crash")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cancel: %+v", res)
	deleteAndCheckNoOrphans(t, d)
}

// ownedKinds are what a profile makes for its DGDR: Jobs and their pods,
// Services, result ConfigMaps, and each Job's worker identity.
var ownedKinds = []schema.GroupVersionResource{
	{Group: "batch", Version: "v1", Resource: "jobs"}, {Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "services"}, {Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "serviceaccounts"},
	{Group: rbacv1.GroupName, Version: "v1", Resource: "roles"}, {Group: rbacv1.GroupName, Version: "v1", Resource: "rolebindings"},
}

// deleteAndCheckNoOrphans deletes the DGDR and waits for the garbage
// collector to remove everything of ownedKinds it labelled.
func deleteAndCheckNoOrphans(t *testing.T, d *v1alpha1.DynamoGraphDeploymentRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mc, err := metadata.NewForConfig(e2e.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: v1alpha1.LabelDGDRName + "=" + d.Name}
	var left []string
	owned := func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, gvr := range ownedKinds {
			l, err := mc.Resource(gvr).Namespace(d.Namespace).List(ctx, sel)
			if err != nil {
				return false, err
			}
			for _, o := range l.Items {
				left = append(left, gvr.Resource+"/"+o.Name)
			}
		}
		return len(left) == 0, nil
	}
	if none, err := owned(ctx); none || err != nil {
		t.Fatalf("DGDR %s owns nothing before its deletion (%v): the check would prove nothing", d.Name, err)
	}
	if err := e2e.crc.Delete(ctx, d); err != nil {
		t.Fatalf("deleting DGDR %s: %v", d.Name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 50*time.Second, true, owned)
	if err != nil {
		t.Fatalf("objects of DGDR %s left after its deletion (%v): %s", d.Name, err, strings.Join(left, " "))
	}
}

type profilerRun struct{ m *Measurer }

func (p *profilerRun) run(ctx context.Context, cfg profiler.Config) (*results.Results, error) {
	return (&profiler.Profiler{Measurer: p.m}).Run(ctx, cfg)
}

// errSweepOnly stops a profile before its grids: the frontier test needs
// the sweep Jobs only, which keeps the 2-core host's load small.
var errSweepOnly = errors.New("sweep done")

type sweepOnly struct{ *Measurer }

func (s sweepOnly) PrepareGrids(context.Context, profiler.GridPlan) error { return errSweepOnly }

// Online profiling finds the SLA frontier inside the sweep Jobs: after the
// coarse points each Job bisects its measured curve with up to three more
// points, with no extra Job. On the engine simulator (Qwen3-8B's timing,
// in real time, ITL ≈ 7.6 + 0.07 × concurrency ms) the target of 10.15 ms
// is crossed near 36, between the probes 32 and 40; three points halve
// [1, 64] three times, so the online bracket is 8 wide, and the
// simulation's frontier must lie in it or in the step beside it (a busy
// host only slows the engine).
func TestOnlineFrontierSearch(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pc := profileCase{sla: profileconfig.SLA{ISL: 1000, OSL: 100, TTFT: 500, ITL: 10.15}, minGPUs: 1, maxGPUs: 1, maxCtx: 4096, gp: 4, gd: 2,
		model: "Qwen/Qwen3-8B"}
	cfg, est := pc.config(t)
	sim, err := (&profiler.Profiler{Measurer: kvCapped{profiler.NewSimulation(est), testKVBlocks * 16}}).Run(ctx, cfg)
	if err != nil {
		t.Fatalf("simulation: %v", err)
	}
	want := sim.Frontier.Decode[0]
	if want.Bound != results.BoundSLA {
		t.Fatalf("simulation frontier %+v: the test needs a crossing inside the sweep", want)
	}

	d := createDGDR(t, "qwen-frontier")
	tmpl := mockerTemplate()
	tmpl.Mocker.EstimatorModel, tmpl.Mocker.TimeScale = pc.model, 1
	m := newMeasurer(t, d, tmpl, 0, &events{})
	r, err := (&profiler.Profiler{Measurer: sweepOnly{m}}).Run(ctx, cfg)
	if !errors.Is(err, errSweepOnly) {
		t.Fatalf("online sweep: %v", err)
	}
	if r.Frontier == nil || len(r.Frontier.Decode) != 1 || len(r.Frontier.Prefill) != 1 {
		t.Fatalf("online frontier %+v", r.Frontier)
	}
	got := r.Frontier.Decode[0]
	var probes []int
	for _, p := range r.Decode {
		t.Logf("decode concurrency %d: ITL %.2f ms (simulation %.2f; frontier point: %v)", p.Concurrency, p.ITLMs, itlAt(t, est, p), p.Frontier)
		if p.Frontier {
			probes = append(probes, p.Concurrency)
		}
	}
	t.Logf("simulation frontier %d (next %d); online %d..%d after points %v", want.Concurrency, want.NextConcurrency, got.Concurrency, got.NextConcurrency, probes)
	if len(probes) == 0 || len(probes) > 3 || got.Points != len(probes) {
		t.Errorf("%d frontier points %v (recorded %d), want 1 to 3", len(probes), probes, got.Points)
	}
	if got.Bound == results.BoundSLA {
		step := got.NextConcurrency - got.Concurrency
		if want.Concurrency < got.Concurrency-step || want.Concurrency > got.NextConcurrency+step {
			t.Errorf("the simulation's frontier %d is more than one step (%d) from the online bracket [%d, %d]", want.Concurrency, step, got.Concurrency, got.NextConcurrency)
		}
	} else {
		t.Errorf("online frontier %+v: want a crossing like the simulation's", got)
	}
	// The search runs in the sweep's Jobs: one per phase, nothing more, and
	// no more points than the dry-run estimate counts.
	measured := len(probes) + r.Frontier.Prefill[0].Points
	if st := m.Stats(); st.Created != 2 || measured > r.Plan.FrontierPoints || r.Plan.FrontierPoints != 2*3 {
		t.Errorf("created %d Jobs, measured %d frontier points; the plan counts %d points and %d grid Jobs",
			st.Created, measured, r.Plan.FrontierPoints, r.Plan.FrontierGridJobs)
	}
	deleteAndCheckNoOrphans(t, d)
}

func itlAt(t *testing.T, est *estimator.Estimator, p results.DecodePoint) float64 {
	t.Helper()
	v, err := est.DecodeITL(estimator.Mapping{Kind: p.Mapping.Kind, N: p.Mapping.N, TP: p.Mapping.TP, EP: p.Mapping.EP, AttnDP: p.Mapping.AttnDP}, p.Concurrency, p.ContextLength)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
