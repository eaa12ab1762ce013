# Distribution: release archives, the krew manifest, krew's own tools, images.
# The work is done in Go (pkg/release, driven by hack/release); this file only
# wires variables. Targets:
#
#   make release VERSION=vX.Y.Z    dist/kubectl-dgdr_<v>_<os>_<arch>.{tar.gz,zip},
#                                  dist/checksums.txt, krew/dgdr.yaml (validated)
#   make release-check             renders a test release under out/release-check,
#                                  validates it, installs every archive with krew
#                                  into a temp KREW_ROOT, runs the plugin, checks
#                                  sha256 values and the image tarball (make test
#                                  depends on it)
#   make image VERSION=vX.Y.Z      dist/images/<name>.tar: multi-arch OCI layouts
#   make krew-tools                bin/tools/{krew,validate-krew-manifest}
#
# RELEASE_BASE_URL renders the manifest for somewhere other than the GitHub
# release of VERSION: everything up to the archive's file name is replaced, e.g.
#   make release VERSION=v0.1.0 RELEASE_BASE_URL=https://downloads.example.com/dgdr/v0.1.0
#   make release VERSION=v0.1.0 RELEASE_BASE_URL=http://127.0.0.1:8000   # python3 -m http.server -d dist

RELEASE_BASE_URL  ?=
RELEASE_DOCS      ?= LICENSE,README.md
DIST              ?= dist
# The krew plugin name. A fallback name (docs/install.md) is a copy of the
# template as krew/<name>.yaml.tmpl with metadata.name changed.
KREW_PLUGIN       ?= dgdr
KREW_TEMPLATE     ?= krew/$(KREW_PLUGIN).yaml.tmpl
KREW_MANIFEST     ?= krew/$(KREW_PLUGIN).yaml
# Archive and image timestamps follow the last commit, so rebuilding a tag
# gives the same sha256 values (when BUILD_DATE is pinned too).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH

RELEASE_GO := go run ./hack/release

# krew's CLI and validator, built from the tools module hack/tools/krew (which
# pins sigs.k8s.io/krew) so krew's dependencies stay out of go.mod. Rebuilt
# when missing or when that go.mod changes; nothing is downloaded as a binary.
KREW_VERSION           := v0.5.0
TOOLS_BIN              := $(BIN)/tools
KREW                   := $(TOOLS_BIN)/krew
VALIDATE_KREW_MANIFEST := $(TOOLS_BIN)/validate-krew-manifest

.PHONY: krew-tools
krew-tools: $(KREW) $(VALIDATE_KREW_MANIFEST) ## Build krew and validate-krew-manifest into bin/tools

$(KREW) $(VALIDATE_KREW_MANIFEST): hack/tools/krew/go.mod
	@mkdir -p $(TOOLS_BIN)
	cd hack/tools/krew && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-X sigs.k8s.io/krew/internal/version.gitTag=$(KREW_VERSION)" \
		-o $(abspath $@) sigs.k8s.io/krew/cmd/$(notdir $@)

.PHONY: release
release: $(VALIDATE_KREW_MANIFEST) ## VERSION=vX.Y.Z [RELEASE_BASE_URL=...]: archives, checksums, krew manifest
	$(RELEASE_GO) release -version "$(VERSION)" -ldflags "$(LDFLAGS)" -dist $(DIST) \
		-template $(KREW_TEMPLATE) -manifest $(KREW_MANIFEST) -base-url "$(RELEASE_BASE_URL)" \
		-docs "$(RELEASE_DOCS)"
	$(VALIDATE_KREW_MANIFEST) -manifest $(KREW_MANIFEST) -skip-install

# The release check renders a release for a fixed test version. COMMIT,
# BUILD_DATE and the timestamps are pinned so unchanged sources relink
# nothing on a re-run (the go command keeps a binary whose build ID already
# matches) and give the same sha256 values.
RC_DIR     := out/release-check
RC_VERSION := v0.0.0-releasecheck
RC_EPOCH   := 315532800

.PHONY: release-check
release-check: $(KREW) $(VALIDATE_KREW_MANIFEST) ## Render, validate, krew-install and run a test release
	$(MAKE) --no-print-directory release VERSION=$(RC_VERSION) COMMIT=releasecheck BUILD_DATE=1980-01-01T00:00:00Z SOURCE_DATE_EPOCH=$(RC_EPOCH) \
		DIST=$(RC_DIR)/dist KREW_MANIFEST=$(RC_DIR)/krew/$(KREW_PLUGIN).yaml RELEASE_BASE_URL=http://127.0.0.1:8000/$(RC_VERSION)
	@# The image code is generic: check it on the plugin's own linux binaries,
	@# so it is covered before cmd/webhook exists.
	$(RELEASE_GO) image -name kubectl-dgdr -prebuilt $(RC_DIR)/dist/build -platforms linux/amd64,linux/arm64 \
		-ref example.invalid/kubectl-dgdr:$(RC_VERSION) -version $(RC_VERSION) -source-date-epoch $(RC_EPOCH) \
		-out $(RC_DIR)/images/kubectl-dgdr.tar
	DGDR_RELEASE_CHECK_DIR=$(abspath $(RC_DIR)) DGDR_RELEASE_CHECK_VERSION=$(RC_VERSION) DGDR_KREW_PLUGIN=$(KREW_PLUGIN) \
	DGDR_IMAGES_DIR=$(abspath $(RC_DIR)/images) \
	KREW=$(abspath $(KREW)) VALIDATE_KREW_MANIFEST=$(abspath $(VALIDATE_KREW_MANIFEST)) \
		go test -count=1 -v -run '^(TestReleaseCheck|TestImageTarballs)$$' ./pkg/release/

# Images: one multi-arch (linux amd64+arm64) OCI image index per entry of
# IMAGES, built from ./cmd/<name> on an empty base (passwd/group with uid
# 65532, /tmp) with go-containerregistry; no base image is pulled. The
# entrypoint is /usr/local/bin/<name>, the user 65532:65532. An entry whose
# package has no Go files fails the build. To add an image,
# add its name (and, if its main package is elsewhere, IMAGE_PKG_<name>).
#
# Push a tarball with crane, go-containerregistry's CLI
# (go install github.com/google/go-containerregistry/cmd/crane@v0.22.1). crane
# reads an OCI layout from a directory; without --index it pushes the one
# multi-arch index that index.json names (--index would wrap it in another):
#   mkdir -p /tmp/webhook && tar -xf dist/images/webhook.tar -C /tmp/webhook
#   crane auth login ghcr.io -u USER --password-stdin
#   crane push /tmp/webhook $(IMAGE_REPO)/dgdr-webhook:$(VERSION)
#   crane manifest $(IMAGE_REPO)/dgdr-webhook:$(VERSION)    # lists linux/amd64 and linux/arm64
# or with skopeo:
#   skopeo copy --all oci-archive:dist/images/webhook.tar docker://$(IMAGE_REPO)/dgdr-webhook:$(VERSION)
# `podman load -i` and `docker load -i` (with the containerd image store) read
# the tarballs too. manifests/webhook/deployment.yaml names
# $(IMAGE_REPO)/dgdr-webhook, so pin its tag with kustomize `images:`.
IMAGES          ?= webhook worker
IMAGE_REPO      ?= ghcr.io/kubectl-dgdr
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
IMAGE_DIR       ?= $(DIST)/images
IMAGE_PKG_webhook ?= ./cmd/webhook
IMAGE_PKG_worker  ?= ./cmd/dgdr-worker

.PHONY: image
image: ## Build the images in IMAGES as OCI-layout tarballs under dist/images
	$(foreach i,$(IMAGES),$(call build-image,$(i),$(or $(IMAGE_PKG_$(i)),./cmd/$(i))))

define build-image
	@if ls $(2)/*.go >/dev/null 2>&1; then \
		echo "image $(1): $(2) -> $(IMAGE_DIR)/$(1).tar"; \
		$(RELEASE_GO) image -name $(1) -pkg $(2) -ldflags "$(LDFLAGS)" -platforms "$(IMAGE_PLATFORMS)" \
			-ref $(IMAGE_REPO)/dgdr-$(1):$(VERSION) -version $(VERSION) -revision $(COMMIT) \
			-build-dir $(IMAGE_DIR)/build/$(1) -out $(IMAGE_DIR)/$(1).tar; \
	else echo "image $(1): $(2) has no Go files (set IMAGE_PKG_$(1))" >&2; exit 1; fi

endef

.PHONY: image-check
image-check: image ## Build the images and check each tarball (OCI layout, entrypoint, non-root user)
	DGDR_IMAGES_DIR=$(abspath $(IMAGE_DIR)) go test -count=1 -v -run '^TestImageTarballs$$' ./pkg/release/
