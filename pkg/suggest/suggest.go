// Package suggest finds the "did you mean" for a mistyped name: a config
// key, a model id, a flag value. One candidate list, one pass over it.
package suggest

import (
	"sort"
	"strings"
)

// maxLen bounds the edit distance's work: a longer name is no typo of a
// short one, and a hostile 64 KiB key must cost nothing.
const maxLen = 64

// Closest returns the candidate nearest to s, case-insensitively: an edit
// distance of at most 2, ties going to a candidate with the same letters
// (a swap such as tftt for ttft), else a candidate with the same letters.
// It returns "" when nothing is close.
func Closest(s string, candidates []string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > maxLen {
		return ""
	}
	best, bestD := "", 3
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == s {
			return c
		}
		if d := distance(s, lc); d < bestD || (d == bestD && best != "" && sameLetters(s, lc)) {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	for _, c := range candidates {
		if sameLetters(s, strings.ToLower(c)) {
			return c
		}
	}
	return ""
}

func sameLetters(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := []byte(a), []byte(b)
	sort.Slice(x, func(i, j int) bool { return x[i] < x[j] })
	sort.Slice(y, func(i, j int) bool { return y[i] < y[j] })
	return string(x) == string(y)
}

// distance is the Levenshtein distance; names longer than maxLen are far.
func distance(a, b string) int {
	if len(a) > maxLen || len(b) > maxLen {
		return maxLen
	}
	if d := len(a) - len(b); d > 2 || d < -2 {
		return 3 // already out of reach: skip the table
	}
	var rows [2][maxLen + 1]int
	prev, cur := rows[0][:len(b)+1], rows[1][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
