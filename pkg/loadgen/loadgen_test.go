package loadgen

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestReadSSE(t *testing.T) {
	in := ": comment\nevent: x\ndata: {\"a\":1}\n\ndata: line1\ndata: line2\n\nid: 3\n\ndata:[DONE]\n\ndata: after\n\n"
	var got []string
	if err := ReadSSE(strings.NewReader(in), func(d []byte) error { got = append(got, string(d)); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":1}`, "line1\nline2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q (stop at [DONE])", got, want)
	}
	// An event without the trailing blank line is still delivered at EOF.
	got = nil
	if err := ReadSSE(strings.NewReader("data: x"), func(d []byte) error { got = append(got, string(d)); return nil }); err != nil || len(got) != 1 || got[0] != "x" {
		t.Fatalf("unterminated event: %q, %v", got, err)
	}
	boom := errors.New("boom")
	if err := ReadSSE(strings.NewReader("data: x\n\n"), func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error not returned: %v", err)
	}
}

func TestParseChunk(t *testing.T) {
	cases := []struct {
		in      string
		tok     bool
		wantErr bool
	}{
		{`{"choices":[{"delta":{"role":"assistant","content":""}}]}`, false, false},
		{`{"choices":[{"delta":{"content":" hi"}}]}`, true, false},
		{`{"choices":[{"delta":{"reasoning_content":"x"}}]}`, true, false},
		{`{"choices":[{"text":"x"}]}`, true, false},
		{`{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}`, false, false},
		{`{"error":{"message":"bad"}}`, false, true},
		{`not json`, false, true},
	}
	for _, c := range cases {
		_, tok, err := ParseChunk([]byte(c.in))
		if tok != c.tok || (err != nil) != c.wantErr {
			t.Errorf("ParseChunk(%s) = %v, %v; want token %v, error %v", c.in, tok, err, c.tok, c.wantErr)
		}
	}
}

func TestPercentileMatchesNumPy(t *testing.T) {
	s := []float64{1, 2, 3, 4}
	// numpy.percentile([1,2,3,4], [50, 90, 99]) = 2.5, 3.7, 3.97
	for q, want := range map[float64]float64{50: 2.5, 90: 3.7, 99: 3.97, 0: 1, 100: 4} {
		if got := Percentile(s, q); math.Abs(got-want) > 1e-12 {
			t.Errorf("p%v = %v, want %v", q, got, want)
		}
	}
	if d := Distribution("ms", nil); d != nil {
		t.Fatal("empty distribution must be nil")
	}
	d := Distribution("ms", []float64{3, 1, 2})
	if d.Avg != 2 || *d.Min != 1 || *d.Max != 3 || *d.P50 != 2 {
		t.Fatalf("distribution %+v", d)
	}
}

func TestCalibrate(t *testing.T) {
	// A tokenizer of 1.3 tokens per word (rounded) and a 9-token template.
	count := func(w int) (int, error) { return 9 + int(math.Round(1.3*float64(w))), nil }
	for _, w := range []int{10, 70, 2301, 24000} {
		isl, _ := count(w)
		c, err := Calibrate(isl, count)
		if err != nil {
			t.Fatalf("isl %d: %v", isl, err)
		}
		if got, _ := count(c.Words); got != isl {
			t.Fatalf("isl %d: %d words give %d tokens", isl, c.Words, got)
		}
		if c.Requests > 6 {
			t.Errorf("isl %d took %d requests", isl, c.Requests)
		}
	}
	// Two tokens per word: odd targets are unreachable and must say so.
	if _, err := Calibrate(101, func(w int) (int, error) { return 2 * w, nil }); err == nil || !strings.Contains(err.Error(), "--tokenizer") {
		t.Fatalf("unreachable isl: %v", err)
	}
	if _, err := Calibrate(5, count); err == nil || !strings.Contains(err.Error(), "chat template") {
		t.Fatalf("isl below the template: %v", err)
	}
	if _, err := Calibrate(100, func(int) (int, error) { return 0, nil }); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("server without usage: %v", err)
	}
}

func TestTokenizerVocabulary(t *testing.T) {
	vocab := map[string]int{}
	for i, w := range strings.Fields(defaultWords) {
		vocab["Ġ"+w] = i
	}
	vocab["ĠABC"], vocab["plain"], vocab["Ġx"] = 1, 2, 3
	b, _ := json.Marshal(map[string]any{"model": map[string]any{"vocab": vocab}})
	v, err := ParseTokenizerVocabulary(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range v.words {
		if w == "ABC" || w == "plain" || w == "x" {
			t.Fatalf("kept %q, which is not a lowercase single-token word of 3-10 letters", w)
		}
	}
	if v.Len() < 50 {
		t.Fatalf("only %d words kept", v.Len())
	}
	if _, err := ParseTokenizerVocabulary([]byte(`{"model":{"vocab":{"a":1}}}`)); err == nil {
		t.Fatal("a tiny vocabulary must be rejected")
	}
	if _, err := ParseTokenizerVocabulary([]byte(`{`)); err == nil {
		t.Fatal("invalid JSON must be rejected")
	}
}

func TestRecordITL(t *testing.T) {
	r := Record{TTFT: 100 * time.Millisecond, OutputTokens: 5,
		TokenTimes: []time.Duration{100 * time.Millisecond, 120 * time.Millisecond, 150 * time.Millisecond, 170 * time.Millisecond, 180 * time.Millisecond}}
	if d, ok := r.ITL(); !ok || d != 20*time.Millisecond {
		t.Fatalf("ITL = %v, %v; want 20ms", d, ok)
	}
	r.OutputTokens = 1
	if _, ok := r.ITL(); ok {
		t.Fatal("one token has no ITL")
	}
}

// Two overlapping requests: A from 0 to 30 ms, B from 15 to 35 ms. A's
// tokens see 1, 2 and 2 requests outstanding; B's see 2 and then 1 (A has
// ended): 8 / 5.
func TestTokenConcurrency(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	recs := []Record{
		{Start: t0.Add(ms(15)), Latency: ms(20), OutputTokens: 2, TokenTimes: []time.Duration{ms(10), ms(20)}},
		{Start: t0, Latency: ms(30), OutputTokens: 3, TokenTimes: []time.Duration{ms(10), ms(20), ms(30)}},
	}
	if c, ok := tokenConcurrency(recs); !ok || math.Abs(c-1.6) > 1e-9 {
		t.Fatalf("token concurrency = %v, %v; want 1.6", c, ok)
	}
	// A failed request still held a slot but its tokens do not count.
	recs[0].Err = "boom"
	if c, ok := tokenConcurrency(recs); !ok || math.Abs(c-5.0/3) > 1e-9 {
		t.Fatalf("with B failed: %v, %v; want A's 1, 2, 2 over 3 tokens", c, ok)
	}
	if _, ok := tokenConcurrency(nil); ok {
		t.Fatal("no records, no concurrency")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{BaseURL: "http://x", Model: "m", ISL: 10, OSL: 5, Concurrency: 1, RequestCount: 1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.RequestCount = 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "request count") {
		t.Fatalf("no count and no duration: %v", err)
	}
	bad = good
	bad.Endpoint = "embeddings"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "embeddings") {
		t.Fatalf("bad endpoint: %v", err)
	}
}

func FuzzSSE(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"usage\":{\"prompt_tokens\":1}}\n\n"))
	f.Add([]byte(":\n\ndata\ndata:\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_ = ReadSSE(strings.NewReader(string(b)), func(d []byte) error {
			n++
			_, _, _ = ParseChunk(d)
			return nil
		})
		if n > len(b)+1 {
			t.Fatalf("%d events from %d bytes", n, len(b))
		}
	})
}
