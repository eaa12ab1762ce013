package release

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Checksums maps a file's base name to its lowercase hex sha256, the format
// of `sha256sum` and of krew's sha256 field.
type Checksums map[string]string

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// FileSHA256 hashes a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteTo writes "<sha256>  <name>" lines sorted by name, which
// `sha256sum -c checksums.txt` reads.
func (c Checksums) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	var total int64
	for _, n := range names {
		k, err := fmt.Fprintf(w, "%s  %s\n", c[n], n)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ParseChecksums reads the sha256sum format; a leading "*" (binary mode) on
// the name is accepted.
func ParseChecksums(r io.Reader) (Checksums, error) {
	out := Checksums{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		sum, name, ok := strings.Cut(text, " ")
		name = strings.TrimPrefix(strings.TrimSpace(name), "*")
		if !ok || name == "" || !sha256Hex.MatchString(sum) {
			return nil, fmt.Errorf("checksums line %d %q: want \"<64 lowercase hex>  <file name>\"", line, text)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("checksums line %d: %s is listed twice", line, name)
		}
		out[name] = sum
	}
	return out, sc.Err()
}

// ReadChecksumsFile parses a checksums.txt.
func ReadChecksumsFile(path string) (Checksums, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseChecksums(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
