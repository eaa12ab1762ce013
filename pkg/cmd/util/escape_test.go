package util

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"Qwen/Qwen3-0.6B":               "Qwen/Qwen3-0.6B",
		"a\x1b]0;PWNED\x07\x1b[2J\x00b": "a^[]0;PWNED^G^[[2J^@b",
		"line\nbreak\ttab\x7f":          "line^Jbreak^Itab^?",
		"rtl\u202eevil\u0085":           `rtl\u202Eevil\u0085`,
		"ünïcode 模型":                    "ünïcode 模型",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
