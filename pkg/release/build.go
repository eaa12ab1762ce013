package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildOptions describes a static cross-build of one main package.
type BuildOptions struct {
	Package string // e.g. ./cmd/kubectl-dgdr
	Name    string // binary name without .exe
	LDFlags string
	Dir     string // module root the go command runs in
	OutDir  string // binaries go to OutDir/<os>_<arch>/<name>[.exe]
	GoCmd   string // defaults to "go"
	Log     io.Writer
}

// BinaryPath is where Build puts the binary for p.
func (o BuildOptions) BinaryPath(p Platform) string {
	return filepath.Join(o.OutDir, p.OS+"_"+p.Arch, p.Exe(o.Name))
}

// Build cross-compiles the package for p with CGO off and -trimpath. The go
// command skips the link when the output already has the same build ID, so
// rebuilding unchanged sources with unchanged flags costs little.
func Build(ctx context.Context, o BuildOptions, p Platform) (string, error) {
	if o.Package == "" || o.Name == "" || o.OutDir == "" {
		return "", fmt.Errorf("build %s: Package, Name and OutDir must be set (got %q, %q, %q)", p, o.Package, o.Name, o.OutDir)
	}
	out := o.BinaryPath(p)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	gocmd := o.GoCmd
	if gocmd == "" {
		gocmd = "go"
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, gocmd, "build", "-trimpath", "-ldflags", o.LDFlags, "-o", abs, o.Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if o.Log != nil {
		fmt.Fprintf(o.Log, "build %s %s -> %s\n", o.Package, p, out)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("GOOS=%s GOARCH=%s go build %s: %w\n%s", p.OS, p.Arch, o.Package, err, stderr.String())
	}
	return out, nil
}
