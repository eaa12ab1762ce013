//go:build tools

// Package tools pins krew's CLI and manifest validator. They live in their own
// module so krew's dependency graph never touches the product module.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
