package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
)

// BenchmarkAdmissionLoopback measures admission latency on a loopback TLS
// webhook.Server at a fixed offered rate (open loop), for our mutating and
// validating handlers and for a no-op controller-runtime handler in the same
// run, interleaved in rounds so machine noise hits all three alike.
// Run with `make bench-webhook`; BENCH_RATE (default 2000/s) and
// BENCH_SECONDS (per handler and round, default 3) tune it. The figures are
// reported as metrics, never asserted: this is not a timed test.
func BenchmarkAdmissionLoopback(b *testing.B) {
	rate := envInt("BENCH_RATE", 2000)
	secs := envInt("BENCH_SECONDS", 3)
	rounds := envInt("BENCH_ROUNDS", 3)
	ctrllog.SetLogger(logr.Discard())

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
	tlsOpts, _ := TLSOpts("1.2", false)
	srv := crwebhook.NewServer(crwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: dir, TLSOpts: tlsOpts})
	Register(srv, NewScheme())
	srv.Register("/noop", &ctrladmission.Webhook{Handler: ctrladmission.HandlerFunc(
		func(context.Context, ctrladmission.Request) ctrladmission.Response { return ctrladmission.Allowed("") })})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Start(ctx) }()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback benchmark
		MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, ForceAttemptHTTP2: false,
	}}
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := srv.StartedChecker()(nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The AI Configurator example: the most work per review (model and
	// system lookup, head rule, estimator feasibility sweep).
	body := review(b, admissionv1.Create, exampleJSON(b, "trtllm-aic-offline", "team-a"), nil)
	targets := []string{"/noop", admission.ValidatePath, admission.MutatePath}
	lat := map[string][]time.Duration{}
	errs := map[string]int{}
	achieved := map[string]float64{}
	for _, t := range targets { // warm up connections and caches
		fire(client, base+t, body, rate, time.Second)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, t := range targets {
				l, e, got := fire(client, base+t, body, rate, time.Duration(secs)*time.Second)
				lat[t] = append(lat[t], l...)
				errs[t] += e
				achieved[t] += got / float64(rounds)
			}
		}
	}
	b.StopTimer()
	names := map[string]string{"/noop": "noop", admission.ValidatePath: "validate", admission.MutatePath: "mutate"}
	p99 := map[string]float64{}
	for _, t := range targets {
		p50v, p99v := pct(lat[t], 50), pct(lat[t], 99)
		p99[t] = p99v
		b.ReportMetric(p50v, names[t]+"-p50-µs")
		b.ReportMetric(p99v, names[t]+"-p99-µs")
		b.ReportMetric(achieved[t], names[t]+"-reviews/s")
		fmt.Fprintf(os.Stderr, "%-9s offered %d/s achieved %.0f/s  n=%d errors=%d  p50 %.0f µs  p99 %.0f µs\n",
			names[t], rate, achieved[t], len(lat[t]), errs[t], p50v, p99v)
	}
	for _, t := range targets[1:] {
		ratio := p99[t] / p99["/noop"]
		b.ReportMetric(ratio, names[t]+"-p99/noop")
		fmt.Fprintf(os.Stderr, "%-9s p99 / noop p99 = %.2f\n", names[t], ratio)
	}
}

// fire sends body to url at rate per second for d, open loop (each request
// starts at its scheduled time whatever the others do), and returns the
// latencies of the successful requests, the failures and the achieved rate.
func fire(c *http.Client, url string, body []byte, rate int, d time.Duration) ([]time.Duration, int, float64) {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
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
	var out []time.Duration
	for i := range lat {
		if ok[i] {
			out = append(out, lat[i])
		}
	}
	return out, n - len(out), float64(len(out)) / elapsed.Seconds()
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
