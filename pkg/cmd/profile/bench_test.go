package profile_test

import (
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkProfileLocal is a whole `profile --local` of the AI Configurator
// example through the real root command: plan, measure, select, interpolate,
// and every output (plots and npz included).
func BenchmarkProfileLocal(b *testing.B) {
	base := b.TempDir()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(base, strconv.Itoa(i))
		if _, stderr, err := run(b, "", "profile", "--local", "-f", examples+"trtllm-aic-offline.yaml", "--output-dir", dir, "--quiet"); err != nil {
			b.Fatalf("%v\n%s", err, stderr)
		}
	}
}
