package cluster

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// overlayRoot and generatedFile are where the overlay and the DGD live in
// the in-memory file system.
const (
	overlayRoot   = "/overlay"
	generatedFile = "zz-kubectl-dgdr-generated-dgd.yaml"
)

// OverlayRenderer renders a user kustomize overlay over the generated DGD,
// in process. kustomize is not safe for concurrent use, hence the mutex; a
// panic inside it comes back as an error.
type OverlayRenderer struct {
	mu sync.Mutex
}

// Render copies dir into memory, adds the DGD as one more resource of its
// kustomization, builds it and returns the one DGD it emits.
func (r *OverlayRenderer) Render(dir string, obj *unstructured.Unstructured) (out *unstructured.Unstructured, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("kustomize panicked rendering overlay %s: %v", dir, p)
		}
	}()
	mem := filesys.MakeFsInMemory()
	if err := copyDir(dir, mem); err != nil {
		return nil, err
	}
	kfile := ""
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if mem.Exists(filepath.Join(overlayRoot, n)) {
			kfile = filepath.Join(overlayRoot, n)
			break
		}
	}
	if kfile == "" {
		return nil, fmt.Errorf("-k %s: no kustomization.yaml in the directory; add one with patches for the DynamoGraphDeployment", dir)
	}
	raw, err := mem.ReadFile(kfile)
	if err != nil {
		return nil, err
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("-k %s: parsing %s: %w", dir, filepath.Base(kfile), err)
	}
	k.Resources = append(k.Resources, generatedFile)
	if k.APIVersion == "" {
		k.APIVersion, k.Kind = types.KustomizationVersion, types.KustomizationKind
	}
	kb, err := yaml.Marshal(&k)
	if err != nil {
		return nil, err
	}
	if err := mem.WriteFile(kfile, kb); err != nil {
		return nil, err
	}
	db, err := yaml.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	if err := mem.WriteFile(filepath.Join(overlayRoot, generatedFile), db); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	rm, err := krusty.MakeKustomizer(opts).Run(mem, overlayRoot)
	if err != nil {
		return nil, fmt.Errorf("-k %s: kustomize build: %w", dir, err)
	}
	var found []*unstructured.Unstructured
	for _, res := range rm.Resources() {
		m, err := res.Map()
		if err != nil {
			return nil, err
		}
		// Round-trip through JSON so numbers are int64/float64, as
		// unstructured's DeepCopy requires.
		j, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, err
		}
		if u.GetKind() != v1alpha1.DGDKind {
			return nil, fmt.Errorf("-k %s: the overlay emits %s %s; it may only patch the DynamoGraphDeployment", dir, u.GetKind(), u.GetName())
		}
		found = append(found, u)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("-k %s: the overlay emits %d DynamoGraphDeployments; want exactly 1", dir, len(found))
	}
	return found[0], nil
}

// copyDir copies the regular files under dir into mem at overlayRoot.
func copyDir(dir string, mem filesys.FileSystem) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("-k %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("-k %s: not a directory; pass the directory holding kustomization.yaml", dir)
	}
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		target := filepath.Join(overlayRoot, rel)
		if e.IsDir() {
			return mem.MkdirAll(target)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(target, b)
	})
}
