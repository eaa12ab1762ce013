// Package loadgen is a streaming OpenAI load generator: synthetic prompts of
// exact token counts, a fixed output length, warm-up, fixed concurrency, and
// TTFT/ITL/latency/throughput statistics exported under AIPerf's metric names.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Config is one benchmark run.
type Config struct {
	BaseURL  string
	Model    string
	Endpoint string // chat (default) or completions

	ISL int // prompt tokens per request (exact, calibrated)
	OSL int // output tokens per request (max_tokens = min_tokens = OSL)

	Concurrency    int           // requests in flight
	RequestCount   int           // measured requests; 0 with Duration set means "until Duration"
	Duration       time.Duration // stop issuing new requests after this (0: none)
	WarmupRequests int           // sent first, at the same concurrency, not measured

	// NoIgnoreEOS drops ignore_eos (servers with a strict schema reject it).
	NoIgnoreEOS bool
	// NoMinTokens drops min_tokens.
	NoMinTokens bool
	Extra       map[string]any

	Seed          uint64
	TokenizerFile string
	// Calibration, when its ISL equals ISL, is reused instead of probing
	// the server again (a decode Job measures many points at one ISL).
	Calibration    *Calibration
	RequestTimeout time.Duration // per request; 0 means 30 min (AIPerf's 1800 s)

	// HTTP overrides the client (tests); nil builds one sized for Concurrency.
	HTTP *http.Client
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.BaseURL == "":
		return errors.New("url is empty: set it to the server's base URL, e.g. http://127.0.0.1:8000")
	case c.Model == "":
		return errors.New("model is empty: set it to the served model name (GET /v1/models lists it)")
	case c.Endpoint != "" && c.Endpoint != EndpointChat && c.Endpoint != EndpointCompletions:
		return fmt.Errorf("endpoint %q is not supported: use chat or completions", c.Endpoint)
	case c.ISL < 1 || c.ISL > 1<<22:
		return fmt.Errorf("isl %d is out of range: use 1 to %d tokens", c.ISL, 1<<22)
	case c.OSL < 1 || c.OSL > 1<<20:
		return fmt.Errorf("osl %d is out of range: use 1 to %d tokens", c.OSL, 1<<20)
	case c.Concurrency < 1 || c.Concurrency > 100000:
		return fmt.Errorf("concurrency %d is out of range: use 1 to 100000", c.Concurrency)
	case c.RequestCount < 0:
		return fmt.Errorf("request count %d is negative: use 0 (with a duration) or more", c.RequestCount)
	case c.RequestCount == 0 && c.Duration <= 0:
		return errors.New("neither a request count nor a duration is set: set one so the run ends")
	case c.WarmupRequests < 0:
		return fmt.Errorf("warm-up request count %d is negative: use 0 or more", c.WarmupRequests)
	case c.Duration < 0:
		return fmt.Errorf("duration %v is negative", c.Duration)
	}
	return nil
}

// Result is a finished run.
type Result struct {
	Config      Config
	Calibration Calibration
	Records     []Record // measured requests, in completion order
	Start, End  time.Time
}

// Run calibrates the prompt length, runs the warm-up, then the measured
// requests at fixed concurrency. Failed requests are kept in Records with Err.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	vocab := DefaultVocabulary()
	if cfg.TokenizerFile != "" {
		v, err := LoadTokenizerVocabulary(cfg.TokenizerFile)
		if err != nil {
			return nil, err
		}
		vocab = v
	}
	timeout := cfg.RequestTimeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	hc := cfg.HTTP
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = cfg.Concurrency + 8
		tr.MaxIdleConnsPerHost = cfg.Concurrency + 8
		hc = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	cl := &Client{HTTP: hc, BaseURL: cfg.BaseURL, Model: cfg.Model, Endpoint: cfg.Endpoint, IgnoreEOS: !cfg.NoIgnoreEOS, Extra: cfg.Extra}
	minTok := cfg.OSL
	if cfg.NoMinTokens {
		minTok = 0
	}

	var cal Calibration
	if cfg.Calibration != nil && cfg.Calibration.ISL == cfg.ISL && cfg.Calibration.Words > 0 {
		cal = *cfg.Calibration
		cal.Requests = 0
	} else {
		calRNG := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
		c, err := Calibrate(cfg.ISL, func(words int) (int, error) {
			rctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r := cl.Do(rctx, vocab.Prompt(calRNG, words), 1, 0)
			if r.Err != "" {
				return 0, errors.New(r.Err)
			}
			return r.PromptTokens, nil
		})
		if err != nil {
			return nil, err
		}
		cal = c
	}
	logf("calibrated: %d words give %d prompt tokens (%.3f tokens/word, template %.0f) after %d requests",
		cal.Words, cal.ISL, cal.PerWord, cal.Overhead, cal.Requests)

	// One RNG per run; prompts are built under the mutex so the sequence is
	// reproducible for a seed regardless of scheduling.
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	prompt := func() string {
		mu.Lock()
		defer mu.Unlock()
		return vocab.Prompt(rng, cal.Words)
	}
	one := func() Record {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return cl.Do(rctx, prompt(), cfg.OSL, minTok)
	}

	// Open the connections first so TCP set-up under load does not land
	// in the first wave's TTFT (GET /v1/models never touches the engine).
	warmConnections(ctx, cl, cfg.Concurrency)
	if cfg.WarmupRequests > 0 {
		logf("warm-up: %d requests", cfg.WarmupRequests)
		recs := runPool(ctx, min(cfg.Concurrency, cfg.WarmupRequests), cfg.WarmupRequests, 0, one)
		for _, r := range recs {
			if r.Err != "" {
				return nil, fmt.Errorf("warm-up request failed: %s", r.Err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logf("measuring: concurrency %d, %d requests, isl %d, osl %d", cfg.Concurrency, cfg.RequestCount, cfg.ISL, cfg.OSL)
	res := &Result{Config: cfg, Calibration: cal, Start: time.Now()}
	res.Records = runPool(ctx, cfg.Concurrency, cfg.RequestCount, cfg.Duration, one)
	res.End = time.Now()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

func warmConnections(ctx context.Context, cl *Client, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.modelsURL(), nil)
			if err != nil {
				return
			}
			resp, err := cl.HTTP.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
		}()
	}
	wg.Wait()
}

// runPool keeps conc requests in flight until count requests were issued
// (count 0: until dur has passed).
func runPool(ctx context.Context, conc, count int, dur time.Duration, one func() Record) []Record {
	var (
		mu      sync.Mutex
		issued  int
		records []Record
		wg      sync.WaitGroup
	)
	deadline := time.Time{}
	if dur > 0 {
		deadline = time.Now().Add(dur)
	}
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || (count > 0 && issued >= count) || (!deadline.IsZero() && time.Now().After(deadline)) {
			return false
		}
		issued++
		return true
	}
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for take() {
				r := one()
				mu.Lock()
				records = append(records, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return records
}
