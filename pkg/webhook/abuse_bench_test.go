package webhook

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
		"1MB-string": review(b, admissionv1.Create, obj(strings.Repeat("q", 1_000_000), sla), nil),
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

// The attacker is this test binary re-executed with benchAttackEnv set to
// "url|rate|dir": a client of its own, as an attacker would be, so its
// 10 MB uploads do not hold the load generator's Go scheduler. With four
// or more CPUs it gets one of its own (BENCH_ATTACKER_CPU); with two it
// shares CPU 0 with the load generator, and its TLS and socket work delays
// the valid reviews' clock too. It reads "on" and
// "off" lines on stdin and, when stdin closes, prints its tally as JSON.
const benchAttackEnv = "DGDR_WEBHOOK_BENCH_ATTACK"

// hostileTally counts one attack's requests and how they were answered.
type hostileTally struct{ Sent, Allowed, Refused, TransportErrors int }

// attack sends each body in dir in turn (alternating the two handlers),
// one at a time, at most rate a second while switched on.
func attack(spec string) int {
	base, rest, _ := strings.Cut(spec, "|")
	rateS, dir, _ := strings.Cut(rest, "|")
	rate, err := strconv.Atoi(rateS)
	if err != nil || dir == "" {
		fmt.Fprintln(os.Stderr, "bad", benchAttackEnv, spec)
		return 2
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	bodies := map[string][]byte{}
	for _, e := range entries {
		if bodies[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	names := slices.Sorted(maps.Keys(bodies))
	var on atomic.Bool
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			on.Store(sc.Text() == "on")
		}
		close(done)
	}()
	tally := map[string]*hostileTally{}
	for _, n := range names {
		tally[n] = &hostileTally{}
	}
	c := benchClient()
	every := time.Second / time.Duration(max(rate, 1))
	next := time.Now()
	for i := 0; ; i++ {
		select {
		case <-done:
			_ = json.NewEncoder(os.Stdout).Encode(tally)
			return 0
		case <-time.After(time.Until(next)):
		}
		next = next.Add(every)
		if !on.Load() || len(names) == 0 {
			next = time.Now().Add(time.Millisecond) // poll the switch
			continue
		}
		name := names[i%len(names)]
		path := admission.ValidatePath
		if (i/len(names))%2 == 1 {
			path = admission.MutatePath
		}
		t := tally[name]
		t.Sent++
		resp, err := c.Post(base+path, "application/json", bytes.NewReader(bodies[name]))
		if err != nil {
			t.TransportErrors++
			continue
		}
		var ar admissionv1.AdmissionReview
		data, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode != http.StatusOK:
			t.Refused++ // 400/413 before any decoding
		case json.Unmarshal(data, &ar) == nil && ar.Response != nil && ar.Response.Allowed &&
			(path == admission.ValidatePath || len(ar.Response.Patch) > 0):
			// The mutating step lets a config it cannot read pass
			// unchanged (the validating step refuses it); a patch or a
			// validating allow is a failure.
			t.Allowed++
		default:
			t.Refused++
		}
	}
}

// startAttacker starts the attacker process on the hostile bodies; switch
// turns it on or off, finish stops it and returns its tally.
func startAttacker(b *testing.B, base string, rate int, hostile map[string][]byte) (switchTo func(on bool), finish func() map[string]*hostileTally) {
	dir := b.TempDir()
	for name, body := range hostile {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	args := []string{os.Args[0], "-test.run=^$", "-test.bench=^$"}
	if cpu := os.Getenv("BENCH_ATTACKER_CPU"); cpu != "" { // a CPU of its own, where the host has one
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{ts, "-c", cpu}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), benchAttackEnv+"="+base+"|"+strconv.Itoa(rate)+"|"+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	switchTo = func(on bool) {
		line := "off\n"
		if on {
			line = "on\n"
		}
		_, _ = io.WriteString(stdin, line)
	}
	finish = func() map[string]*hostileTally {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatal("attacker: ", err)
		}
		tally := map[string]*hostileTally{}
		if err := json.Unmarshal(out.Bytes(), &tally); err != nil {
			b.Fatalf("attacker said %q: %v", out.String(), err)
		}
		return tally
	}
	return switchTo, finish
}

// BenchmarkAdmissionAbuse: an attacker process sends hostile reviews one at
// a time to both handlers while the load generator offers 2,000 valid
// reviews/s (half to each handler, open loop). The attacker is switched on
// and off in blocks of BENCH_BLOCK_MS (default 500), and each valid review
// is filed under the state at its start: a stall of the host lands on both
// alike, so the attack's own cost is the difference. The server runs as in
// the Deployment: one CPU, GOMEMLIMIT at 90 % of the 128 MiB limit.
//
// It passes when the server's peak RSS stays under the limit, no valid
// review fails, no hostile one is allowed and the valid reviews' p99 under
// attack is at most 2 ms. When the p99 without attack, in the same
// minutes, is itself over 2 ms, the host cannot tell the gate apart and
// the verdict says so. BENCH_SECONDS (default 20) is the time under attack
// (as much again without). `make bench-webhook-abuse`; figures in
// pkg/admission/BENCH.md.
func BenchmarkAdmissionAbuse(b *testing.B) {
	secs := envInt("BENCH_SECONDS", 20)
	block := time.Duration(envInt("BENCH_BLOCK_MS", 500)) * time.Millisecond
	base, pid, pinned, stop := startBenchServer(b, "GOMEMLIMIT="+strconv.Itoa(benchGoMemLimit))
	defer stop()
	hostile := hostileBodies(b)
	if only := os.Getenv("BENCH_HOSTILE"); only != "" { // e.g. 8000-keys,10MB-body; none: no attack
		for k := range hostile {
			if !strings.Contains(","+only+",", ","+k+",") {
				delete(hostile, k)
			}
		}
	}
	hostileRate := envInt("BENCH_HOSTILE_RATE", 40)
	switchTo, finish := startAttacker(b, base, hostileRate, hostile)
	valid := review(b, admissionv1.Create, exampleJSON(b, "trtllm-aic-offline", "team-a"), nil)
	client := benchClient()
	fire(client, base+admission.ValidatePath, valid, 1000, time.Second) // warm up

	var peak atomic.Int64
	var phase atomic.Int32 // 1 while the attacker is on
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
	go func() { // the attacker's switch
		defer wg.Done()
		for on := int32(0); ; on = 1 - on {
			switchTo(on == 1)
			phase.Store(on)
			select {
			case <-done:
				switchTo(false)
				return
			case <-time.After(block):
			}
		}
	}()
	b.ResetTimer()
	serverCPU0, clientCPU0 := processCPU(pid), processCPU(os.Getpid())
	var lat [2][]time.Duration
	var errs int
	for range b.N {
		l, e := fireBoth(client, base, valid, 2*time.Duration(secs)*time.Second, &phase)
		lat[0], lat[1], errs = append(lat[0], l[0]...), append(lat[1], l[1]...), errs+e
	}
	b.StopTimer()
	close(done)
	wg.Wait()
	tally := finish()
	serverCPU, clientCPU := processCPU(pid)-serverCPU0, processCPU(os.Getpid())-clientCPU0
	_, hwm := memStat(pid)
	calm, attacked := pct(lat[0], 99), pct(lat[1], 99)
	fmt.Fprintf(os.Stderr, "abuse: %d s under attack and %d s without, in blocks of %v; server pinned %v, GOMEMLIMIT %d MiB, limit %d MiB, hostile rate %d/s\n",
		secs, secs, block, pinned, benchGoMemLimit>>20, deployMemoryLimit>>20, hostileRate)
	for i, name := range []string{"without attack", "under attack"} {
		fmt.Fprintf(os.Stderr, "valid %-14s n=%d p50 %.0f µs p99 %.0f µs p99.9 %.0f µs\n", name, len(lat[i]), pct(lat[i], 50), pct(lat[i], 99), pct(lat[i], 99.9))
	}
	fmt.Fprintf(os.Stderr, "valid errors: %d\n", errs)
	hostileAllowed := 0
	for _, name := range slices.Sorted(maps.Keys(tally)) {
		t := tally[name]
		fmt.Fprintf(os.Stderr, "hostile %-12s sent %d refused %d allowed %d transport errors %d\n",
			name, t.Sent, t.Refused, t.Allowed, t.TransportErrors)
		hostileAllowed += t.Allowed
	}
	fmt.Fprintf(os.Stderr, "server RSS: peak sampled %.1f MiB, VmHWM %.1f MiB\n", float64(peak.Load())/(1<<20), float64(hwm)/(1<<20))
	fmt.Fprintf(os.Stderr, "CPU busy: server %.0f %% of its core, load generator %.0f %% of its core (the attacker is a process of its own)\n",
		100*serverCPU.Seconds()/float64(2*secs), 100*clientCPU.Seconds()/float64(2*secs))
	b.ReportMetric(attacked, "attacked-p99-µs")
	b.ReportMetric(calm, "calm-p99-µs")
	b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
	switch {
	case hwm >= deployMemoryLimit || errs > 0 || hostileAllowed > 0:
		b.Errorf("abuse: FAIL: peak RSS %d MiB (limit %d), %d valid errors, %d hostile allowed", hwm>>20, deployMemoryLimit>>20, errs, hostileAllowed)
	case attacked <= 2000:
		fmt.Fprintf(os.Stderr, "abuse: PASS: p99 under attack %.0f µs (target 2000; %.0f µs without)\n", attacked, calm)
	case calm > 2000:
		b.Errorf("abuse: HOST TOO NOISY: p99 under attack %.0f µs, but %.0f µs without attack in the same minutes: the 2 ms gate cannot be judged here", attacked, calm)
	default:
		b.Errorf("abuse: FAIL: p99 under attack %.0f µs (target 2000; %.0f µs without)", attacked, calm)
	}
}

// fireBoth offers 2,000 valid reviews/s for d, half to each handler, and
// returns the latencies of both, filed by phase, and the failures.
func fireBoth(c *http.Client, base string, body []byte, d time.Duration, phase *atomic.Int32) ([2][]time.Duration, int) {
	var mu sync.Mutex
	var lat [2][]time.Duration
	var errs int
	var wg sync.WaitGroup
	for _, p := range []string{admission.ValidatePath, admission.MutatePath} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, e, _ := fireTagged(c, base+p, body, 1000, d, phase)
			mu.Lock()
			lat[0], lat[1], errs = append(lat[0], l[0]...), append(lat[1], l[1]...), errs+e
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs
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
			l, e := fireBoth(client, base, valid, time.Duration(window)*time.Second, nil)
			lat := l[0]
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
