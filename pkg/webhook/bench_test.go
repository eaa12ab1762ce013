package webhook

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
)

// The loopback benchmark runs its webhook server in a child process (this
// test binary re-executed with benchServeEnv set), the way a webhook pod runs
// apart from the API server. With BENCH_SERVER_CPU the child is pinned to
// that CPU (taskset) and gets GOMAXPROCS=1, like the Deployment's 1-CPU
// limit; `make bench-webhook` pins the load generator to another CPU.
const benchServeEnv = "DGDR_WEBHOOK_BENCH_SERVE"

// The handlers the benchmark compares. noop is a bare controller-runtime
// handler (the HTTP/TLS/AdmissionReview floor); typed-noop is WithDefaulter
// with a Default that changes nothing (the framework's typed floor).
const (
	benchNoop      = "/noop"
	benchTypedNoop = "/typed-noop"
)

// timedServer records how long each handler's ServeHTTP takes (reading the
// body, decoding the review, the handler, encoding the answer): the
// server's own share of the latency, apart from TLS and scheduling. The
// times go into fixed histograms, so a 10-minute soak does not grow the
// server's heap with its own instrument.
type timedServer struct {
	crwebhook.Server
	budget *rate.Limiter
	mu     sync.Mutex
	took   map[string]*usHistogram
}

// usHistogram counts durations in 1 µs buckets up to 100 ms (the last
// bucket holds everything longer).
type usHistogram struct {
	n      int
	counts [100_001]uint32
}

func (h *usHistogram) add(d time.Duration) {
	h.counts[min(int(d/time.Microsecond), len(h.counts)-1)]++
	h.n++
}

// pct is the p-th percentile in microseconds.
func (h *usHistogram) pct(p float64) int {
	seen := 0
	for us, c := range h.counts {
		if seen += int(c); float64(seen) >= p/100*float64(h.n) {
			return us
		}
	}
	return len(h.counts) - 1
}

func (t *timedServer) Register(path string, hook http.Handler) {
	h := guard(hook, t.budget) // the guard is timed too; guard passes the wrapper below through
	hist := &usHistogram{}
	t.mu.Lock()
	t.took[path] = hist
	t.mu.Unlock()
	t.Server.Register(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(t0)
		t.mu.Lock()
		hist.add(d)
		t.mu.Unlock()
	}))
}

func (t *timedServer) report() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(t.took)) {
		if h := t.took[p]; h.n > 0 {
			fmt.Fprintf(os.Stderr, "server ServeHTTP %s: n=%d p50 %d µs p99 %d µs\n", p, h.n, h.pct(50), h.pct(99))
		}
	}
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchServeEnv); spec != "" {
		os.Exit(serveBench(spec))
	}
	if spec := os.Getenv(benchAttackEnv); spec != "" {
		os.Exit(attack(spec))
	}
	os.Exit(m.Run())
}

type noopDefaulter struct{}

func (noopDefaulter) Default(context.Context, *DGDR) error { return nil }

// serveBench serves every compared handler on "certDir|port" until stdin
// closes (the parent exited or finished), printing "ready" once it serves.
func serveBench(spec string) int {
	ctrllog.SetLogger(logr.Discard())
	dir, portS, _ := strings.Cut(spec, "|")
	port, err := strconv.Atoi(portS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad", benchServeEnv, spec)
		return 2
	}
	inner, err := NewServer(Options{Host: "127.0.0.1", Port: port, CertDir: dir, TLSMinVersion: "1.2", Log: logr.Discard()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := &timedServer{Server: inner, budget: inner.budget, took: map[string]*usHistogram{}}
	defer srv.report()
	Register(srv, NewScheme())
	srv.Register(benchNoop, &ctrladmission.Webhook{Handler: ctrladmission.HandlerFunc(
		func(context.Context, ctrladmission.Request) ctrladmission.Response { return ctrladmission.Allowed("") })})
	srv.Register(benchTypedNoop, ctrladmission.WithDefaulter[*DGDR](NewScheme(), noopDefaulter{}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(context.Context) (bool, error) {
			return srv.StartedChecker()(nil) == nil, nil
		})
		fmt.Println("ready")
	}()
	if err := srv.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "server: GOMAXPROCS %d, GOGC %q, GOMEMLIMIT %q: %d GCs, %.1f ms total pause, heap in use %.1f MiB, %.0f MiB allocated\n",
		runtime.GOMAXPROCS(0), os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), ms.NumGC, float64(ms.PauseTotalNs)/1e6,
		float64(ms.HeapInuse)/(1<<20), float64(ms.TotalAlloc)/(1<<20))
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}, {Name: "/gc/pauses:seconds"}}
	metrics.Read(sample)
	for _, s := range sample {
		if s.Value.Kind() == metrics.KindFloat64Histogram {
			h := s.Value.Float64Histogram()
			fmt.Fprintf(os.Stderr, "server %s: p50 %.0f µs p99 %.0f µs p99.9 %.0f µs\n", s.Name,
				histPct(h, 50)*1e6, histPct(h, 99)*1e6, histPct(h, 99.9)*1e6)
		}
	}
	return 0
}

// histPct is the p-th percentile of a runtime/metrics histogram (the upper
// edge of its bucket).
func histPct(h *metrics.Float64Histogram, p float64) float64 {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	var seen uint64
	for i, c := range h.Counts {
		if seen += c; float64(seen) >= p/100*float64(total) {
			return h.Buckets[i+1]
		}
	}
	return 0
}

// startBenchServer starts the child server and returns its base URL and a
// stop function.
func startBenchServer(b *testing.B, extraEnv ...string) (url string, pid int, pinned bool, stop func()) {
	dir := b.TempDir()
	data, err := (&CertRotator{Namespace: "bench", ServiceName: "bench"}).issue(nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()

	argv := []string{os.Args[0], "-test.run=^$", "-test.bench=^$"}
	env := append(append(os.Environ(), benchServeEnv+"="+dir+"|"+strconv.Itoa(port)), extraEnv...)
	if gogc := os.Getenv("BENCH_SERVER_GOGC"); gogc != "" {
		env = append(env, "GOGC="+gogc)
	}
	if cpu := os.Getenv("BENCH_SERVER_CPU"); cpu != "" {
		if ts, err := exec.LookPath("taskset"); err == nil {
			argv = append([]string{ts, "-c", cpu}, argv...)
			env = append(env, "GOMAXPROCS="+cmp.Or(os.Getenv("BENCH_SERVER_GOMAXPROCS"), "1"))
			pinned = true
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() { _ = stdin.Close(); _ = cmd.Wait() }
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("server said %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			stop()
			b.Fatal("bench server: ", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		stop()
		b.Fatal("bench server did not start")
	}
	return "https://127.0.0.1:" + strconv.Itoa(port), cmd.Process.Pid, pinned, stop
}

// BenchmarkAdmissionLoopback measures admission latency on loopback TLS at a
// fixed offered rate (open loop), for our mutating and validating handlers
// and two no-op baselines served by the same server in the same run. The
// handlers take turns in short blocks, in a rotating order, so a stall of
// the host lands on all of them alike. BENCH_RATE (default 2000/s), BENCH_SECONDS (per handler,
// default 9) and BENCH_BLOCK_MS (default 250) tune it. The figures are
// reported as metrics, never asserted: this is not a timed test.
func BenchmarkAdmissionLoopback(b *testing.B) {
	rate := envInt("BENCH_RATE", 2000)
	secs := envInt("BENCH_SECONDS", 10)
	repeats := envInt("BENCH_REPEATS", 3)
	block := time.Duration(envInt("BENCH_BLOCK_MS", 250)) * time.Millisecond
	base, pid, pinned, stop := startBenchServer(b)
	defer stop()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback benchmark
		MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, ForceAttemptHTTP2: false,
	}}
	// The AI Configurator example: the most work per review (model and
	// system lookup, head rule, estimator feasibility sweep).
	body := review(b, admissionv1.Create, exampleJSON(b, "trtllm-aic-offline", "team-a"), nil)
	targets := []string{benchNoop, benchTypedNoop, admission.ValidatePath, admission.MutatePath}
	names := map[string]string{benchNoop: "noop", benchTypedNoop: "typed-noop", admission.ValidatePath: "validate", admission.MutatePath: "mutate"}
	type stats struct {
		lat      [][]time.Duration // per repeat
		errs     int
		sent     time.Duration
		cpu      time.Duration // server CPU time spent in this handler's blocks
		p50, p99 []float64     // per repeat
	}
	st := map[string]*stats{}
	for _, t := range targets { // warm up connections and caches
		fire(client, base+t, body, rate, time.Second)
		st[t] = &stats{lat: make([][]time.Duration, repeats)}
	}
	b.ResetTimer()
	blocks := int(time.Duration(secs) * time.Second / block)
	for i := 0; i < b.N; i++ {
		for r := 0; r < repeats; r++ {
			for k := 0; k < blocks; k++ {
				// Rotate the order each round: no handler always follows another.
				for j := range targets {
					t := targets[(j+k)%len(targets)]
					c0 := processCPU(pid)
					l, e, took := fire(client, base+t, body, rate, block)
					s := st[t]
					s.cpu += processCPU(pid) - c0
					s.lat[r] = append(s.lat[r], l...)
					s.errs += e
					s.sent += took
				}
			}
		}
	}
	b.StopTimer()
	fmt.Fprintf(os.Stderr, "%d repeats of %d s per handler at %d reviews/s offered; server in its own process, pinned to a CPU apart from the load generator: %v\n",
		repeats, secs, rate, pinned)
	// A repeat's p99 is over rate*secs reviews; the figures are the median
	// over repeats, so one stall of the host does not decide the result.
	for _, t := range targets {
		s := st[t]
		var all []time.Duration
		for _, l := range s.lat {
			s.p50, s.p99 = append(s.p50, pct(l, 50)), append(s.p99, pct(l, 99))
			all = append(all, l...)
		}
		achieved := float64(len(all)) / s.sent.Seconds()
		cpuPer := float64(s.cpu.Microseconds()) / float64(len(all)+s.errs)
		b.ReportMetric(median(s.p50), names[t]+"-p50-µs")
		b.ReportMetric(median(s.p99), names[t]+"-p99-µs")
		b.ReportMetric(achieved, names[t]+"-reviews/s")
		b.ReportMetric(cpuPer, names[t]+"-server-cpu-µs/review")
		fmt.Fprintf(os.Stderr, "%-10s achieved %.0f/s  n=%d errors=%d  p50 %.0f µs  p99 %.0f µs (repeats %v; all reviews %.0f, p99.9 %.0f)  server CPU %.0f µs/review\n",
			names[t], achieved, len(all), s.errs, median(s.p50), median(s.p99), s.p99, pct(all, 99), pct(all, 99.9), cpuPer)
	}
	noop, typed := median(st[benchNoop].p99), median(st[benchTypedNoop].p99)
	for _, t := range targets[1:] {
		p99 := median(st[t].p99)
		b.ReportMetric(p99/noop, names[t]+"-p99/noop")
		fmt.Fprintf(os.Stderr, "%-10s p99 / noop p99 = %.2f   p99 / typed-noop p99 = %.2f\n", names[t], p99/noop, p99/typed)
	}
}

// median of a few values.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fire sends body to url at rate per second for d, open loop (each request
// starts at its scheduled time whatever the others do), and returns the
// latencies of the successful requests, the failures and the time taken.
func fire(c *http.Client, url string, body []byte, rate int, d time.Duration) ([]time.Duration, int, time.Duration) {
	lat, errs, took := fireTagged(c, url, body, rate, d, nil)
	return lat[0], errs, took
}

// fireTagged is fire that files each latency under the phase (0 or 1) that
// phase held when its request started; a nil phase files all under 0.
func fireTagged(c *http.Client, url string, body []byte, rate int, d time.Duration, phase *atomic.Int32) ([2][]time.Duration, int, time.Duration) {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	tag := make([]int32, n)
	ok := make([]bool, n)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if phase != nil {
			tag[i] = phase.Load()
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			resp, err := c.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			lat[i], ok[i] = time.Since(t0), resp.StatusCode == http.StatusOK
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var out [2][]time.Duration
	errs := 0
	for i := range lat {
		if ok[i] {
			out[tag[i]] = append(out[tag[i]], lat[i])
		} else {
			errs++
		}
	}
	return out, errs, elapsed
}

// processCPU is the user+system CPU time of a process from /proc (Linux;
// zero elsewhere), in clock ticks of 10 ms: summed over many blocks it
// gives the server's CPU per review.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// pct is the p-th percentile in microseconds.
func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(float64(len(s))*p/100+0.5) - 1
	idx = max(0, min(idx, len(s)-1))
	return float64(s[idx].Microseconds())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRules is the in-process cost of the rules alone (no HTTP, no TLS).
func BenchmarkRules(b *testing.B) {
	d := loadExampleDGDR(&testing.T{}, "trtllm-aic-offline", "team-a")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		x := d.DeepCopy()
		_, _ = admission.Default(x)
		_, _ = admission.Validate(x)
	}
}

// BenchmarkHandlers is the per-review CPU cost of each handler without HTTP
// or TLS (decode, rules, patch, encode of the response stays out).
func BenchmarkHandlers(b *testing.B) {
	ctrllog.SetLogger(logr.Discard())
	mutate, validate := handlers()
	noop := &ctrladmission.Webhook{Handler: ctrladmission.HandlerFunc(
		func(context.Context, ctrladmission.Request) ctrladmission.Response { return ctrladmission.Allowed("") })}
	obj := exampleJSON(b, "trtllm-aic-offline", "team-a")
	req := ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u", Operation: admissionv1.Create, Name: "x", Namespace: "team-a"}}
	req.Object.Raw = obj
	for name, wh := range map[string]*ctrladmission.Webhook{"noop": noop, "validate": validate, "mutate": mutate} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if r := wh.Handle(context.Background(), req); !r.Allowed {
					b.Fatal(r.Result)
				}
			}
		})
	}
}
