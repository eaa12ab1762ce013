package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxSSELine bounds one SSE line; a longer line is an error, not an OOM.
const maxSSELine = 4 << 20

// errDone stops ReadSSE at the OpenAI "[DONE]" sentinel.
var errDone = errors.New("done")

// ReadSSE calls fn with the payload of every `data:` event in r, in order,
// until EOF or a `data: [DONE]` event. Multi-line data fields are joined
// with "\n" as the SSE spec says; comments and other fields are skipped.
func ReadSSE(r io.Reader, fn func(data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
	var buf []byte
	have := false
	flush := func() error {
		if !have {
			return nil
		}
		d := buf
		buf, have = buf[:0:0], false
		if bytes.Equal(bytes.TrimSpace(d), []byte("[DONE]")) {
			return errDone
		}
		return fn(d)
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if err := flush(); err != nil {
				if err == errDone {
					return nil
				}
				return err
			}
			continue
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if !found || !bytes.Equal(field, []byte("data")) {
			continue // comment (":"), event:, id:, retry:
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if have {
			buf = append(buf, '\n')
		}
		buf = append(buf, value...)
		have = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the event stream: %w", err)
	}
	if err := flush(); err != nil && err != errDone {
		return err
	}
	return nil
}

// Chunk is the part of an OpenAI streaming chunk (chat or completions) the
// load generator reads.
type Chunk struct {
	Choices []struct {
		Delta struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Usage is the OpenAI usage block.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// ParseChunk decodes one streaming chunk and reports whether it carries
// output text (a token arrival).
func ParseChunk(data []byte) (Chunk, bool, error) {
	var c Chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return c, false, fmt.Errorf("decoding a stream chunk %q: %w", truncate(data, 120), err)
	}
	if c.Error != nil {
		return c, false, fmt.Errorf("server error in stream: %s", c.Error.Message)
	}
	for _, ch := range c.Choices {
		if (ch.Delta.Content != nil && *ch.Delta.Content != "") ||
			(ch.Delta.ReasoningContent != nil && *ch.Delta.ReasoningContent != "") ||
			(ch.Text != nil && *ch.Text != "") {
			return c, true, nil
		}
	}
	return c, false, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
