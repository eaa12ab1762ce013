package mocker

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Chat template cost of the simulated tokenizer: every message adds
// messageOverhead tokens and the assistant prefix adds replyOverhead, so
// load generators have a non-trivial template to calibrate away.
const (
	messageOverhead = 4
	replyOverhead   = 3
	maxBody         = 64 << 20
	defaultMaxTok   = 16
)

type request struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	MinTokens           *int            `json:"min_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// CountTokens is the simulated tokenizer: one token per whitespace-separated
// word plus the chat template. It is exported so tests can predict it.
func CountTokens(chat bool, texts []string) int {
	n := 0
	for _, t := range texts {
		n += len(strings.Fields(t))
		if chat {
			n += messageOverhead
		}
	}
	if chat {
		return n + replyOverhead
	}
	return n + 1 // BOS
}

// promptTokens counts the request's prompt.
func (r *request) promptTokens(chat bool) (int, error) {
	var texts []string
	if chat {
		if len(r.Messages) == 0 {
			return 0, fmt.Errorf("messages is empty: send at least one message")
		}
		for i, m := range r.Messages {
			t, err := contentText(m.Content)
			if err != nil {
				return 0, fmt.Errorf("messages[%d].content: %w", i, err)
			}
			texts = append(texts, t)
		}
		return CountTokens(true, texts), nil
	}
	if len(r.Prompt) == 0 {
		return 0, fmt.Errorf("prompt is empty: send a prompt")
	}
	var s string
	if err := json.Unmarshal(r.Prompt, &s); err == nil {
		return CountTokens(false, []string{s}), nil
	}
	var ids []int
	if err := json.Unmarshal(r.Prompt, &ids); err == nil && len(ids) > 0 {
		return len(ids), nil
	}
	var ss []string
	if err := json.Unmarshal(r.Prompt, &ss); err == nil && len(ss) == 1 {
		return CountTokens(false, ss), nil
	}
	return 0, fmt.Errorf("prompt must be a string, one string in a list, or a list of token ids")
}

func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("must be a string or a list of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
		b.WriteByte(' ')
	}
	return b.String(), nil
}

func (s *Server) complete(w http.ResponseWriter, hr *http.Request, chat bool) {
	if !s.ready() {
		apiError(w, http.StatusServiceUnavailable, "engine is starting")
		return
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if len(body) > maxBody {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", maxBody))
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, http.StatusBadRequest, "body is not a valid request: "+err.Error())
		return
	}
	if req.Model != "" && req.Model != s.cfg.Model {
		apiError(w, http.StatusNotFound, fmt.Sprintf("model %q does not exist: this server serves %q", req.Model, s.cfg.Model))
		return
	}
	prompt, err := req.promptTokens(chat)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	maxTok := defaultMaxTok
	switch {
	case req.MaxTokens != nil:
		maxTok = *req.MaxTokens
	case req.MaxCompletionTokens != nil:
		maxTok = *req.MaxCompletionTokens
	}
	if maxTok < 1 {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("max_tokens %d is invalid: use at least 1", maxTok))
		return
	}
	if req.MinTokens != nil && *req.MinTokens > maxTok {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("min_tokens %d exceeds max_tokens %d", *req.MinTokens, maxTok))
		return
	}
	q := &seq{prompt: prompt, maxTok: maxTok}
	if err := s.submit(q); err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	kind, idp := "text_completion", "cmpl-"
	if chat {
		kind, idp = "chat.completion", "chatcmpl-"
	}
	created := time.Now().Unix()
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%%d,"total_tokens":%%d}`, prompt)

	if !req.Stream {
		n, err := s.generate(hr.Context(), q, func(int) error { return nil })
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		text := strings.Repeat(" x", n)
		choice := map[string]any{"index": 0, "finish_reason": "length"}
		if chat {
			choice["message"] = map[string]any{"role": "assistant", "content": text}
		} else {
			choice["text"] = text
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": idp + strconv.FormatUint(id, 10), "object": kind, "created": created, "model": s.cfg.Model,
			"choices": []any{choice},
			"usage":   json.RawMessage(fmt.Sprintf(usage, n, prompt+n)),
		})
		return
	}

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	head := fmt.Sprintf(`{"id":"%s%d","object":"%s.chunk","created":%d,"model":%q,"choices":[`, idp, id, kind, created, s.cfg.Model)
	if !chat {
		head = fmt.Sprintf(`{"id":"%s%d","object":"%s","created":%d,"model":%q,"choices":[`, idp, id, kind, created, s.cfg.Model)
	}
	send := func(payload string) error {
		if _, err := bw.WriteString("data: " + payload + "\n\n"); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	// queue buffers an event for the next send (one write per token).
	queue := func(payload string) { _, _ = bw.WriteString("data: " + payload + "\n\n") }
	tokenChunk := head + `{"index":0,"delta":{"content":" x"},"finish_reason":null}]}`
	if !chat {
		tokenChunk = head + `{"index":0,"text":" x","finish_reason":null}]}`
	}
	n, err := s.generate(hr.Context(), q, func(i int) error {
		if i == 0 && chat {
			queue(head + `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
		}
		return send(tokenChunk)
	})
	if err != nil {
		// The status is already sent; report in-band as vLLM does.
		_ = send(fmt.Sprintf(`{"error":{"message":%q,"code":500}}`, err.Error()))
		return
	}
	final := head + `{"index":0,"delta":{},"finish_reason":"length"}]}`
	if !chat {
		final = head + `{"index":0,"text":"","finish_reason":"length"}]}`
	}
	_ = send(final)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		_ = send(head + `],"usage":` + fmt.Sprintf(usage, n, prompt+n) + `}`)
	}
	_ = send("[DONE]")
}
