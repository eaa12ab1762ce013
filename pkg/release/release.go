package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Options is one `make release`.
type Options struct {
	Version   string // the tag, vX.Y.Z
	Build     BuildOptions
	Platforms []Platform
	DistDir   string
	// Docs are packed next to the binary in every archive (LICENSE, README.md).
	Docs []Entry
	// ManifestTemplate is read, rendered and written to ManifestOut, whose
	// base name must be <plugin name>.yaml.
	ManifestTemplate string
	ManifestOut      string
	BaseURL          string
	ModTime          time.Time
	Log              io.Writer
}

// Result lists what Run wrote.
type Result struct {
	Archives  map[Platform]string
	Binaries  map[Platform]string
	Checksums Checksums
	Manifest  *KrewPlugin
}

// CompletionScript is the kubectl_complete-dgdr helper that kubectl runs for
// `kubectl dgdr <TAB>`: it hands the words to cobra's hidden __complete
// command. Windows gets a .cmd, which kubectl finds through PATHEXT.
func CompletionScript(binName string, p Platform) Entry {
	if p.OS == "windows" {
		return Entry{Name: "kubectl_complete-dgdr.cmd", Mode: 0o755,
			Data: []byte("@echo off\r\n" + p.Exe(binName) + " __complete %*\r\n")}
	}
	return Entry{Name: "kubectl_complete-dgdr", Mode: 0o755,
		Data: []byte("#!/usr/bin/env sh\nexec " + binName + " __complete \"$@\"\n")}
}

// Run builds, packs, checksums and renders the manifest, then reads the
// manifest back and checks it against the archives before returning.
func Run(ctx context.Context, o Options) (*Result, error) {
	if !krewSemverRE.MatchString(o.Version) {
		return nil, fmt.Errorf("VERSION=%q: a release needs a semver tag with a leading v, such as v0.1.0", o.Version)
	}
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms()
	}
	if o.ModTime.IsZero() {
		o.ModTime = DefaultModTime()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Build.Log == nil {
		o.Build.Log = o.Log
	}
	tmpl, err := os.ReadFile(o.ManifestTemplate)
	if err != nil {
		return nil, fmt.Errorf("krew manifest template: %w", err)
	}
	if err := os.MkdirAll(o.DistDir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Archives: map[Platform]string{}, Binaries: map[Platform]string{}, Checksums: Checksums{}}
	for _, p := range o.Platforms {
		bin, err := Build(ctx, o.Build, p)
		if err != nil {
			return nil, err
		}
		res.Binaries[p] = bin
		entries := append([]Entry{
			{Name: p.Exe(o.Build.Name), Mode: 0o755, Path: bin},
			CompletionScript(o.Build.Name, p),
		}, o.Docs...)
		name := ArchiveName(o.Build.Name, o.Version, p)
		file := filepath.Join(o.DistDir, name)
		var buf bytes.Buffer
		if err := WriteArchive(&buf, name, entries, o.ModTime); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
		if res.Checksums[name], err = FileSHA256(file); err != nil {
			return nil, err
		}
		res.Archives[p] = file
		fmt.Fprintf(o.Log, "pack %s\n", file)
	}
	var sums bytes.Buffer
	if _, err := res.Checksums.WriteTo(&sums); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.DistDir, "checksums.txt"), sums.Bytes(), 0o644); err != nil {
		return nil, err
	}
	rendered, err := RenderManifest(string(tmpl), NewManifestValues(o.Version, o.BaseURL), res.Checksums)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.ManifestTemplate, err)
	}
	if res.Manifest, err = ParseManifest(rendered); err != nil {
		return nil, fmt.Errorf("%s rendered: %w", o.ManifestTemplate, err)
	}
	if err := LintManifest(res.Manifest, filepath.Base(o.ManifestOut)); err != nil {
		return nil, err
	}
	if err := VerifyArchives(res.Manifest, o.DistDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(o.ManifestOut), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(o.ManifestOut, rendered, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "wrote %s and %s\n", filepath.Join(o.DistDir, "checksums.txt"), o.ManifestOut)
	return res, nil
}
