package output

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite is a whole output set of a typical profile, plots included.
func BenchmarkWrite(b *testing.B) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	in := typicalInputs("vllm", "")
	base := b.TempDir()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(base, "out")
		if _, err := Write(dir, r, in); err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteNoPlots(b *testing.B) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	in := typicalInputs("vllm", "")
	in.NoPlots = true
	base := b.TempDir()
	for b.Loop() {
		dir := filepath.Join(base, "out")
		if _, err := Write(dir, r, in); err != nil {
			b.Fatal(err)
		}
		_ = os.RemoveAll(dir)
	}
}
