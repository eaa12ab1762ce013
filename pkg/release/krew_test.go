package release

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const templatePath = "../../krew/dgdr.yaml.tmpl"

func readTemplate(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeSums gives every default platform's archive a distinct checksum.
func fakeSums(version string) Checksums {
	c := Checksums{}
	for i, p := range DefaultPlatforms() {
		// Digits only: the renderer must quote it or YAML reads a number.
		c[ArchiveName("kubectl-dgdr", version, p)] = fmt.Sprintf("%064d", i+1)
	}
	return c
}

func TestRenderTemplate(t *testing.T) {
	sums := fakeSums("v1.2.3")
	out, err := RenderManifest(readTemplate(t), NewManifestValues("v1.2.3", ""), sums)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseManifest(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := LintManifest(p, "dgdr.yaml"); err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Name != "dgdr" || p.Spec.Version != "v1.2.3" || p.APIVersion != krewAPIVersion || p.Kind != "Plugin" {
		t.Fatalf("header: %+v", p)
	}
	for _, want := range []string{"DynamoGraphDeploymentRequest", "webhook"} {
		if !strings.Contains(p.Spec.Description, want) {
			t.Errorf("description does not name %q", want)
		}
	}
	for _, want := range []string{"manifests/install/cert-manager?ref=v1.2.3", "manifests/install/self-managed?ref=v1.2.3", "kubectl_complete-dgdr"} {
		if !strings.Contains(p.Spec.Caveats, want) {
			t.Errorf("caveats do not mention %q", want)
		}
	}
	if len(p.Spec.Platforms) != len(DefaultPlatforms()) {
		t.Fatalf("%d platforms, want %d", len(p.Spec.Platforms), len(DefaultPlatforms()))
	}
	for _, pl := range p.Spec.Platforms {
		plat := pl.PlatformOf()
		name := ArchiveName("kubectl-dgdr", "v1.2.3", plat)
		if want := "https://github.com/kubectl-dgdr/kubectl-dgdr/releases/download/v1.2.3/" + name; pl.URI != want {
			t.Errorf("%s uri %s, want %s", plat, pl.URI, want)
		}
		if pl.Sha256 != sums[name] {
			t.Errorf("%s sha256 %s, want %s from checksums", plat, pl.Sha256, sums[name])
		}
		var froms []string
		for _, f := range pl.Files {
			froms = append(froms, f.From)
		}
		if want := []string{plat.Exe("kubectl-dgdr"), CompletionScript("kubectl-dgdr", plat).Name, "LICENSE", "README.md"}; fmt.Sprint(froms) != fmt.Sprint(want) {
			t.Errorf("%s files %v, want %v", plat, froms, want)
		}
	}

	// A base URL moves every download, keeping the file names.
	out, err = RenderManifest(readTemplate(t), NewManifestValues("v1.2.3", "http://127.0.0.1:8000/rel/"), sums)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = ParseManifest(out); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Spec.Platforms[0].URI, "http://127.0.0.1:8000/rel/kubectl-dgdr_v1.2.3_linux_amd64.tar.gz"; got != want {
		t.Errorf("with base URL: uri %s, want %s", got, want)
	}
	// The template stays usable by krew-release-bot: its only placeholders
	// are .TagName (and .Version) and the functions addURIAndSha and indent.
	if strings.Contains(readTemplate(t), ".BaseURL") {
		t.Error("template uses .BaseURL, which krew-release-bot does not provide")
	}
}

func TestRenderManifestErrors(t *testing.T) {
	tmpl := readTemplate(t)
	sums := fakeSums("v1.2.3")
	missing := Checksums{}
	for k, v := range sums {
		if !strings.Contains(k, "darwin_arm64") {
			missing[k] = v
		}
	}
	extra := Checksums{"kubectl-dgdr_v1.2.3_linux_386.tar.gz": strings.Repeat("f", 64)}
	for k, v := range sums {
		extra[k] = v
	}
	for _, tc := range []struct {
		name, tmpl string
		sums       Checksums
		want       string
	}{
		{"archive missing from checksums", tmpl, missing, "no entry for kubectl-dgdr_v1.2.3_darwin_arm64.tar.gz"},
		{"archive without a platform", tmpl, extra, "no platform uses kubectl-dgdr_v1.2.3_linux_386.tar.gz"},
		{"unknown field in template", "{{ .Tag }}", sums, "Tag"},
		{"archive used twice", `{{ addURIAndSha "x/kubectl-dgdr_{{ .TagName }}_linux_amd64.tar.gz" .TagName }}{{ addURIAndSha "y/kubectl-dgdr_{{ .TagName }}_linux_amd64.tar.gz" .TagName }}`, Checksums{"kubectl-dgdr_v1.2.3_linux_amd64.tar.gz": strings.Repeat("a", 64)}, "used by 2 platforms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RenderManifest(tc.tmpl, NewManifestValues("v1.2.3", ""), tc.sums)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLintManifest(t *testing.T) {
	good, err := RenderManifest(readTemplate(t), NewManifestValues("v1.2.3", ""), fakeSums("v1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		file   string
		mutate func(*KrewPlugin)
		want   string
	}{
		{"file name", "kubectl-dgdr.yaml", func(*KrewPlugin) {}, `must equal the file name "kubectl-dgdr.yaml"`},
		{"api version", "dgdr.yaml", func(p *KrewPlugin) { p.APIVersion = "krew.googlecontainertools.github.com/v1alpha1" }, "apiVersion"},
		{"version", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Version = "1.2.3" }, "spec.version"},
		{"short description", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.ShortDescription = "" }, "shortDescription is empty"},
		{"short description lines", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.ShortDescription = "a\nb" }, "one line"},
		{"long description line", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Description = strings.Repeat("x", 81) }, "wrap it at 80"},
		{"sha", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[1].Sha256 = strings.Repeat("A", 64) }, "spec.platforms[1].sha256"},
		{"selector key", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[0].Selector.MatchLabels["distro"] = "debian" }, `key "distro"`},
		{"overlap", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[5].Selector.MatchLabels["arch"] = "amd64" }, "overlapping platform selectors"},
		{"bin", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[4].Bin = "kubectl-dgdr" }, `spec.platforms[4].bin is "kubectl-dgdr", want a file name at the archive root, ending in .exe`},
		{"bin suffix", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[0].Bin = "kubectl-dgdr.exe" }, `spec.platforms[0].bin is "kubectl-dgdr.exe"`},
		{"files", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[0].Files[0].To = "" }, "files[0] needs both from and to"},
		{"uri", "dgdr.yaml", func(p *KrewPlugin) { p.Spec.Platforms[0].URI = "https://x/y.tgz" }, "must end in .tar.gz or .zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseManifest(good)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(p)
			err = LintManifest(p, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := ParseManifest(bytes.Replace(good, []byte("homepage:"), []byte("homepages:"), 1)); err == nil || !strings.Contains(err.Error(), "homepages") {
		t.Fatalf("a misspelt field must fail strict parsing, got %v", err)
	}
}

func TestVerifyArchives(t *testing.T) {
	dist := t.TempDir()
	sums := Checksums{}
	for _, p := range DefaultPlatforms() {
		name := ArchiveName("kubectl-dgdr", "v1.2.3", p)
		entries := append(testEntries(t), CompletionScript("kubectl-dgdr", p))
		entries[1].Name = p.Exe("kubectl-dgdr")
		var buf bytes.Buffer
		if err := WriteArchive(&buf, name, entries, DefaultModTime()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dist, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		var err error
		if sums[name], err = FileSHA256(filepath.Join(dist, name)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := RenderManifest(readTemplate(t), NewManifestValues("v1.2.3", "file:///elsewhere"), sums)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyArchives(p, dist); err != nil {
		t.Fatalf("matching archives: %v", err)
	}

	// One changed byte in one archive must be caught and named.
	victim := filepath.Join(dist, ArchiveName("kubectl-dgdr", "v1.2.3", Platform{"darwin", "amd64"}))
	b, _ := os.ReadFile(victim)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = VerifyArchives(p, dist)
	if err == nil || !strings.Contains(err.Error(), "kubectl-dgdr_v1.2.3_darwin_amd64.tar.gz has sha256") {
		t.Fatalf("tampered archive: got %v", err)
	}

	// An archive without LICENSE fails even when its checksum matches.
	p.Spec.Platforms = p.Spec.Platforms[:1]
	name := filepath.Join(dist, filepath.Base(p.Spec.Platforms[0].URI))
	var buf bytes.Buffer
	if err := WriteTarGz(&buf, []Entry{{Name: "kubectl-dgdr", Mode: 0o755, Data: []byte("x")}}, DefaultModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Spec.Platforms[0].Sha256, _ = FileSHA256(name)
	if err := VerifyArchives(p, dist); err == nil || !strings.Contains(err.Error(), "has no LICENSE") {
		t.Fatalf("archive without LICENSE: got %v", err)
	}
}

// The fallback name in docs/install.md must render and lint with the same
// archives: only metadata.name and the file name change.
func TestFallbackPluginName(t *testing.T) {
	tmpl := strings.Replace(readTemplate(t), "name: dgdr\n", "name: dynamo-sla-profiler\n", 1)
	out, err := RenderManifest(tmpl, NewManifestValues("v1.2.3", ""), fakeSums("v1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := LintManifest(p, "dynamo-sla-profiler.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := LintManifest(p, "dgdr.yaml"); err == nil {
		t.Fatal("a manifest named dynamo-sla-profiler passed lint as dgdr.yaml")
	}
}
