package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Endpoint types.
const (
	EndpointChat        = "chat"
	EndpointCompletions = "completions"
)

// Client sends streaming OpenAI requests to one server.
type Client struct {
	HTTP     *http.Client
	BaseURL  string // e.g. http://127.0.0.1:8000 (with or without /v1)
	Model    string
	Endpoint string // chat (default) or completions
	// IgnoreEOS adds ignore_eos:true so the engine emits exactly max_tokens.
	IgnoreEOS bool
	// Extra fields merged into every request body (AIPerf's --extra-inputs).
	Extra map[string]any
}

// Record is one request's measurements. Times are relative to Start.
type Record struct {
	Start        time.Time       `json:"-"`
	TTFT         time.Duration   `json:"ttftNs"`
	Latency      time.Duration   `json:"latencyNs"`
	TokenTimes   []time.Duration `json:"-"` // arrival of each output chunk
	PromptTokens int             `json:"promptTokens"`
	OutputTokens int             `json:"outputTokens"`
	Err          string          `json:"error,omitempty"`
}

// ITL is AIPerf's per-request inter-token latency: the time from the first
// to the last token over the tokens after the first.
func (r Record) ITL() (time.Duration, bool) {
	if r.Err != "" || r.OutputTokens < 2 || len(r.TokenTimes) < 2 {
		return 0, false
	}
	last := r.TokenTimes[len(r.TokenTimes)-1]
	return (last - r.TTFT) / time.Duration(r.OutputTokens-1), true
}

func (c *Client) v1() string {
	base := strings.TrimSuffix(c.BaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	return base
}

func (c *Client) modelsURL() string { return c.v1() + "/models" }

func (c *Client) url() string {
	base := c.v1()
	if c.Endpoint == EndpointCompletions {
		return base + "/completions"
	}
	return base + "/chat/completions"
}

// Body builds the JSON request body.
func (c *Client) Body(prompt string, maxTokens, minTokens int) ([]byte, error) {
	body := map[string]any{}
	for k, v := range c.Extra {
		body[k] = v
	}
	body["model"] = c.Model
	body["stream"] = true
	body["stream_options"] = map[string]any{"include_usage": true}
	body["max_tokens"] = maxTokens
	if minTokens > 0 {
		body["min_tokens"] = minTokens
	}
	if c.IgnoreEOS {
		body["ignore_eos"] = true
	}
	if c.Endpoint == EndpointCompletions {
		body["prompt"] = prompt
	} else {
		body["messages"] = []map[string]string{{"role": "user", "content": prompt}}
	}
	return json.Marshal(body)
}

// Do sends one streaming request and times every token. A failed request
// returns a Record with Err set and no error; err is only for a bad body.
func (c *Client) Do(ctx context.Context, prompt string, maxTokens, minTokens int) Record {
	var rec Record
	body, err := c.Body(prompt, maxTokens, minTokens)
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(), bytes.NewReader(body))
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	rec.Start = time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		rec.Err = fmt.Sprintf("HTTP %d from %s: %s", resp.StatusCode, c.url(), strings.TrimSpace(string(b)))
		return rec
	}
	chunks := 0
	var usage *Usage
	err = ReadSSE(resp.Body, func(data []byte) error {
		now := time.Since(rec.Start)
		ch, tok, err := ParseChunk(data)
		if err != nil {
			return err
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		if tok {
			if chunks == 0 {
				rec.TTFT = now
			}
			chunks++
			rec.TokenTimes = append(rec.TokenTimes, now)
		}
		return nil
	})
	rec.Latency = time.Since(rec.Start)
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	if chunks == 0 {
		rec.Err = "the stream ended without any output token"
		return rec
	}
	rec.OutputTokens = chunks
	if usage != nil {
		rec.PromptTokens = usage.PromptTokens
		if usage.CompletionTokens > 0 {
			rec.OutputTokens = usage.CompletionTokens
		}
	}
	return rec
}
