package release

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEntries(t *testing.T) []Entry {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte("\x7fELF fake binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []Entry{
		{Name: "README.md", Mode: 0o644, Data: []byte("# readme\n")},
		{Name: "kubectl-dgdr", Mode: 0o755, Path: bin},
		{Name: "LICENSE", Mode: 0o644, Data: []byte("Apache License\n")},
	}
}

func TestArchivesAreReproducibleAndKeepModes(t *testing.T) {
	for _, name := range []string{"x.tar.gz", "x.zip"} {
		t.Run(name, func(t *testing.T) {
			entries := testEntries(t)
			var a, b bytes.Buffer
			if err := WriteArchive(&a, name, entries, DefaultModTime()); err != nil {
				t.Fatal(err)
			}
			// Same files in another order must give the same bytes.
			rev := []Entry{entries[2], entries[0], entries[1]}
			if err := WriteArchive(&b, name, rev, DefaultModTime()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("%s: archive bytes depend on entry order", name)
			}
			var c bytes.Buffer
			if err := WriteArchive(&c, name, entries, DefaultModTime().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a.Bytes(), c.Bytes()) {
				t.Fatalf("%s: modTime is not written into the archive", name)
			}
			file := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(file, a.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadArchive(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("%s holds %d files, want 3: %v", name, len(got), got)
			}
			if f := got["kubectl-dgdr"]; f.Mode != 0o755 || string(f.Data) != "\x7fELF fake binary" {
				t.Errorf("binary came back as mode %v, data %q", f.Mode, f.Data)
			}
			if f := got["LICENSE"]; f.Mode != 0o644 || string(f.Data) != "Apache License\n" {
				t.Errorf("LICENSE came back as mode %v, data %q", f.Mode, f.Data)
			}
		})
	}
}

func TestArchiveRejectsBadEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"empty", nil, "no entries"},
		{"duplicate", []Entry{{Name: "a", Data: []byte("1")}, {Name: "a", Data: []byte("2")}}, `"a" is listed twice`},
		{"escape", []Entry{{Name: "../a"}}, "without .."},
		{"absolute", []Entry{{Name: "/etc/passwd"}}, "relative"},
		{"missing file", []Entry{{Name: "a", Path: "/nonexistent/file"}}, "archive entry a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteTarGz(&bytes.Buffer{}, tc.entries, DefaultModTime())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := WriteArchive(&bytes.Buffer{}, "x.rar", testEntries(t), DefaultModTime()); err == nil || !strings.Contains(err.Error(), ".tar.gz or .zip") {
		t.Fatalf("unknown extension: got %v", err)
	}
}

func TestCompletionScriptCallsComplete(t *testing.T) {
	unix := CompletionScript("kubectl-dgdr", Platform{"linux", "amd64"})
	if unix.Name != "kubectl_complete-dgdr" || unix.Mode != 0o755 {
		t.Fatalf("unix script is %s mode %v", unix.Name, unix.Mode)
	}
	if lines := strings.Split(strings.TrimSpace(string(unix.Data)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "#!") ||
		lines[1] != `exec kubectl-dgdr __complete "$@"` {
		t.Fatalf("unix script is not a two-line __complete call:\n%s", unix.Data)
	}
	win := CompletionScript("kubectl-dgdr", Platform{"windows", "arm64"})
	if win.Name != "kubectl_complete-dgdr.cmd" || !strings.Contains(string(win.Data), "kubectl-dgdr.exe __complete %*") {
		t.Fatalf("windows script %s:\n%s", win.Name, win.Data)
	}
}

func TestPlatformNames(t *testing.T) {
	if got := ArchiveName("kubectl-dgdr", "v1.2.3", Platform{"windows", "amd64"}); got != "kubectl-dgdr_v1.2.3_windows_amd64.zip" {
		t.Errorf("windows archive name %q", got)
	}
	if got := ArchiveName("kubectl-dgdr", "v1.2.3", Platform{"darwin", "arm64"}); got != "kubectl-dgdr_v1.2.3_darwin_arm64.tar.gz" {
		t.Errorf("darwin archive name %q", got)
	}
	ps, err := ParsePlatforms("linux/amd64, darwin/arm64")
	if err != nil || len(ps) != 2 || ps[1] != (Platform{"darwin", "arm64"}) {
		t.Fatalf("ParsePlatforms: %v %v", ps, err)
	}
	for _, bad := range []string{"", "linux", "linux/amd64,linux/amd64", "a/b/c"} {
		if _, err := ParsePlatforms(bad); err == nil {
			t.Errorf("ParsePlatforms(%q) accepted", bad)
		}
	}
	if len(DefaultPlatforms()) != 6 {
		t.Errorf("DefaultPlatforms has %d entries, want linux/darwin/windows x amd64/arm64", len(DefaultPlatforms()))
	}
}

func TestChecksumsRoundTrip(t *testing.T) {
	c := Checksums{
		"b.zip":    strings.Repeat("b", 64),
		"a.tar.gz": strings.Repeat("a", 64),
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("a", 64) + "  a.tar.gz\n" + strings.Repeat("b", 64) + "  b.zip\n"
	if buf.String() != want {
		t.Fatalf("checksums.txt:\n%s\nwant (sorted, sha256sum format):\n%s", buf.String(), want)
	}
	back, err := ParseChecksums(&buf)
	if err != nil || len(back) != 2 || back["b.zip"] != c["b.zip"] {
		t.Fatalf("parse back: %v %v", back, err)
	}
	for _, bad := range []string{"xyz  a.tar.gz", strings.Repeat("A", 64) + "  a", strings.Repeat("a", 64)} {
		if _, err := ParseChecksums(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseChecksums(%q) accepted", bad)
		}
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	// sha256("abc") from FIPS 180-2.
	if got, _ := FileSHA256(file); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("FileSHA256(abc) = %s", got)
	}
}
