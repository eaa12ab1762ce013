package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/loadgen"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// Measurement constants of profiler.md §6.4 and §7.4.
const (
	PrefillOSL      = 5 // AIPERF_PREFILL_BENCHMARK_OSL
	PrefillDPRatio  = 4 // AIPERF_PREFILL_ATTN_DP_NUM_REQ_RATIO
	WarmupPerDPRank = 3 // AIPERF_WARMUP_REQUEST_PER_DP_RANK
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
	poll := r.Poll
	if poll == 0 {
		poll = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t.ReadyTimeout)
	defer cancel()
	base := strings.TrimSuffix(t.EngineURL, "/")
	last := "no answer yet"
	for {
		ok := true
		for _, p := range []string{"/health", "/v1/models"} {
			code, err := r.get(ctx, base+p, io.Discard)
			if err != nil || code != http.StatusOK {
				ok = false
				if err != nil {
					last = err.Error()
				} else {
					last = fmt.Sprintf("GET %s: HTTP %d", p, code)
				}
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("engine at %s was not ready within %v (last: %s): check the engine container's log", base, t.ReadyTimeout, last)
			}
			return ctx.Err()
		case <-time.After(poll):
		}
	}
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
		if kv, err := KVFromMetrics(t.Backend, ParseMetrics([]byte(body.String())), dp); err == nil {
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
	dp := t.Mapping.AttnDP
	for _, isl := range t.ISLs {
		conc, warm := 1, WarmupPerDPRank
		if dp > 1 {
			conc, warm = dp*PrefillDPRatio, WarmupPerDPRank*dp
		}
		r.logf("prefill %s: isl %d, concurrency %d, warm-up %d", t.Mapping.Label(), isl, conc, warm)
		_, e, err := r.run(ctx, r.config(t, isl, PrefillOSL, conc, conc, warm, nil))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("isl %d: Failed to extract TTFT from AIPerf result: %v", isl, err))
			continue
		}
		ttft, ok := PrefillTTFT(e, dp)
		if !ok {
			res.Warnings = append(res.Warnings, fmt.Sprintf("isl %d: Failed to extract TTFT from AIPerf result", isl))
			continue
		}
		res.Prefill = append(res.Prefill, workerproto.PrefillPoint{ISL: isl, TTFTMs: ttft,
			ThptPerGPU: float64(isl) / ttft / float64(t.Mapping.N) * 1000 * float64(dp), AIPerf: e})
		r.logf("prefill %s isl %d: TTFT %.2f ms", t.Mapping.Label(), isl, ttft)
	}
	if len(res.Prefill) == 0 {
		return fmt.Errorf("no prefill point was measured: %s", strings.Join(res.Warnings, "; "))
	}
	return nil
}

// PrefillTTFT extracts the TTFT of profiler.md §6.4: the average at
// attention DP 1; the DEP burst formula (max − ITL × (OSL−1) × (R−1)) / R.
func PrefillTTFT(e loadgen.Export, attnDP int) (float64, bool) {
	if e.TimeToFirstToken == nil {
		return 0, false
	}
	if attnDP <= 1 {
		return e.TimeToFirstToken.Avg, e.TimeToFirstToken.Avg > 0
	}
	if e.TimeToFirstToken.Max == nil || e.InterTokenLatency == nil {
		return 0, false
	}
	const r = PrefillDPRatio
	v := (*e.TimeToFirstToken.Max - e.InterTokenLatency.Avg*(PrefillOSL-1)*(r-1)) / r
	return v, v > 0
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
		for _, n := range concs {
			// Two passes as the reference's benchmark_decode: a warm-up run
			// (3 per DP rank first), then the measured run (3 warm-up).
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
					continue
				}
				err = err2
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := "missing metrics"
			if err != nil {
				msg = err.Error()
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("isl %d concurrency %d: Failed to extract decode metrics from AIPerf result: %s", isl, n, msg))
		}
	}
	if len(res.Decode) == 0 {
		return fmt.Errorf("no decode point was measured (max_kv_tokens=%d): %s", kv, strings.Join(res.Warnings, "; "))
	}
	return nil
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
