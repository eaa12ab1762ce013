package webhook

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
)

// The Deployment's memory limit and the Go memory limit the binary derives
// from it (90 %); the abuse benchmark runs its server under the same.
const (
	deployMemoryLimit = 128 << 20
	benchGoMemLimit   = deployMemoryLimit / 10 * 9
)

// memStat reads VmRSS and VmHWM (peak RSS) of a process, in bytes.
func memStat(pid int) (rss, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// hostileBodies are the attacks of issue 17: 8,000 unknown keys, a 1 MB
// string, 100,000-deep nesting, a 10 MB body.
func hostileBodies(b testing.TB) map[string][]byte {
	obj := func(model, config string) []byte {
		return []byte(`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeploymentRequest","metadata":{"name":"h","namespace":"n"},` +
			`"spec":{"model":` + strconv.Quote(model) + `,"backend":"vllm","profilingConfig":{"profilerImage":"i","config":` + config + `}}}`)
	}
	var keys strings.Builder
	keys.WriteString(`{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20`)
	for i := range 8000 {
		fmt.Fprintf(&keys, `,"k%d":1`, i)
	}
	keys.WriteString(`}}`)
	sla := `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20}}`
	deep := `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{"x":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}}`
	big := review(b, admissionv1.Create, obj("Qwen/Qwen3-0.6B", sla), nil)
	big = append(big[:len(big)-1], append(append([]byte(`,"pad":"`), bytes.Repeat([]byte("x"), 10<<20)...), `"}`...)...)
	return map[string][]byte{
		"8000-keys":  review(b, admissionv1.Create, obj("Qwen/Qwen3-0.6B", keys.String()), nil),
		"1MB-string": review(b, admissionv1.Create, obj(strings.Repeat("q", 1<<20), sla), nil),
		// json.Marshal refuses the depth itself: spliced in as bytes.
		"100k-nested": bytes.Replace(review(b, admissionv1.Create, obj("Qwen/Qwen3-0.6B", `"DEEP"`), nil), []byte(`"DEEP"`), []byte(deep), 1),
		"10MB-body":   big,
	}
}

// benchClient is a keep-alive HTTPS client for loopback benchmarks.
func benchClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback benchmark
		MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256,
	}}
}

// BenchmarkAdmissionAbuse: one client sends hostile reviews back to back
// (a new one as soon as the last is answered) to both handlers, while
// another offers 2,000 valid reviews/s (half to each handler, open loop).
// The server runs as in the Deployment: one CPU, GOMEMLIMIT at 90 % of the
// 128 MiB limit. It passes when the server's peak RSS stays under the
// limit, the valid reviews' p99 is at most 2 ms, no valid review fails and
// no hostile one is allowed. BENCH_SECONDS (default 20) sets the length.
// `make bench-webhook-abuse`; figures in pkg/admission/BENCH.md.
func BenchmarkAdmissionAbuse(b *testing.B) {
	secs := envInt("BENCH_SECONDS", 20)
	base, pid, pinned, stop := startBenchServer(b, "GOMEMLIMIT="+strconv.Itoa(benchGoMemLimit))
	defer stop()
	hostile := hostileBodies(b)
	if only := os.Getenv("BENCH_HOSTILE"); only != "" { // e.g. 8000-keys,10MB-body
		for k := range hostile {
			if !strings.Contains(","+only+",", ","+k+",") {
				delete(hostile, k)
			}
		}
	}
	valid := review(b, admissionv1.Create, exampleJSON(b, "trtllm-aic-offline", "team-a"), nil)
	client := benchClient()
	fire(client, base+admission.ValidatePath, valid, 1000, time.Second) // warm up

	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // RSS sampler
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				if rss, _ := memStat(pid); rss > peak.Load() {
					peak.Store(rss)
				}
			}
		}
	}()
	type tally struct{ sent, allowed, refused, httpErr int }
	hostileStats := map[string]*tally{}
	for k := range hostile {
		hostileStats[k] = &tally{}
	}
	// The attacker sends one request at a time, at most BENCH_HOSTILE_RATE
	// a second (default 40; 0: back to back). Back to back on two cores,
	// its own 10 MB writes starve the load generator it shares a CPU with,
	// and the figures measure the client, not the server.
	hostileRate := envIntOr("BENCH_HOSTILE_RATE", 40)
	go func() {
		defer wg.Done()
		c := benchClient()
		var every time.Duration
		if hostileRate > 0 {
			every = time.Second / time.Duration(hostileRate)
		}
		next := time.Now()
		if len(hostile) == 0 { // BENCH_HOSTILE=none: the baseline
			<-done
			return
		}
		for i := 0; ; i++ {
			for name, body := range hostile {
				select {
				case <-done:
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(every)
				path := admission.ValidatePath
				if i%2 == 1 {
					path = admission.MutatePath
				}
				t := hostileStats[name]
				t.sent++
				resp, err := c.Post(base+path, "application/json", bytes.NewReader(body))
				if err != nil {
					t.httpErr++
					continue
				}
				var ar admissionv1.AdmissionReview
				data, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				switch {
				case resp.StatusCode != http.StatusOK:
					t.refused++ // 400/413 before any decoding
				case json.Unmarshal(data, &ar) == nil && ar.Response != nil && ar.Response.Allowed &&
					(path == admission.ValidatePath || len(ar.Response.Patch) > 0):
					// The mutating step lets a config it cannot read pass
					// unchanged (the validating step refuses it); a patch
					// or a validating allow is a failure.
					t.allowed++
				default:
					t.refused++
				}
			}
		}
	}()
	b.ResetTimer()
	// Where the CPU goes: the server's core and the one the load generator
	// shares with the attacker.
	serverCPU0, clientCPU0 := processCPU(pid), processCPU(os.Getpid())
	var lat []time.Duration
	var errs int
	for range b.N {
		l, e := fireBoth(client, base, valid, time.Duration(secs)*time.Second)
		lat, errs = append(lat, l...), errs+e
	}
	b.StopTimer()
	close(done)
	wg.Wait()
	serverCPU, clientCPU := processCPU(pid)-serverCPU0, processCPU(os.Getpid())-clientCPU0
	_, hwm := memStat(pid)
	p99 := pct(lat, 99)
	fmt.Fprintf(os.Stderr, "abuse: %d s, server pinned %v, GOMEMLIMIT %d MiB, limit %d MiB, hostile rate %d/s (0: back to back)\n",
		secs, pinned, benchGoMemLimit>>20, deployMemoryLimit>>20, hostileRate)
	fmt.Fprintf(os.Stderr, "valid: n=%d errors=%d p50 %.0f µs p99 %.0f µs p99.9 %.0f µs\n", len(lat), errs, pct(lat, 50), p99, pct(lat, 99.9))
	hostileAllowed := 0
	for name, t := range hostileStats {
		fmt.Fprintf(os.Stderr, "hostile %-12s sent %d (%.1f/s) refused %d allowed %d transport errors %d\n",
			name, t.sent, float64(t.sent)/float64(secs), t.refused, t.allowed, t.httpErr)
		hostileAllowed += t.allowed
	}
	fmt.Fprintf(os.Stderr, "server RSS: peak sampled %.1f MiB, VmHWM %.1f MiB\n", float64(peak.Load())/(1<<20), float64(hwm)/(1<<20))
	fmt.Fprintf(os.Stderr, "CPU busy: server %.0f %% of its core, load generator and attacker %.0f %% of theirs\n",
		100*serverCPU.Seconds()/float64(secs), 100*clientCPU.Seconds()/float64(secs))
	b.ReportMetric(p99, "valid-p99-µs")
	b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
	verdict := "PASS"
	if hwm >= deployMemoryLimit || p99 > 2000 || errs > 0 || hostileAllowed > 0 {
		verdict = "FAIL"
		b.Errorf("abuse: peak RSS %d MiB (limit %d), valid p99 %.0f µs (target 2000), %d valid errors, %d hostile allowed",
			hwm>>20, deployMemoryLimit>>20, p99, errs, hostileAllowed)
	}
	fmt.Fprintln(os.Stderr, "abuse:", verdict)
}

// fireBoth offers 2,000 valid reviews/s for d, half to each handler, and
// returns the latencies and failures of both.
func fireBoth(c *http.Client, base string, body []byte, d time.Duration) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var wg sync.WaitGroup
	for _, p := range []string{admission.ValidatePath, admission.MutatePath} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, e, _ := fire(c, base+p, body, 1000, d)
			mu.Lock()
			lat, errs = append(lat, l...), errs+e
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs
}

// envIntOr is envInt that also takes 0.
func envIntOr(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// BenchmarkAdmissionSoak offers 2,000 valid reviews/s (half to each
// handler) for BENCH_SOAK_SECONDS (default 600) and prints p50, p99 and the
// server's RSS every BENCH_WINDOW_SECONDS (default 30). It fails when the
// RSS of the last window is over 1.2 times that of the second (the first
// warms up), or when any review fails. `make bench-webhook-soak`.
func BenchmarkAdmissionSoak(b *testing.B) {
	total := envInt("BENCH_SOAK_SECONDS", 600)
	window := envInt("BENCH_WINDOW_SECONDS", 30)
	base, pid, pinned, stop := startBenchServer(b, "GOMEMLIMIT="+strconv.Itoa(benchGoMemLimit))
	defer stop()
	valid := review(b, admissionv1.Create, exampleJSON(b, "trtllm-aic-offline", "team-a"), nil)
	client := benchClient()
	fmt.Fprintf(os.Stderr, "soak: %d s at 2000 reviews/s, server pinned %v, windows of %d s\n", total, pinned, window)
	fmt.Fprintln(os.Stderr, "window  end-s  reviews  errors  p50-µs  p99-µs  rss-MiB")
	var rss []int64
	var errs int
	b.ResetTimer()
	for range b.N {
		for w := 0; w*window < total; w++ {
			lat, e := fireBoth(client, base, valid, time.Duration(window)*time.Second)
			errs += e
			r, _ := memStat(pid)
			rss = append(rss, r)
			fmt.Fprintf(os.Stderr, "%6d  %5d  %7d  %6d  %6.0f  %6.0f  %7.1f\n", w+1, (w+1)*window, len(lat), errs, pct(lat, 50), pct(lat, 99), float64(r)/(1<<20))
		}
	}
	b.StopTimer()
	if len(rss) >= 3 && float64(rss[len(rss)-1]) > 1.2*float64(rss[1]) {
		b.Errorf("RSS grew from %d MiB (window 2) to %d MiB (last window)", rss[1]>>20, rss[len(rss)-1]>>20)
	}
	if errs > 0 {
		b.Errorf("%d reviews failed", errs)
	}
}
