// Package manifests holds the install manifests (CRD, webhook, certificate
// components, install overlays, RBAC and test-only CRDs) and renders them
// with kustomize in-process.
package manifests

import "embed"

// FS is the manifests tree as shipped, for in-memory kustomize builds.
//
//go:embed all:crd all:webhook all:components all:install all:rbac all:test
var FS embed.FS
