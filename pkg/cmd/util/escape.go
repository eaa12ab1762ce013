package util

import (
	"fmt"
	"strings"
	"unicode"
)

// Escape keeps text that came from an object or the cluster from driving
// the terminal. C0 control characters and DEL are printed in caret
// notation (ESC as ^[, BEL as ^G, NUL as ^@), as kubectl's printers write
// ESC; C1 controls and invisible formatting characters such as a
// bidirectional override as \u escapes. cli-runtime's WriteEscaped
// handles ESC alone, so BEL and NUL would pass raw.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		case r == 0x7f:
			b.WriteString("^?")
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
