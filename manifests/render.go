package manifests

import (
	"fmt"
	"io/fs"
	"path"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeMu serialises builds: kyaml's OpenAPI schema is global state and
// concurrent builds race (kustomize issue #3659).
var kustomizeMu sync.Mutex

// Build renders a kustomization of the embedded tree (for example
// "install/self-managed") in memory, resources in legacy order (Namespace
// and CRDs first). A panic inside kustomize becomes an error.
func Build(dir string) (m resmap.ResMap, err error) {
	fsys := filesys.MakeFsInMemory()
	if err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		return fsys.WriteFile(path.Join("/", p), b)
	}); err != nil {
		return nil, err
	}
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("kustomize build of %s panicked: %v", dir, r)
		}
	}()
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	return krusty.MakeKustomizer(opts).Run(fsys, path.Join("/", dir))
}

// BuildYAML is Build as a multi-document YAML stream.
func BuildYAML(dir string) ([]byte, error) {
	m, err := Build(dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}
