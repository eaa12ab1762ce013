package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// -X silently does nothing on a wrong import path or a constant, so build the
// binary with a stamp, as the Makefile does, and check what it prints.
func TestVersionStamp(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kubectl-dgdr")
	pkg := "github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".commit=abc123", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	if got := string(out); !strings.HasPrefix(got, "kubectl-dgdr v9.8.7 (commit abc123, go1.") {
		t.Fatalf("version printed %q", got)
	}
	out, err = exec.Command(bin, "version", "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"version": "v9.8.7"`) || !strings.Contains(string(out), `"goVersion": "go1.`) {
		t.Fatalf("version -o json printed %q (%v)", out, err)
	}
	out, err = exec.Command(bin, "version", "-o", "xml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--output "xml" is not supported`) {
		t.Fatalf("want a clear error for -o xml, got %q (%v)", out, err)
	}
}
