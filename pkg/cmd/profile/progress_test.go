package profile

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressModes(t *testing.T) {
	var tty, lines, quiet bytes.Buffer
	for _, c := range []struct {
		buf      *bytes.Buffer
		tty, off bool
	}{{&tty, true, false}, {&lines, false, false}, {&quiet, false, true}} {
		p := newProgress(c.buf, c.tty, c.off)
		p.update(0, 4, "planned")
		p.update(1, 4, "prefill TP=1")
		p.update(4, 4, "decode TP=8")
		p.finish()
	}
	if got := lines.String(); got != "[1/4] prefill TP=1\n[4/4] decode TP=8\n" {
		t.Errorf("line mode = %q", got)
	}
	if got := tty.String(); !strings.Contains(got, "\r\x1b[K[#######.......................]  25% prefill TP=1") ||
		!strings.Contains(got, "100% decode TP=8") || !strings.HasSuffix(got, "\r\x1b[K") || strings.Contains(got, "\n") {
		t.Errorf("bar mode = %q", got)
	}
	if quiet.Len() != 0 {
		t.Errorf("quiet wrote %q", quiet.String())
	}
}
