// Command release is the driver behind hack/make/release.mk:
//
//	go run ./hack/release release -version v0.1.0 ...   archives, checksums.txt, krew manifest
//	go run ./hack/release image -name webhook ...        a multi-arch OCI-layout tarball
//	go run ./hack/release verify-image FILE...           re-check tarballs and print what they run
//
// The work is in pkg/release; this file only parses flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("want a subcommand: release, image or verify-image")
	}
	switch args[0] {
	case "release":
		return runRelease(ctx, args[1:], stdout, stderr)
	case "image":
		return runImage(ctx, args[1:], stdout, stderr)
	case "verify-image":
		for _, f := range args[1:] {
			if err := printImage(stdout, f); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: want release, image or verify-image", args[0])
}

// modTime reads SOURCE_DATE_EPOCH (the reproducible-builds convention) so
// that archive and layer timestamps can follow the commit, not the clock.
func modTime(epoch string) (time.Time, error) {
	if epoch == "" {
		return release.DefaultModTime(), nil
	}
	n, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || n < release.DefaultModTime().Unix() {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want Unix seconds from 1980 on", epoch)
	}
	return time.Unix(n, 0).UTC(), nil
}

func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o         release.Options
		platforms = fs.String("platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64", "os/arch list")
		docs      = fs.String("docs", "LICENSE,README.md", "files packed next to the binary, by path (base name in the archive)")
		buildDir  = fs.String("build-dir", "", "where binaries are built (default <dist>/build)")
		epoch     = fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "archive timestamps, Unix seconds")
	)
	fs.StringVar(&o.Version, "version", "", "release tag, vX.Y.Z")
	fs.StringVar(&o.Build.Package, "pkg", "./cmd/kubectl-dgdr", "main package")
	fs.StringVar(&o.Build.Name, "name", "kubectl-dgdr", "binary and archive name")
	fs.StringVar(&o.Build.LDFlags, "ldflags", "", "go build -ldflags (the Makefile's LDFLAGS, with the version stamp)")
	fs.StringVar(&o.DistDir, "dist", "dist", "output directory for archives and checksums.txt")
	fs.StringVar(&o.ManifestTemplate, "template", "krew/dgdr.yaml.tmpl", "krew manifest template")
	fs.StringVar(&o.ManifestOut, "manifest", "krew/dgdr.yaml", "rendered krew manifest")
	fs.StringVar(&o.BaseURL, "base-url", "", "replaces the template's download URL up to the archive name (custom index, local file server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Platforms, err = release.ParsePlatforms(*platforms); err != nil {
		return err
	}
	if o.ModTime, err = modTime(*epoch); err != nil {
		return err
	}
	for _, d := range strings.Split(*docs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			o.Docs = append(o.Docs, release.Entry{Name: filepath.Base(d), Mode: 0o644, Path: d})
		}
	}
	o.Build.OutDir = *buildDir
	if o.Build.OutDir == "" {
		o.Build.OutDir = filepath.Join(o.DistDir, "build")
	}
	o.Log = stderr
	res, err := release.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d archives, checksums.txt and %s\n", o.Version, len(res.Archives), o.ManifestOut)
	return nil
}

func runImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o         release.ImageOptions
		b         release.BuildOptions
		out       = fs.String("out", "", "OCI-layout tarball to write")
		platforms = fs.String("platforms", "linux/amd64,linux/arm64", "linux os/arch list")
		prebuilt  = fs.String("prebuilt", "", "use binaries already at <dir>/<os>_<arch>/<name> instead of building -pkg")
		epoch     = fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "layer and config timestamps, Unix seconds")
	)
	fs.StringVar(&o.Name, "name", "", "binary name; the entrypoint is /usr/local/bin/<name>")
	fs.StringVar(&o.Ref, "ref", "", "image reference recorded in the layout, e.g. ghcr.io/kubectl-dgdr/dgdr-webhook:v0.1.0")
	fs.StringVar(&o.Version, "version", "", "org.opencontainers.image.version")
	fs.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision")
	fs.StringVar(&o.Source, "source", "https://github.com/kubectl-dgdr/kubectl-dgdr", "org.opencontainers.image.source")
	fs.StringVar(&b.Package, "pkg", "", "main package to build, e.g. ./cmd/webhook")
	fs.StringVar(&b.LDFlags, "ldflags", "", "go build -ldflags")
	fs.StringVar(&b.OutDir, "build-dir", "", "where binaries are built (default: next to -out)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Name == "" || *out == "" {
		return fmt.Errorf("image: -name and -out are required")
	}
	plats, err := release.ParsePlatforms(*platforms)
	if err != nil {
		return err
	}
	if o.Created, err = modTime(*epoch); err != nil {
		return err
	}
	b.Name, b.Log = o.Name, stderr
	if *prebuilt != "" {
		b.OutDir = *prebuilt
	} else if b.OutDir == "" {
		b.OutDir = filepath.Join(filepath.Dir(*out), "build")
	}
	o.Binaries = map[release.Platform]string{}
	for _, p := range plats {
		if *prebuilt != "" {
			o.Binaries[p] = b.BinaryPath(p)
			continue
		}
		if b.Package == "" {
			return fmt.Errorf("image %s: set -pkg to build, or -prebuilt to use built binaries", o.Name)
		}
		if o.Binaries[p], err = release.Build(ctx, b, p); err != nil {
			return err
		}
	}
	idx, err := release.BuildImage(o)
	if err != nil {
		return err
	}
	if err := release.WriteOCITarball(*out, idx, o.Ref, o.Created); err != nil {
		return err
	}
	return printImage(stdout, *out)
}

func printImage(w io.Writer, file string) error {
	s, err := release.VerifyOCITarball(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s\n", file, s.Ref)
	for _, img := range s.Images {
		fmt.Fprintf(w, "  %-12s %s entrypoint=%v user=%s\n", img.Platform, img.Digest, img.Entrypoint, img.User)
	}
	return nil
}
