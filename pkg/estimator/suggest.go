package estimator

import (
	"sort"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/suggest"
)

// modelKeys are catalogIndex's and catalogOrgless's ids, sorted so that a
// tie always suggests the same model, each with the Hugging Face id it names.
var modelKeys, modelKeyHF = func() ([]string, map[string]string) {
	hf := map[string]string{}
	for _, index := range []map[string]int{catalogIndex, catalogOrgless} {
		for k, i := range index {
			if _, dup := hf[k]; !dup {
				hf[k] = catalog[i].HFID
			}
		}
	}
	keys := make([]string, 0, len(hf))
	for k := range hf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, hf
}()

// SuggestModel is the catalog model whose id is nearest to name (a typo
// such as Qwen/Qwen-3-0.6B), as its Hugging Face id, or "".
func SuggestModel(name string) string {
	key := normKey(name)
	if !strings.Contains(key, "/") {
		return modelKeyHF[suggest.Closest(key, modelKeys)]
	}
	// With an org, the org must match closely too: compare whole ids.
	var full []string
	for _, k := range modelKeys {
		if strings.Contains(k, "/") {
			full = append(full, k)
		}
	}
	if k := suggest.Closest(key, full); k != "" {
		return modelKeyHF[k]
	}
	return modelKeyHF[suggest.Closest(key[strings.LastIndex(key, "/")+1:], modelKeys)]
}

// Catalog returns a copy of every catalog model, in catalog order.
func Catalog() []Model {
	out := make([]Model, len(catalog))
	for i, m := range catalog {
		m.Aliases = append([]string(nil), m.Aliases...)
		out[i] = m
	}
	return out
}
