package online

import (
	"testing"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
)

// E2EEnv hands the package's control plane (and its kubelet harness) to the
// external tests in this directory, which drive the measurer through
// pkg/cluster (an import the internal tests cannot make).
func E2EEnv(t *testing.T) *testenv.Env {
	needEnv(t)
	return e2e.env
}

// FreePort gives each engine its own port on this host.
var FreePort = freePort

// TestKVBlocks is the mocker's KV cache in the e2e tests.
const TestKVBlocks = testKVBlocks
