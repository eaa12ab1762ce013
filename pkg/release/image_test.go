package release

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildTestImage packs small stand-in "binaries": the image code does not
// look inside them, so the real webhook binary is not needed here.
func buildTestImage(t *testing.T, dir string) string {
	t.Helper()
	bins := map[Platform]string{}
	for _, p := range []Platform{{"linux", "arm64"}, {"linux", "amd64"}} {
		f := filepath.Join(dir, "bin-"+p.Arch)
		if err := os.WriteFile(f, []byte("binary for "+p.String()), 0o755); err != nil {
			t.Fatal(err)
		}
		bins[p] = f
	}
	idx, err := BuildImage(ImageOptions{Name: "webhook", Ref: "example.invalid/dgdr-webhook:v1.2.3", Binaries: bins, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "webhook.tar")
	if err := WriteOCITarball(out, idx, "example.invalid/dgdr-webhook:v1.2.3", DefaultModTime()); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImageTarballIsValidAndReproducible(t *testing.T) {
	file := buildTestImage(t, t.TempDir())
	s, err := VerifyOCITarball(file)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ref != "example.invalid/dgdr-webhook:v1.2.3" {
		t.Errorf("ref annotation %q", s.Ref)
	}
	var plats []string
	for _, img := range s.Images {
		plats = append(plats, img.Platform.String())
		if fmt.Sprint(img.Entrypoint) != "[/usr/local/bin/webhook]" || img.User != "65532:65532" {
			t.Errorf("%s: entrypoint %v user %q", img.Platform, img.Entrypoint, img.User)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(plats, want) {
		t.Errorf("platforms %v, want %v", plats, want)
	}
	// The same inputs give the same bytes, hence the same digests on push.
	again := buildTestImage(t, t.TempDir())
	a, _ := FileSHA256(file)
	b, _ := FileSHA256(again)
	if a != b {
		t.Errorf("two builds of the same image differ: %s vs %s", a, b)
	}
}

// rewriteTar copies an OCI tarball, letting edit change one file's bytes.
func rewriteTar(t *testing.T, src, dst string, edit func(name string, b []byte) []byte) {
	t.Helper()
	files, err := readTarFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for name, b := range files {
		entries = append(entries, Entry{Name: name, Mode: 0o644, Data: edit(name, b)})
	}
	var buf bytes.Buffer
	if err := WriteTar(&buf, entries, DefaultModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyOCITarballCatchesDamage(t *testing.T) {
	dir := t.TempDir()
	file := buildTestImage(t, dir)
	files, err := readTarFiles(file)
	if err != nil {
		t.Fatal(err)
	}
	// The biggest blob is a binary layer.
	var layer string
	for name, b := range files {
		if strings.HasPrefix(name, "blobs/") && (layer == "" || len(b) > len(files[layer])) {
			layer = name
		}
	}
	for _, tc := range []struct {
		name string
		edit func(string, []byte) []byte
		want string
	}{
		{"flipped layer byte", func(n string, b []byte) []byte {
			if n == layer {
				b = slices.Clone(b)
				b[len(b)/2] ^= 1
			}
			return b
		}, "content has sha256"},
		{"no oci-layout", func(n string, b []byte) []byte {
			if n == "oci-layout" {
				return []byte("{}")
			}
			return b
		}, "imageLayoutVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, "bad.tar")
			rewriteTar(t, file, bad, tc.edit)
			if _, err := VerifyOCITarball(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestImageBaseLayer(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTar(&buf, baseEntries(), DefaultModTime()); err != nil {
		t.Fatal(err)
	}
	hdrs := map[string]*tar.Header{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		hdrs[h.Name] = h
	}
	if h := hdrs["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp header %+v, want mode 1777 (sticky, world-writable)", h)
	}
	if h := hdrs["home/nonroot/"]; h == nil || h.Uid != NonRootUID || h.Gid != NonRootUID {
		t.Errorf("/home/nonroot header %+v, want owned by %d", h, NonRootUID)
	}
	var passwd string
	for _, e := range baseEntries() {
		if e.Name == "etc/passwd" {
			passwd = string(e.Data)
		}
	}
	if !strings.Contains(passwd, "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot user 65532:\n%s", passwd)
	}
	if _, err := BuildImage(ImageOptions{Name: "x", Binaries: map[Platform]string{{"darwin", "arm64"}: "/bin/true"}}); err == nil || !strings.Contains(err.Error(), "linux only") {
		t.Errorf("darwin image: got %v", err)
	}
}
