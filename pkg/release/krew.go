package release

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// The krew manifest types, restated from sigs.k8s.io/krew/pkg/index so that
// krew's dependency graph stays out of this module (krew itself runs as a
// tool from hack/tools/krew).
type (
	KrewPlugin struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   KrewMetadata   `json:"metadata"`
		Spec       KrewPluginSpec `json:"spec"`
	}
	KrewMetadata struct {
		Name string `json:"name"`
	}
	KrewPluginSpec struct {
		Version          string         `json:"version"`
		ShortDescription string         `json:"shortDescription"`
		Description      string         `json:"description,omitempty"`
		Caveats          string         `json:"caveats,omitempty"`
		Homepage         string         `json:"homepage,omitempty"`
		Platforms        []KrewPlatform `json:"platforms"`
	}
	KrewPlatform struct {
		URI      string        `json:"uri"`
		Sha256   string        `json:"sha256"`
		Selector *KrewSelector `json:"selector"`
		Files    []KrewFileOp  `json:"files,omitempty"`
		Bin      string        `json:"bin"`
	}
	KrewSelector struct {
		MatchLabels      map[string]string `json:"matchLabels,omitempty"`
		MatchExpressions []any             `json:"matchExpressions,omitempty"`
	}
	KrewFileOp struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
)

const (
	krewAPIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	krewKind       = "Plugin"
)

// ManifestValues feeds the template. TagName and Version carry the names
// krew-release-bot uses, so krew/dgdr.yaml.tmpl also works as its
// .krew.yaml template when publishing to krew-index.
type ManifestValues struct {
	TagName string // v0.1.0
	Version string // 0.1.0
	// BaseURL, when set, replaces everything before the archive's file name
	// in each addURIAndSha URL: a custom index, a mirror, or a local server.
	BaseURL string
}

// NewManifestValues derives Version from the tag as krew-release-bot does.
func NewManifestValues(tag, baseURL string) ManifestValues {
	return ManifestValues{TagName: tag, Version: strings.TrimPrefix(tag, "v"), BaseURL: strings.TrimSuffix(baseURL, "/")}
}

// RenderManifest executes a krew-release-bot style template. Its
// addURIAndSha "<url template>" .TagName expands to
//
//	uri: <url>
//	    sha256: "<sum from checksums>"
//
// Every archive in sums must be referenced exactly once, so a template that
// forgets a platform fails here rather than in review.
func RenderManifest(tmplText string, v ManifestValues, sums Checksums) ([]byte, error) {
	used := map[string]int{}
	funcs := template.FuncMap{
		"addURIAndSha": func(urlTmpl, tag string) (string, error) {
			var buf bytes.Buffer
			t, err := template.New("url").Option("missingkey=error").Parse(urlTmpl)
			if err != nil {
				return "", fmt.Errorf("addURIAndSha url %q: %w", urlTmpl, err)
			}
			if err := t.Execute(&buf, struct{ TagName, Version string }{tag, strings.TrimPrefix(tag, "v")}); err != nil {
				return "", fmt.Errorf("addURIAndSha url %q: %w", urlTmpl, err)
			}
			uri := buf.String()
			file := path.Base(uri)
			if v.BaseURL != "" {
				uri = v.BaseURL + "/" + file
			}
			sum, ok := sums[file]
			if !ok {
				return "", fmt.Errorf("addURIAndSha: checksums have no entry for %s (from %q); build it with `make release VERSION=%s` or fix the name in the template", file, urlTmpl, tag)
			}
			used[file]++
			// Quoted: a sha256 of digits and one "e" would otherwise be
			// read as a YAML number.
			return fmt.Sprintf("uri: %s\n    sha256: %q", uri, sum), nil
		},
		// indent matches krew-release-bot's helper of the same name.
		"indent": func(spaces int, s string) string {
			pad := strings.Repeat(" ", spaces)
			return strings.TrimSpace(pad + strings.ReplaceAll(s, "\n", "\n"+pad))
		},
	}
	t, err := template.New("manifest").Funcs(funcs).Option("missingkey=error").Parse(tmplText)
	if err != nil {
		return nil, fmt.Errorf("krew manifest template: %w", err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, v); err != nil {
		return nil, fmt.Errorf("krew manifest template: %w", err)
	}
	for name, n := range used {
		if n > 1 {
			return nil, fmt.Errorf("krew manifest template: archive %s is used by %d platforms, want 1", name, n)
		}
	}
	var missing []string
	for name := range sums {
		if used[name] == 0 && (strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip")) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("krew manifest template: no platform uses %s; add a platform entry with addURIAndSha for each", strings.Join(missing, ", "))
	}
	return out.Bytes(), nil
}

// ParseManifest reads a manifest strictly: an unknown field is an error, as
// a misspelt key would otherwise be dropped silently.
func ParseManifest(b []byte) (*KrewPlugin, error) {
	var p KrewPlugin
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return nil, fmt.Errorf("krew manifest: %w", err)
	}
	return &p, nil
}

var (
	krewNameRE   = regexp.MustCompile(`^[\w-]+$`)
	krewSemverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// maxShortDescription is krew's naming guide's "about 50 characters".
const maxShortDescription = 50

// LintManifest restates krew's validation (internal/index/validation and
// cmd/validate-krew-manifest, which cannot be imported) plus our own rules:
// the .exe suffix, the archive type, a short description of at most 50
// characters and a description wrapped at 80 columns.
// fileName is the manifest's base name, which krew requires to equal the
// plugin name. The real validator still runs in `make release-check`.
func LintManifest(p *KrewPlugin, fileName string) error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if p.APIVersion != krewAPIVersion {
		bad("apiVersion is %q, want %q", p.APIVersion, krewAPIVersion)
	}
	if p.Kind != krewKind {
		bad("kind is %q, want %q", p.Kind, krewKind)
	}
	if !krewNameRE.MatchString(p.Metadata.Name) {
		bad("metadata.name %q must match %s", p.Metadata.Name, krewNameRE)
	}
	if want := strings.TrimSuffix(fileName, ".yaml"); fileName != "" && (p.Metadata.Name != want || !strings.HasSuffix(fileName, ".yaml")) {
		bad("metadata.name %q must equal the file name %q without .yaml (rename one)", p.Metadata.Name, fileName)
	}
	s := p.Spec
	if !krewSemverRE.MatchString(s.Version) {
		bad("spec.version %q is not semver with a leading v, such as v0.1.0", s.Version)
	}
	switch {
	case s.ShortDescription == "":
		bad("spec.shortDescription is empty")
	case strings.ContainsAny(s.ShortDescription, "\r\n"):
		bad("spec.shortDescription must be one line")
	case len(s.ShortDescription) > maxShortDescription:
		bad("spec.shortDescription is %d characters, want at most %d", len(s.ShortDescription), maxShortDescription)
	}
	for i, line := range strings.Split(s.Description, "\n") {
		if len(line) > 80 {
			bad("spec.description line %d is %d characters, wrap it at 80", i+1, len(line))
		}
	}
	if s.Homepage == "" {
		bad("spec.homepage is empty")
	}
	if len(s.Platforms) == 0 {
		bad("spec.platforms is empty")
	}
	seen := map[Platform]int{}
	for i, pl := range s.Platforms {
		at := fmt.Sprintf("spec.platforms[%d]", i)
		if pl.URI == "" {
			bad("%s.uri is empty", at)
		} else if !strings.HasSuffix(pl.URI, ".tar.gz") && !strings.HasSuffix(pl.URI, ".zip") {
			bad("%s.uri %q must end in .tar.gz or .zip", at, pl.URI)
		}
		if !sha256Hex.MatchString(pl.Sha256) {
			bad("%s.sha256 %q is not 64 lowercase hex characters", at, pl.Sha256)
		}
		if pl.Files != nil && len(pl.Files) == 0 {
			bad("%s.files is empty; omit it or list files", at)
		}
		for j, f := range pl.Files {
			if f.From == "" || f.To == "" {
				bad("%s.files[%d] needs both from and to", at, j)
			}
		}
		if pl.Selector == nil || len(pl.Selector.MatchLabels) == 0 {
			bad("%s.selector.matchLabels is empty; set os and arch", at)
			continue
		}
		if len(pl.Selector.MatchExpressions) > 0 {
			bad("%s.selector.matchExpressions is not used by this project; use matchLabels os and arch", at)
		}
		for k := range pl.Selector.MatchLabels {
			if k != "os" && k != "arch" {
				bad("%s.selector.matchLabels has key %q; krew allows only os and arch", at, k)
			}
		}
		plat := Platform{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		if plat.OS == "" || plat.Arch == "" {
			bad("%s.selector.matchLabels must set both os and arch", at)
			continue
		}
		if j, dup := seen[plat]; dup {
			bad("%s and spec.platforms[%d] both select %s (overlapping platform selectors)", at, j, plat)
		}
		seen[plat] = i
		// krew links bin as kubectl-<name>[.exe] whatever the file is
		// called (so a renamed plugin can ship the same archives), but
		// Windows only runs it with the .exe suffix.
		if pl.Bin == "" || strings.ContainsAny(pl.Bin, `/\`) || strings.HasSuffix(pl.Bin, ".exe") != (plat.OS == "windows") {
			bad("%s.bin is %q, want a file name at the archive root, ending in .exe exactly when os is windows", at, pl.Bin)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("krew manifest %s:\n  %s", fileName, strings.Join(errs, "\n  "))
	}
	return nil
}

// PlatformOf reads a platform entry's os/arch selector.
func (pl KrewPlatform) PlatformOf() Platform {
	if pl.Selector == nil {
		return Platform{}
	}
	return Platform{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
}

// VerifyArchives checks each platform against the archive of the same file
// name in distDir: the archive exists, its sha256 equals the manifest's, and
// it holds bin, every files[].from (taken literally: we use no globs) and a
// LICENSE, which krew-index's install check requires.
func VerifyArchives(p *KrewPlugin, distDir string) error {
	var errs []string
	for i, pl := range p.Spec.Platforms {
		at := fmt.Sprintf("spec.platforms[%d] (%s)", i, pl.PlatformOf())
		file := filepath.Join(distDir, path.Base(pl.URI))
		sum, err := FileSHA256(file)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: archive for uri %s: %v", at, pl.URI, err))
			continue
		}
		if sum != pl.Sha256 {
			errs = append(errs, fmt.Sprintf("%s: %s has sha256 %s but the manifest says %s; re-render the manifest after packing", at, file, sum, pl.Sha256))
		}
		files, err := ReadArchive(file)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", at, err))
			continue
		}
		want := []string{pl.Bin, "LICENSE"}
		for _, f := range pl.Files {
			want = append(want, f.From)
		}
		for _, name := range want {
			if _, ok := files[name]; !ok {
				errs = append(errs, fmt.Sprintf("%s: %s has no %s", at, file, name))
			}
		}
		if f, ok := files[pl.Bin]; ok && f.Mode&0o111 == 0 && pl.PlatformOf().OS != "windows" {
			errs = append(errs, fmt.Sprintf("%s: %s in %s is not executable (mode %v)", at, pl.Bin, file, f.Mode))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("archives do not match the manifest:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// ReadManifestFile parses and lints a manifest file.
func ReadManifestFile(file string) (*KrewPlugin, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p, LintManifest(p, filepath.Base(file))
}
