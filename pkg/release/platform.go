// Package release builds what a kubectl-dgdr release ships: cross-compiled
// binaries, reproducible archives, a sha256 checksum file, the krew manifest
// rendered from krew/dgdr.yaml.tmpl, and multi-arch OCI images. The driver is
// hack/release; the Makefile include is hack/make/release.mk.
package release

import (
	"fmt"
	"strings"
)

// Platform is one GOOS/GOARCH pair; its strings double as krew's os/arch
// selector labels, which use Go's names.
type Platform struct {
	OS   string
	Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatform reads "os/arch".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	if !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
		return Platform{}, fmt.Errorf("platform %q: want os/arch, for example linux/amd64", s)
	}
	return Platform{OS: os, Arch: arch}, nil
}

// ParsePlatforms reads a comma- or space-separated list of "os/arch".
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	seen := map[Platform]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := ParsePlatform(f)
		if err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("platform %s is listed twice", p)
		}
		seen[p] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platforms in %q: want a list like linux/amd64,darwin/arm64", s)
	}
	return out, nil
}

// DefaultPlatforms is what a release ships the plugin for.
func DefaultPlatforms() []Platform {
	return []Platform{
		{"linux", "amd64"}, {"linux", "arm64"},
		{"darwin", "amd64"}, {"darwin", "arm64"},
		{"windows", "amd64"}, {"windows", "arm64"},
	}
}

// Exe appends ".exe" on Windows, where krew and the shell need it.
func (p Platform) Exe(name string) string {
	if p.OS == "windows" {
		return name + ".exe"
	}
	return name
}

// ArchiveExt is ".zip" on Windows (what Windows users can open without tools)
// and ".tar.gz" elsewhere; krew accepts both.
func (p Platform) ArchiveExt() string {
	if p.OS == "windows" {
		return ".zip"
	}
	return ".tar.gz"
}

// ArchiveName follows goreleaser's default naming, as CNPG's release does:
// kubectl-dgdr_v0.1.0_linux_amd64.tar.gz.
func ArchiveName(project, version string, p Platform) string {
	return fmt.Sprintf("%s_%s_%s_%s%s", project, version, p.OS, p.Arch, p.ArchiveExt())
}
