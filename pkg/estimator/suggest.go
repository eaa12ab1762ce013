package estimator

import (
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/suggest"
)

// modelKeys are the normalised ids of the catalog (with and without the
// org) and the Hugging Face id each names, for the did-you-mean.
var modelKeys, modelKeyHF = func() ([]string, map[string]string) {
	var keys []string
	hf := map[string]string{}
	for i := range catalog {
		m := &catalog[i]
		for _, id := range append([]string{m.HFID, m.AICName, m.Name}, m.Aliases...) {
			if id == "" {
				continue
			}
			k := normKey(id)
			for _, key := range []string{k, k[strings.LastIndex(k, "/")+1:]} {
				if _, dup := hf[key]; !dup {
					hf[key] = m.HFID
					keys = append(keys, key)
				}
			}
		}
	}
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
