package util

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var yamlLine = regexp.MustCompile(`line (\d+):`)

// YAMLError says what a YAML parser does not: a tab in the indentation,
// the usual cause of "found character that cannot start any token". data
// is the document when known, to point at the line.
func YAMLError(data []byte, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, "found character that cannot start any token") && !strings.Contains(msg, "found a tab character") {
		return err
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil && data != nil {
		n, _ := strconv.Atoi(m[1])
		lines := bytes.Split(data, []byte("\n"))
		if n >= 1 && n <= len(lines) && bytes.ContainsRune(lines[n-1], '\t') {
			return fmt.Errorf("%w: line %d holds a tab; YAML indents with spaces only: replace the tab with spaces", err, n)
		}
	}
	return fmt.Errorf("%w (a tab? YAML indents with spaces only: replace tabs with spaces)", err)
}
