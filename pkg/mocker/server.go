// Package mocker is an engine simulator: an OpenAI-compatible streaming
// server that emulates continuous batching over a paged KV cache, with step
// times from the estimator (or fixed), and vLLM's KV-capacity metrics. It
// stands in for the engine in online profiling Jobs on GPU-less clusters.
//
// Model: requests go round-robin to attention-DP ranks. A rank admits a
// request when it has a free sequence slot (max-num-seqs) and KV blocks for
// prompt + max_tokens (reserved up front, so nothing is ever preempted);
// otherwise it waits FIFO. An admitted request's first token comes after its
// prefill time; every later token after one decode step whose time depends
// on the rank's current batch and context. Each sequence keeps its own step
// phase (deadlines accumulate, so scheduler jitter does not drift ITL).
package mocker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a simulated engine.
type Config struct {
	Model        string // served model name
	BlockSize    int    // tokens per KV block (vLLM default 16)
	NumGPUBlocks int    // KV blocks per attention-DP rank
	MaxNumSeqs   int    // sequences per rank (vLLM --max-num-seqs)
	AttnDP       int    // attention data-parallel ranks
	MaxModelLen  int    // longest prompt + output (for the log line and checks)
	Timing       Timing
	// TimeScale multiplies every simulated time (0.01: 100× faster); 0 means 1.
	TimeScale float64
	// StartupDelay keeps /health at 503 for this long (engine load time).
	StartupDelay time.Duration
	// Log gets vLLM-style engine log lines (the §15.7 fallback parses them).
	Log io.Writer
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.BlockSize == 0 {
		c.BlockSize = 16
	}
	if c.MaxNumSeqs == 0 {
		c.MaxNumSeqs = 1024
	}
	if c.AttnDP == 0 {
		c.AttnDP = 1
	}
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	if c.MaxModelLen == 0 {
		c.MaxModelLen = 40960
	}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.Model == "":
		return errors.New("served model name is empty: set --served-model-name")
	case c.BlockSize < 1 || c.BlockSize > 1024:
		return fmt.Errorf("block size %d is out of range: use 1 to 1024", c.BlockSize)
	case c.NumGPUBlocks < 1:
		return fmt.Errorf("KV blocks per rank %d is invalid: set --num-gpu-blocks or use estimator timing", c.NumGPUBlocks)
	case c.MaxNumSeqs < 1:
		return fmt.Errorf("max-num-seqs %d is invalid: use at least 1", c.MaxNumSeqs)
	case c.AttnDP < 1 || c.AttnDP > 1024:
		return fmt.Errorf("attention DP %d is out of range: use 1 to 1024", c.AttnDP)
	case c.MaxModelLen < 1:
		return fmt.Errorf("max model length %d is invalid: use at least 1", c.MaxModelLen)
	case c.Timing == nil:
		return errors.New("timing is nil: use FixedTiming or NewEstimatorTiming")
	case math.IsNaN(c.TimeScale) || c.TimeScale <= 0 || c.TimeScale > 1000:
		return fmt.Errorf("time scale %v is out of range: use a value in (0, 1000]", c.TimeScale)
	}
	return nil
}

// Server is a running simulated engine. Use Handler to serve it.
type Server struct {
	cfg     Config
	started time.Time

	mu      sync.Mutex
	ranks   []*rank
	next    int // round-robin
	nextID  uint64
	prompt  int64 // counters for /metrics
	gen     int64
	success int64
}

type rank struct {
	freeBlocks int
	running    int
	ctxTokens  int64 // sum of context lengths of running sequences
	waiting    []*seq
}

type seq struct {
	rank     int
	prompt   int
	maxTok   int
	blocks   int
	admitted chan struct{}
}

// New builds a server; it writes the engine's start-up log lines.
func New(cfg Config) (*Server, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, started: time.Now()}
	for range cfg.AttnDP {
		s.ranks = append(s.ranks, &rank{freeBlocks: cfg.NumGPUBlocks})
	}
	if cfg.Log != nil {
		tokens := cfg.NumGPUBlocks * cfg.BlockSize
		for i := range cfg.AttnDP {
			fmt.Fprintf(cfg.Log, "INFO [kv_cache_utils.py] (EngineCore_DP%d) GPU KV cache size: %s tokens\n", i, commas(tokens))
			fmt.Fprintf(cfg.Log, "INFO [kv_cache_utils.py] (EngineCore_DP%d) Maximum concurrency for %s tokens per request: %.2fx\n",
				i, commas(cfg.MaxModelLen), float64(tokens)/float64(cfg.MaxModelLen))
		}
		fmt.Fprintf(cfg.Log, "INFO [mocker] serving %s: %d rank(s), %d blocks of %d tokens each, max-num-seqs %d\n",
			cfg.Model, cfg.AttnDP, cfg.NumGPUBlocks, cfg.BlockSize, cfg.MaxNumSeqs)
	}
	return s, nil
}

func commas(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Server) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.cfg.TimeScale)
}

// submit assigns a rank and admits or queues the sequence.
func (s *Server) submit(q *seq) error {
	q.blocks = (q.prompt + q.maxTok + s.cfg.BlockSize - 1) / s.cfg.BlockSize
	if q.blocks > s.cfg.NumGPUBlocks {
		return fmt.Errorf("prompt (%d tokens) + max_tokens (%d) needs %d KV blocks but a rank has %d: lower max_tokens or the prompt",
			q.prompt, q.maxTok, q.blocks, s.cfg.NumGPUBlocks)
	}
	if q.prompt+q.maxTok > s.cfg.MaxModelLen {
		return fmt.Errorf("prompt (%d tokens) + max_tokens (%d) exceeds the max model length %d", q.prompt, q.maxTok, s.cfg.MaxModelLen)
	}
	q.admitted = make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	q.rank = s.next
	s.next = (s.next + 1) % len(s.ranks)
	r := s.ranks[q.rank]
	r.waiting = append(r.waiting, q)
	s.admitLocked(r)
	return nil
}

// admitLocked admits waiting sequences in FIFO order while they fit.
func (s *Server) admitLocked(r *rank) {
	for len(r.waiting) > 0 {
		q := r.waiting[0]
		if r.running >= s.cfg.MaxNumSeqs || q.blocks > r.freeBlocks {
			return
		}
		r.waiting = r.waiting[1:]
		r.freeBlocks -= q.blocks
		r.running++
		r.ctxTokens += int64(q.prompt)
		s.prompt += int64(q.prompt)
		close(q.admitted)
	}
}

// cancel removes a queued sequence or releases an admitted one.
func (s *Server) release(q *seq, ctxTokens int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ranks[q.rank]
	select {
	case <-q.admitted:
	default:
		for i, w := range r.waiting {
			if w == q {
				r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
				break
			}
		}
		return
	}
	r.freeBlocks += q.blocks
	r.running--
	r.ctxTokens -= int64(ctxTokens)
	if ok {
		s.success++
	}
	s.admitLocked(r)
}

// tokenDone records one generated token and returns the rank's batch.
func (s *Server) tokenDone(q *seq) (running int, avgCtx float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	r := s.ranks[q.rank]
	r.ctxTokens++
	total := 0
	for _, x := range s.ranks {
		total += x.running
	}
	if r.running > 0 {
		avgCtx = float64(r.ctxTokens) / float64(r.running)
	}
	return total, avgCtx
}

// Stats is a snapshot of the engine state.
type Stats struct {
	Running, Waiting     int
	FreeBlocks           int
	PromptTokens, Tokens int64
	Success              int64
}

// Stats returns a snapshot over all ranks.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{PromptTokens: s.prompt, Tokens: s.gen, Success: s.success}
	for _, r := range s.ranks {
		st.Running += r.running
		st.Waiting += len(r.waiting)
		st.FreeBlocks += r.freeBlocks
	}
	return st
}

// generate runs one admitted sequence, calling emit for every token
// (index 0 is the first). It returns the number of tokens emitted.
func (s *Server) generate(ctx context.Context, q *seq, emit func(i int) error) (int, error) {
	select {
	case <-q.admitted:
	case <-ctx.Done():
		s.release(q, 0, false)
		return 0, ctx.Err()
	}
	ctxTokens := q.prompt
	n := 0
	defer func() { s.release(q, ctxTokens, n == q.maxTok) }()
	pf, err := s.cfg.Timing.Prefill(q.prompt)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(s.scale(pf))
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for n < q.maxTok {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		running, avg := s.tokenDone(q)
		ctxTokens++
		if err := emit(n); err != nil {
			n++
			return n, err
		}
		n++
		if n == q.maxTok {
			break
		}
		d, err := s.cfg.Timing.Decode(running, avg)
		if err != nil {
			return n, err
		}
		deadline = deadline.Add(s.scale(d))
		timer.Reset(time.Until(deadline))
	}
	return n, nil
}

// Handler serves the OpenAI API, /health and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.complete(w, r, true) })
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.complete(w, r, false) })
	return mux
}

func (s *Server) ready() bool { return time.Since(s.started) >= s.cfg.StartupDelay }

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	if !s.ready() {
		http.Error(w, "engine starting", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []map[string]any{{
			"id": s.cfg.Model, "object": "model", "created": s.started.Unix(), "owned_by": "dgdr-mocker",
			"max_model_len": s.cfg.MaxModelLen,
		}},
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": code}})
}
