package release

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The tests in this file check artefacts that `make release-check` (and
// `make image-check`) have just produced, and run krew's real tools on them.
// Under a plain `go test ./...` they skip, so the six-platform build is paid
// once, by make.

func releaseCheckEnv(t *testing.T) (dir, version, krew, validate string) {
	t.Helper()
	dir, version = os.Getenv("DGDR_RELEASE_CHECK_DIR"), os.Getenv("DGDR_RELEASE_CHECK_VERSION")
	if dir == "" {
		t.Skip("run by `make release-check`, which renders the release this test checks (DGDR_RELEASE_CHECK_DIR is unset)")
	}
	krew, validate = os.Getenv("KREW"), os.Getenv("VALIDATE_KREW_MANIFEST")
	for _, tool := range []string{krew, validate} {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("krew tool %q: %v (make release-check builds them; KREW and VALIDATE_KREW_MANIFEST must name them)", tool, err)
		}
	}
	return dir, version, krew, validate
}

type cmdResult struct {
	out    string // stdout, then stderr
	stdout string
	code   int
}

func runTool(t *testing.T, env []string, name string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	// Two buffers: one bytes.Buffer shared by both pipes' copiers races.
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return cmdResult{stdout.String() + stderr.String(), stdout.String(), code}
}

func TestReleaseCheck(t *testing.T) {
	dir, version, krew, validate := releaseCheckEnv(t)
	dist := filepath.Join(dir, "dist")
	plugin := os.Getenv("DGDR_KREW_PLUGIN")
	if plugin == "" {
		plugin = "dgdr"
	}
	manifestFile := filepath.Join(dir, "krew", plugin+".yaml")
	p, err := ReadManifestFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Version != version || len(p.Spec.Platforms) != len(DefaultPlatforms()) {
		t.Fatalf("manifest has version %s and %d platforms, want %s and %d", p.Spec.Version, len(p.Spec.Platforms), version, len(DefaultPlatforms()))
	}

	t.Run("validate-krew-manifest", func(t *testing.T) {
		if r := runTool(t, nil, validate, "-manifest", manifestFile, "-skip-install"); r.code != 0 {
			t.Fatalf("validate-krew-manifest exit %d:\n%s", r.code, r.out)
		}
		// The tool must really check: two known failures, by their messages.
		for _, tc := range []struct{ name, from, to, want string }{
			{"overlap", "arch: arm64\n", "arch: amd64\n", "overlapping platform selectors"},
			{"short description", "shortDescription: " + p.Spec.ShortDescription, "shortDescription: ''", "should have a short description"},
		} {
			b, _ := os.ReadFile(manifestFile)
			bad := strings.Replace(string(b), tc.from, tc.to, 1)
			if bad == string(b) {
				t.Fatalf("%s: %q is not in the manifest", tc.name, tc.from)
			}
			f := filepath.Join(t.TempDir(), plugin+".yaml")
			if err := os.WriteFile(f, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := runTool(t, nil, validate, "-manifest", f, "-skip-install"); r.code == 0 || !strings.Contains(r.out, tc.want) {
				t.Errorf("%s: exit %d, want non-zero with %q:\n%s", tc.name, r.code, tc.want, r.out)
			}
		}
	})

	t.Run("sha256", func(t *testing.T) {
		if err := VerifyArchives(p, dist); err != nil {
			t.Fatal(err)
		}
		sums, err := ReadChecksumsFile(filepath.Join(dist, "checksums.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(sums) != len(p.Spec.Platforms) {
			t.Errorf("checksums.txt lists %d files, the manifest %d platforms", len(sums), len(p.Spec.Platforms))
		}
		for _, pl := range p.Spec.Platforms {
			if got := sums[filepath.Base(pl.URI)]; got != pl.Sha256 {
				t.Errorf("%s: checksums.txt says %s, manifest %s", pl.URI, got, pl.Sha256)
			}
			if !strings.HasPrefix(pl.URI, "http://127.0.0.1:8000/"+version+"/") {
				t.Errorf("uri %s does not use RELEASE_BASE_URL", pl.URI)
			}
		}
	})

	// krew picks the platform from KREW_OS/KREW_ARCH, so every archive is
	// extracted and linked the way a user on that platform gets it.
	for _, pl := range p.Spec.Platforms {
		plat := pl.PlatformOf()
		t.Run("krew install "+plat.String(), func(t *testing.T) {
			root := t.TempDir()
			archive := filepath.Join(dist, filepath.Base(pl.URI))
			env := []string{"KREW_ROOT=" + root, "KREW_OS=" + plat.OS, "KREW_ARCH=" + plat.Arch, "KREW_NO_UPGRADE_CHECK=1"}
			r := runTool(t, env, krew, "install", "--manifest="+manifestFile, "--archive="+archive)
			if r.code != 0 {
				t.Fatalf("krew install exit %d:\n%s", r.code, r.out)
			}
			if !strings.Contains(r.out, "Installed plugin: "+plugin) {
				t.Errorf("krew install output lacks \"Installed plugin: %s\":\n%s", plugin, r.out)
			}
			link := filepath.Join(root, "bin", plat.Exe("kubectl-"+strings.ReplaceAll(plugin, "-", "_")))
			if _, err := os.Stat(link); err != nil {
				t.Fatalf("krew did not link the plugin: %v", err)
			}
			store := filepath.Join(root, "store", plugin, version)
			for _, f := range []string{"LICENSE", "README.md", CompletionScript("kubectl-dgdr", plat).Name} {
				if _, err := os.Stat(filepath.Join(store, f)); err != nil {
					t.Errorf("not extracted by krew: %v", err)
				}
			}
			if plat != (Platform{runtime.GOOS, runtime.GOARCH}) {
				return
			}
			runNative(t, root, store, link, plugin, version)
		})
	}

	t.Run("krew rejects a wrong checksum", func(t *testing.T) {
		// Proves the install above compared sha256 values: the linux/amd64
		// manifest entry with another platform's archive must fail.
		env := []string{"KREW_ROOT=" + t.TempDir(), "KREW_OS=linux", "KREW_ARCH=amd64", "KREW_NO_UPGRADE_CHECK=1"}
		other := filepath.Join(dist, ArchiveName("kubectl-dgdr", version, Platform{"linux", "arm64"}))
		r := runTool(t, env, krew, "install", "--manifest="+manifestFile, "--archive="+other)
		if r.code == 0 || !strings.Contains(r.out, "checksum does not match") {
			t.Fatalf("exit %d, want a failure with \"checksum does not match\":\n%s", r.code, r.out)
		}
	})
}

// runNative runs the installed plugin: through kubectl's plugin discovery
// when kubectl is on PATH, and directly in any case, and checks the version
// stamp and the completion helper.
func runNative(t *testing.T, root, store, link, plugin, version string) {
	t.Helper()
	path := "PATH=" + filepath.Join(root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	direct := runTool(t, []string{path}, link, "version")
	if direct.code != 0 || !strings.Contains(direct.out, version) {
		t.Errorf("%s version: exit %d, want %s in:\n%s", link, direct.code, version, direct.out)
	}
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		r := runTool(t, []string{path}, kubectl, plugin, "version")
		if r.code != 0 || !strings.Contains(r.out, version) {
			t.Errorf("kubectl %s version (plugin discovery): exit %d, want %s in:\n%s", plugin, r.code, version, r.out)
		} else {
			t.Logf("kubectl %s version via %s:\n%s", plugin, kubectl, r.out)
		}
	} else {
		t.Logf("kubectl is not on PATH: ran %s directly only", link)
	}
	// kubectl runs this helper for `kubectl dgdr <TAB>` and reads its
	// stdout, which cobra ends with a ":<directive>" line.
	r := runTool(t, []string{path}, filepath.Join(store, "kubectl_complete-dgdr"), "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || !strings.HasPrefix(lines[len(lines)-1], ":") || !strings.Contains(r.stdout, "version") {
		t.Errorf("kubectl_complete-dgdr '': exit %d, want subcommands and a :<directive> line:\n%s", r.code, r.out)
	}
}

// TestImageTarballs checks every tarball in DGDR_IMAGES_DIR (set by make
// release-check and make image-check): a valid OCI layout holding a
// linux/amd64+arm64 index whose images run /usr/local/bin/<file name> as a
// numeric non-root user.
func TestImageTarballs(t *testing.T) {
	dir := os.Getenv("DGDR_IMAGES_DIR")
	if dir == "" {
		t.Skip("run by `make release-check` or `make image-check` (DGDR_IMAGES_DIR is unset)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no image tarballs in %s: the image build made none (check the output of make release-check or make image above)", dir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".tar")
		t.Run(name, func(t *testing.T) {
			s, err := VerifyOCITarball(f)
			if err != nil {
				t.Fatal(err)
			}
			if s.Ref == "" {
				t.Error("index.json has no org.opencontainers.image.ref.name")
			}
			var plats []string
			for _, img := range s.Images {
				plats = append(plats, img.Platform.String())
				if len(img.Entrypoint) != 1 || img.Entrypoint[0] != EntrypointFor(name) {
					t.Errorf("%s: entrypoint %v, want [%s]", img.Platform, img.Entrypoint, EntrypointFor(name))
				}
				if img.User != "65532:65532" {
					t.Errorf("%s: user %q, want 65532:65532", img.Platform, img.User)
				}
			}
			if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
				t.Errorf("platforms %v, want linux/amd64 and linux/arm64", plats)
			}
			t.Logf("%s: %s %v", f, s.Ref, plats)
		})
	}
}
