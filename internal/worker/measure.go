package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/loadgen"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// Measurement constants of profiler.md §6.4 and §7.4.
const (
	PrefillOSL      = 5 // AIPERF_PREFILL_BENCHMARK_OSL
	PrefillDPRatio  = 4 // AIPERF_PREFILL_ATTN_DP_NUM_REQ_RATIO
	WarmupPerDPRank = 3 // AIPERF_WARMUP_REQUEST_PER_DP_RANK
	// PrefillSamples is ours: upstream measures a prefill point once
	// (request count 1, or one DEP burst); we take the median of 5.
	PrefillSamples = 5
)

// Runner runs tasks; its fields are the outside world (tests replace them).
type Runner struct {
	HTTP     *http.Client
	Logf     func(format string, args ...any)
	ReadFile func(path string) ([]byte, error)
	// Poll is the readiness poll interval (0: 2 s).
	Poll time.Duration
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func (r *Runner) client() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// WaitReady polls the engine's /health and /v1/models until both answer 200.
func (r *Runner) WaitReady(ctx context.Context, t workerproto.Task) error {
	base := strings.TrimSuffix(t.EngineURL, "/")
	last := "no answer yet"
	err := wait.PollUntilContextTimeout(ctx, cmp.Or(r.Poll, 2*time.Second), t.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range []string{"/health", "/v1/models"} {
			code, err := r.get(ctx, base+p, io.Discard)
			switch {
			case err != nil:
				if ctx.Err() == nil { // not the deadline cutting this request short
					last = err.Error()
				}
				return false, nil
			case code != http.StatusOK:
				last = fmt.Sprintf("GET %s: HTTP %d", p, code)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil && ctx.Err() == nil { // our deadline, not the caller's
		return fmt.Errorf("engine at %s was not ready within %v (last: %s): check the engine container's log", base, t.ReadyTimeout, last)
	}
	return err
}

func (r *Runner) get(ctx context.Context, url string, w io.Writer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, io.LimitReader(resp.Body, 32<<20))
	return resp.StatusCode, err
}

// KVCapacity reads the engine's KV capacity: metrics endpoint first, the
// engine log as fallback (profiler.md §15.7). It returns the tokens, the
// source and warnings; on total failure the reference's default with a warning.
func (r *Runner) KVCapacity(ctx context.Context, t workerproto.Task) (int, string, []string) {
	if t.MaxKVTokens > 0 {
		return t.MaxKVTokens, "flag", nil
	}
	var warns []string
	dp := t.Mapping.AttnDP
	var body strings.Builder
	code, err := r.get(ctx, t.MetricsURL, &body)
	switch {
	case err != nil:
		warns = append(warns, fmt.Sprintf("reading %s: %v", t.MetricsURL, err))
	case code != http.StatusOK:
		warns = append(warns, fmt.Sprintf("reading %s: HTTP %d", t.MetricsURL, code))
	case t.Backend == workerproto.BackendTRTLLM:
		if kv, err := KVFromTRTLLMStats([]byte(body.String()), dp); err == nil {
			return kv, "metrics", warns
		} else {
			warns = append(warns, err.Error())
		}
	default:
		if kv, err := KVFromMetrics(t.Backend, []byte(body.String()), dp); err == nil {
			return kv, "metrics", warns
		} else {
			warns = append(warns, err.Error())
		}
	}
	if t.Backend == workerproto.BackendSGLang {
		var info strings.Builder
		if code, err := r.get(ctx, strings.TrimSuffix(t.EngineURL, "/")+"/get_server_info", &info); err == nil && code == http.StatusOK {
			if kv, err := KVFromSGLangServerInfo([]byte(info.String()), dp); err == nil {
				return kv, "server-info", warns
			}
		}
	}
	if t.EngineLog == "" {
		kv, _, err := KVFromLog(t.Backend, "", dp)
		return kv, "default", append(warns, "no engine log to fall back on: "+err.Error())
	}
	read := r.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	b, err := read(t.EngineLog)
	if err != nil {
		kv, _, _ := KVFromLog(t.Backend, "", dp)
		return kv, "default", append(warns, fmt.Sprintf("reading the engine log: %v", err))
	}
	kv, line, err := KVFromLog(t.Backend, string(b), dp)
	if err != nil {
		return kv, "default", append(warns, err.Error())
	}
	r.logf("%s", line)
	return kv, "log", warns
}

// Measure waits for the engine and runs the task's measurement. Failed
// points become warnings (the profiler drops them, as upstream does).
func (r *Runner) Measure(ctx context.Context, t workerproto.Task) (*workerproto.Result, error) {
	res := &workerproto.Result{SchemaVersion: workerproto.ResultSchema, Phase: t.Phase, Backend: t.Backend, Model: t.Model,
		Mapping: t.Mapping, StartedAt: time.Now().UTC()}
	defer func() { res.FinishedAt = time.Now().UTC() }()
	if err := r.WaitReady(ctx, t); err != nil {
		return res, err
	}
	r.logf("engine ready at %s", t.EngineURL)
	var err error
	if t.Phase == workerproto.PhasePrefill {
		err = r.prefill(ctx, t, res)
	} else {
		err = r.decode(ctx, t, res)
	}
	return res, err
}

func (r *Runner) config(t workerproto.Task, isl, osl, conc, count, warmup int, cal *loadgen.Calibration) loadgen.Config {
	return loadgen.Config{
		BaseURL: t.EngineURL, Model: t.Model, ISL: isl, OSL: osl,
		Concurrency: conc, RequestCount: count, WarmupRequests: warmup,
		Seed: uint64(isl)*1000003 + uint64(conc), TokenizerFile: t.Tokenizer, Calibration: cal,
		Logf: r.Logf,
	}
}

// run is one loadgen run that must not lose a request.
func (r *Runner) run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, loadgen.Export, error) {
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return nil, loadgen.Export{}, err
	}
	e := res.Export()
	if e.ErrorRequestCount != nil {
		msg := ""
		if len(e.ErrorSummary) > 0 {
			msg = ": " + e.ErrorSummary[0].ErrorDetails.Message
		}
		return res, e, fmt.Errorf("%.0f of %d requests failed%s", e.ErrorRequestCount.Avg, len(res.Records), msg)
	}
	return res, e, nil
}

func (r *Runner) prefill(ctx context.Context, t workerproto.Task, res *workerproto.Result) error {
	for _, isl := range t.ISLs {
		if err := r.prefillPoint(ctx, t, isl, false, res); err != nil {
			return err
		}
	}
	if len(res.Prefill) == 0 {
		return fmt.Errorf("no prefill point was measured: %s", strings.Join(res.Warnings, "; "))
	}
	// The frontier search: the largest ISL within the TTFT target, from the
	// first ISL (the SLA's) up to MaxISL, as the profiler will ask for it.
	if t.Target > 0 && t.FrontierPoints > 0 {
		isl := t.ISLs[0]
		samples := []grid.Sample{{X: isl, Y: res.Prefill[0].TTFTMs}}
		for range t.FrontierPoints {
			x, ok := grid.NextProbe(samples, t.Target, 1, min(grid.PrefillMinISL, isl), max(t.MaxISL, isl))
			if !ok {
				break
			}
			n := len(res.Prefill)
			if err := r.prefillPoint(ctx, t, x, true, res); err != nil {
				return err
			}
			if len(res.Prefill) == n {
				break // the point failed; the profiler stops at it too
			}
			samples = append(samples, grid.Sample{X: x, Y: res.Prefill[n].TTFTMs})
		}
	}
	return nil
}

// prefillPoint measures the TTFT at one ISL; a failed point is a warning.
// Upstream measures one request (one burst with attention DP): one late
// wake-up of the client, a page fault or a neighbour on the node is then
// the point, and the grid bends around it. We take PrefillSamples samples
// with upstream's warm-up, OSL and extraction rule and keep the median.
func (r *Runner) prefillPoint(ctx context.Context, t workerproto.Task, isl int, frontier bool, res *workerproto.Result) error {
	dp := t.Mapping.AttnDP
	var (
		ttft float64
		e    loadgen.Export
		err  error
	)
	if dp <= 1 {
		r.logf("prefill %s: isl %d, %d requests one at a time, warm-up %d", t.Mapping.Label(), isl, PrefillSamples, WarmupPerDPRank)
		if _, e, err = r.run(ctx, r.config(t, isl, PrefillOSL, 1, PrefillSamples, WarmupPerDPRank, nil)); err != nil {
			err = fmt.Errorf("Failed to extract TTFT from AIPerf result: %w", err)
		} else {
			ttft, err = PrefillTTFT(e, dp)
		}
	} else {
		ttft, e, err = r.prefillBursts(ctx, t, isl)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("isl %d: %v", isl, err))
		return nil
	}
	res.Prefill = append(res.Prefill, workerproto.PrefillPoint{ISL: isl, TTFTMs: ttft,
		ThptPerGPU: float64(isl) / ttft / float64(t.Mapping.N) * 1000 * float64(dp), Frontier: frontier, AIPerf: e})
	r.logf("prefill %s isl %d: TTFT %.2f ms", t.Mapping.Label(), isl, ttft)
	return nil
}

// prefillBursts is the attention-DP measurement: PrefillSamples bursts of
// attn_dp × R requests, each read with the burst formula; the median burst
// is the point (its export is kept).
func (r *Runner) prefillBursts(ctx context.Context, t workerproto.Task, isl int) (float64, loadgen.Export, error) {
	dp := t.Mapping.AttnDP
	n := dp * PrefillDPRatio
	r.logf("prefill %s: isl %d, %d bursts of %d requests, warm-up %d", t.Mapping.Label(), isl, PrefillSamples, n, WarmupPerDPRank*dp)
	type burst struct {
		ttft float64
		e    loadgen.Export
	}
	var bursts []burst
	var cal *loadgen.Calibration
	for i := range PrefillSamples {
		cfg := r.config(t, isl, PrefillOSL, n, n, 0, cal)
		cfg.Seed += uint64(i) << 32 // new prompts for every burst
		if i == 0 {
			cfg.WarmupRequests = WarmupPerDPRank * dp
		}
		lr, e, err := r.run(ctx, cfg)
		if err != nil {
			return 0, e, fmt.Errorf("Failed to extract max TTFT from AIPerf result for DEP prefill: %w", err)
		}
		cal = &lr.Calibration
		v, err := PrefillTTFT(e, dp)
		if err != nil {
			return 0, e, err
		}
		bursts = append(bursts, burst{v, e})
	}
	slices.SortFunc(bursts, func(a, b burst) int { return cmp.Compare(a.ttft, b.ttft) })
	m := bursts[len(bursts)/2]
	return m.ttft, m.e, nil
}

// PrefillTTFT extracts the TTFT of profiler.md §6.4 from one run: at
// attention DP 1 the median of its requests (upstream's single request is
// its own median); the DEP burst formula
// (max − ITL × (OSL−1) × (R−1)) / R otherwise. The errors are upstream's
// warnings.
func PrefillTTFT(e loadgen.Export, attnDP int) (float64, error) {
	ttft := e.TimeToFirstToken
	if attnDP <= 1 {
		if ttft == nil || ttft.P50 == nil || !(*ttft.P50 > 0) {
			return 0, errors.New("Failed to extract TTFT from AIPerf result")
		}
		return *ttft.P50, nil
	}
	if ttft == nil || ttft.Max == nil || e.InterTokenLatency == nil {
		return 0, errors.New("Failed to extract max TTFT from AIPerf result for DEP prefill")
	}
	const r = PrefillDPRatio
	v := (*ttft.Max - e.InterTokenLatency.Avg*(PrefillOSL-1)*(r-1)) / r
	if !(v > 0) {
		return 0, fmt.Errorf("Failed to extract max TTFT from AIPerf result for DEP prefill: the burst formula gives %.2f ms", v)
	}
	return v, nil
}

func (r *Runner) decode(ctx context.Context, t workerproto.Task, res *workerproto.Result) error {
	kv, src, warns := r.KVCapacity(ctx, t)
	res.MaxKVTokens, res.KVSource = kv, src
	res.Warnings = append(res.Warnings, warns...)
	r.logf("max KV tokens %d (from %s)", kv, src)
	dp := t.Mapping.AttnDP
	cals := map[int]*loadgen.Calibration{}
	for _, isl := range t.ISLs {
		maxConc := 0
		if kv > 0 {
			maxConc = kv / (isl + t.OSL)
		}
		if maxConc == 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("max_kv_tokens %d is too small for isl %d + osl %d, skipping.", kv, isl, t.OSL))
			break
		}
		concs := t.Concurrencies
		if len(concs) == 0 {
			concs = grid.NumRequestRange(dp, maxConc, t.Granularity)
		}
		r.logf("Sweeping num_request range based on maximum number of kv tokens: %v", concs)
		var samples []grid.Sample
		for _, n := range concs {
			if p, err := r.decodePoint(ctx, t, isl, n, kv, cals, res); err != nil {
				return err
			} else if p != nil {
				samples = append(samples, grid.Sample{X: n, Y: p.ITLMs})
			}
		}
		// The frontier search, as the profiler will ask for it: bisection
		// between the coarse points that bracket the ITL target.
		if t.Target <= 0 || t.FrontierPoints <= 0 || len(samples) == 0 {
			continue
		}
		ceil := slices.MaxFunc(samples, func(a, b grid.Sample) int { return a.X - b.X }).X
		for range t.FrontierPoints {
			n, ok := grid.NextProbe(samples, t.Target, dp, dp, ceil)
			if !ok {
				break
			}
			p, err := r.decodePoint(ctx, t, isl, n, kv, cals, res)
			if err != nil {
				return err
			}
			if p == nil {
				break // the point failed; the profiler stops at it too
			}
			p.Frontier = true
			samples = append(samples, grid.Sample{X: n, Y: p.ITLMs})
		}
	}
	if len(res.Decode) == 0 {
		return fmt.Errorf("no decode point was measured (max_kv_tokens=%d): %s", kv, strings.Join(res.Warnings, "; "))
	}
	return nil
}

// decodePoint measures concurrency n at isl and appends the point to res
// (nil when it failed: a warning then says why). Two passes as the
// reference's benchmark_decode: a warm-up run (3 per DP rank first), then
// the measured run (3 warm-up).
func (r *Runner) decodePoint(ctx context.Context, t workerproto.Task, isl, n, kv int, cals map[int]*loadgen.Calibration, res *workerproto.Result) (*workerproto.DecodePoint, error) {
	dp := t.Mapping.AttnDP
	lr, _, err := r.run(ctx, r.config(t, isl, t.OSL, n, n, WarmupPerDPRank*dp, cals[isl]))
	if err == nil {
		cals[isl] = &lr.Calibration
		_, e, err2 := r.run(ctx, r.config(t, isl, t.OSL, n, n, WarmupPerDPRank, cals[isl]))
		if err2 == nil && e.InterTokenLatency != nil && e.OutputTokenThroughput != nil {
			ctxLen := float64(isl) + float64(t.OSL)/2
			res.Decode = append(res.Decode, workerproto.DecodePoint{ISL: isl, OSL: t.OSL, Concurrency: n,
				ITLMs: e.InterTokenLatency.Avg, ThptPerGPU: e.OutputTokenThroughput.Avg / float64(max(t.Mapping.N, 1)),
				ContextLength: ctxLen, KVUsage: ctxLen * float64(n) / float64(kv), AIPerf: e})
			r.logf("decode %s isl %d n %d: ITL %.2f ms", t.Mapping.Label(), isl, n, e.InterTokenLatency.Avg)
			if w := clientBound(isl, n, e); w != "" {
				res.Warnings = append(res.Warnings, w)
				r.logf("%s", w)
			}
			return &res.Decode[len(res.Decode)-1], nil
		}
		err = err2
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	msg := "missing metrics"
	if err != nil {
		msg = err.Error()
	}
	res.Warnings = append(res.Warnings, fmt.Sprintf("isl %d concurrency %d: Failed to extract decode metrics from AIPerf result: %s", isl, n, msg))
	return nil, nil
}

// ClientBoundRatio is the share of the asked concurrency below which a
// decode point is reported as limited by the load generator.
const ClientBoundRatio = 0.75

// clientBound warns when fewer requests were in flight than asked: the
// ITL is then that of a smaller batch and the point flatters the engine.
func clientBound(isl, n int, e loadgen.Export) string {
	c := e.EffectiveConcurrency
	if c == nil || n < 4 || c.Avg >= ClientBoundRatio*float64(n) {
		return ""
	}
	return fmt.Sprintf("isl %d concurrency %d: only %.0f requests were in flight on average; the load generator, not the engine, limited this point (give the measure container more CPU)",
		isl, n, c.Avg)
}

// Summary is the short termination message (≤ 4 KiB).
func Summary(res *workerproto.Result, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s: ", res.Phase, res.Backend, res.Mapping.Label())
	switch {
	case err != nil:
		fmt.Fprintf(&b, "failed: %v", err)
	case res.Phase == workerproto.PhasePrefill:
		for i, p := range res.Prefill {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "isl %d ttft %.2fms", p.ISL, p.TTFTMs)
		}
	default:
		fmt.Fprintf(&b, "max_kv_tokens %d (%s); %d points", res.MaxKVTokens, res.KVSource, len(res.Decode))
		for i, p := range res.Decode {
			if i >= 8 {
				b.WriteString(", …")
				break
			}
			fmt.Fprintf(&b, ", n=%d itl %.2fms", p.Concurrency, p.ITLMs)
		}
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintf(&b, "; %d warning(s): %s", len(res.Warnings), res.Warnings[0])
	}
	s := b.String()
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	return s
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("--output-file %s: %w", path, err)
	}
	return nil
}
