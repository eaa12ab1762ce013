package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRootUID is the user images run as: distroless's "nonroot". It is
// numeric in the config because kubelet can enforce runAsNonRoot only on a
// numeric user.
const NonRootUID = 65532

// ImageOptions describes one multi-arch image built from static binaries on
// an empty base: no base image is pulled, so the build works offline.
type ImageOptions struct {
	Name string // binary name inside the image; the entrypoint is /usr/local/bin/<Name>
	Ref  string // e.g. ghcr.io/kubectl-dgdr/dgdr-webhook:v0.1.0, stored as the ref.name annotation
	// Binaries maps each linux platform to a static binary built for it.
	Binaries map[Platform]string
	Version  string
	Revision string
	Source   string // org.opencontainers.image.source
	Created  time.Time
}

// EntrypointFor is where an image built by BuildImage runs its binary.
func EntrypointFor(name string) string { return "/usr/local/bin/" + name }

// baseEntries is the filesystem a static Go binary needs to run as a
// non-root user: passwd/group naming uid 65532, a home and a /tmp.
func baseEntries() []Entry {
	nr := strconv.Itoa(NonRootUID)
	return []Entry{
		{Name: "etc", Dir: true, Mode: 0o755},
		{Name: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:" + nr + ":" + nr + ":nonroot:/home/nonroot:/sbin/nologin\n")},
		{Name: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnonroot:x:" + nr + ":\n")},
		{Name: "home", Dir: true, Mode: 0o755},
		{Name: "home/nonroot", Dir: true, Mode: 0o700, UID: NonRootUID, GID: NonRootUID},
		{Name: "root", Dir: true, Mode: 0o700},
		{Name: "tmp", Dir: true, Mode: 0o777 | fs.ModeSticky},
	}
}

func layerFromEntries(entries []Entry, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := WriteTar(&buf, entries, created); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithCompressedCaching)
}

// BuildImage builds an OCI image index with one image per platform in
// o.Binaries, each with two layers: the base and the binary.
func BuildImage(o ImageOptions) (v1.ImageIndex, error) {
	if o.Name == "" || len(o.Binaries) == 0 {
		return nil, fmt.Errorf("image %q: Name and at least one binary are required", o.Ref)
	}
	if o.Created.IsZero() {
		o.Created = DefaultModTime()
	}
	plats := make([]Platform, 0, len(o.Binaries))
	for p := range o.Binaries {
		if p.OS != "linux" {
			return nil, fmt.Errorf("image %s: platform %s: images are linux only", o.Ref, p)
		}
		plats = append(plats, p)
	}
	slices.SortFunc(plats, func(a, b Platform) int { return strings.Compare(a.String(), b.String()) })

	base, err := layerFromEntries(baseEntries(), o.Created)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":    o.Name,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   o.Source,
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	entry := EntrypointFor(o.Name)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range plats {
		bin := o.Binaries[p]
		binLayer, err := layerFromEntries([]Entry{
			{Name: "usr", Dir: true, Mode: 0o755},
			{Name: "usr/local", Dir: true, Mode: 0o755},
			{Name: "usr/local/bin", Dir: true, Mode: 0o755},
			{Name: strings.TrimPrefix(entry, "/"), Mode: 0o755, Path: bin},
		}, o.Created)
		if err != nil {
			return nil, fmt.Errorf("image %s %s: %w", o.Ref, p, err)
		}
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		created := v1.Time{Time: o.Created}
		img, err = mutate.Append(img,
			mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "hack/release: base (passwd, group, /tmp, uid " + strconv.Itoa(NonRootUID) + ")"}},
			mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "hack/release: " + entry}},
		)
		if err != nil {
			return nil, fmt.Errorf("image %s %s: %w", o.Ref, p, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Created = p.OS, p.Arch, created
		cf.Config.Entrypoint = []string{entry}
		cf.Config.User = strconv.Itoa(NonRootUID) + ":" + strconv.Itoa(NonRootUID)
		cf.Config.WorkingDir = "/"
		cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"}
		cf.Config.Labels = labels
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Platform:  &v1.Platform{OS: p.OS, Architecture: p.Arch},
		}})
	}
	return idx, nil
}

// WriteOCITarball writes idx as an OCI image layout (oci-layout, index.json,
// blobs/) packed in a plain tar, the format of `skopeo copy oci-archive:` and
// of `docker load` / `podman load`. ref becomes index.json's
// org.opencontainers.image.ref.name annotation.
func WriteOCITarball(file string, idx v1.ImageIndex, ref string, modTime time.Time) error {
	tmp, err := os.MkdirTemp("", "oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref}))
	}
	if err := p.AppendIndex(idx, opts...); err != nil {
		return fmt.Errorf("write OCI layout for %s: %w", ref, err)
	}
	var entries []Entry
	err = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tmp, path)
		if err != nil {
			return err
		}
		entries = append(entries, Entry{Name: filepath.ToSlash(rel), Mode: 0o644, Path: path})
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := WriteTar(f, entries, modTime); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", file, err)
	}
	return f.Close()
}

// ImageSummary is what VerifyOCITarball found for one platform.
type ImageSummary struct {
	Platform   Platform
	Digest     string
	Entrypoint []string
	User       string
}

// OCITarballSummary is what VerifyOCITarball found in a tarball.
type OCITarballSummary struct {
	Ref    string
	Images []ImageSummary
}

type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform,omitempty"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        ociDescriptor   `json:"config"`
	Layers        []ociDescriptor `json:"layers"`
}

// VerifyOCITarball reads an OCI-layout tarball without trusting it: every
// blob's sha256 and size must match its descriptor, every layer's
// uncompressed digest must match the config's diff_ids, each image must run
// a file that exists and is executable in its layers, as a numeric non-root
// user. It is written against the OCI image spec rather than through
// go-containerregistry's reader, so that it checks the writer independently.
func VerifyOCITarball(file string) (*OCITarballSummary, error) {
	blobs, err := readTarFiles(file)
	if err != nil {
		return nil, err
	}
	fail := func(format string, a ...any) (*OCITarballSummary, error) {
		return nil, fmt.Errorf("%s: %s", file, fmt.Sprintf(format, a...))
	}
	var lay struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(blobs["oci-layout"], &lay); err != nil || lay.Version != "1.0.0" {
		return fail("oci-layout is missing or not imageLayoutVersion 1.0.0 (%s)", blobs["oci-layout"])
	}
	var top ociIndex
	if err := json.Unmarshal(blobs["index.json"], &top); err != nil {
		return fail("index.json: %v", err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != string(types.OCIImageIndex) {
		return fail("index.json must point at exactly one %s, found %+v", types.OCIImageIndex, top.Manifests)
	}
	blob := func(d ociDescriptor) ([]byte, error) {
		hexd, ok := strings.CutPrefix(d.Digest, "sha256:")
		if !ok {
			return nil, fmt.Errorf("digest %q is not sha256", d.Digest)
		}
		b, ok := blobs["blobs/sha256/"+hexd]
		if !ok {
			return nil, fmt.Errorf("blob %s is missing", d.Digest)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != hexd || int64(len(b)) != d.Size {
			return nil, fmt.Errorf("blob %s: content has sha256:%x and size %d, descriptor says size %d", d.Digest, sum, len(b), d.Size)
		}
		return b, nil
	}
	sum := &OCITarballSummary{Ref: top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]}
	b, err := blob(top.Manifests[0])
	if err != nil {
		return fail("image index: %v", err)
	}
	var idx ociIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return fail("image index: %v", err)
	}
	if idx.MediaType != string(types.OCIImageIndex) || len(idx.Manifests) == 0 {
		return fail("image index has mediaType %q and %d manifests, want %s and at least one", idx.MediaType, len(idx.Manifests), types.OCIImageIndex)
	}
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			return fail("manifest %s has no platform in the index", d.Digest)
		}
		plat := Platform{OS: d.Platform.OS, Arch: d.Platform.Architecture}
		s, err := verifyImage(blob, d, plat)
		if err != nil {
			return fail("%s: %v", plat, err)
		}
		sum.Images = append(sum.Images, *s)
	}
	return sum, nil
}

func verifyImage(blob func(ociDescriptor) ([]byte, error), d ociDescriptor, plat Platform) (*ImageSummary, error) {
	b, err := blob(d)
	if err != nil {
		return nil, err
	}
	var m ociManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.MediaType != string(types.OCIManifestSchema1) || m.Config.MediaType != string(types.OCIConfigJSON) {
		return nil, fmt.Errorf("manifest/config media types %q/%q, want %s/%s", m.MediaType, m.Config.MediaType, types.OCIManifestSchema1, types.OCIConfigJSON)
	}
	cb, err := blob(m.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(cb, &cf); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cf.OS != plat.OS || cf.Architecture != plat.Arch {
		return nil, fmt.Errorf("config says %s/%s but the index says %s", cf.OS, cf.Architecture, plat)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers but %d diff_ids", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	files := map[string]*tar.Header{}
	for i, l := range m.Layers {
		lb, err := blob(l)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if l.MediaType != string(types.OCILayer) {
			return nil, fmt.Errorf("layer %d has mediaType %q, want %s", i, l.MediaType, types.OCILayer)
		}
		gz, err := gzip.NewReader(bytes.NewReader(lb))
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		h := sha256.New()
		tr := tar.NewReader(io.TeeReader(gz, h))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			files[path.Clean("/"+hdr.Name)] = hdr
		}
		if _, err := io.Copy(io.Discard, gz); err != nil { // hash tar padding too
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != cf.RootFS.DiffIDs[i].String() {
			return nil, fmt.Errorf("layer %d uncompressed is %s but diff_ids[%d] is %s", i, got, i, cf.RootFS.DiffIDs[i])
		}
	}
	ep := cf.Config.Entrypoint
	if len(ep) == 0 {
		return nil, fmt.Errorf("no entrypoint")
	}
	if hdr, ok := files[ep[0]]; !ok || hdr.Typeflag != tar.TypeReg || hdr.Mode&0o111 == 0 {
		return nil, fmt.Errorf("entrypoint %s is not an executable file in the layers", ep[0])
	}
	uid, _, _ := strings.Cut(cf.Config.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		return nil, fmt.Errorf("user %q: want a numeric non-zero uid, which kubelet's runAsNonRoot can verify", cf.Config.User)
	}
	return &ImageSummary{Platform: plat, Digest: d.Digest, Entrypoint: ep, User: cf.Config.User}, nil
}

func readTarFiles(file string) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, hdr.Name, err)
		}
		out[path.Clean(hdr.Name)] = b
	}
}
