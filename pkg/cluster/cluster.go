// Package cluster is the Kubernetes I/O of `kubectl dgdr`: GPU discovery
// from node labels, DGDR status writes (conditions, events), the output and
// planner ConfigMaps, and the server-side apply of the generated
// DynamoGraphDeployment with its readiness follow-up. The profiling state
// machine that drives these calls is pkg/profilerun; together they replace
// the upstream operator's profiling flow with calls made by the plugin user.
package cluster

import (
	"fmt"
	"io"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager is the field manager of every write the plugin makes.
const FieldManager = "kubectl-dgdr"

// Names of the ConfigMaps and keys of spec/dgdr-api.md §8.2 and §8.5.
const (
	OutputPrefix           = "dgdr-output-"
	KeyConfigWithPlanner   = "config_with_planner.yaml"
	KeyMockerConfigPlanner = "mocker_config_with_planner.yaml"
	KeyResults             = "results.json"
	KeyHardware            = "hardware.json"
	PlannerProfileData     = "planner-profile-data"
)

// OutputConfigMapName is dgdr-output-<name>.
func OutputConfigMapName(dgdrName string) string { return OutputPrefix + dgdrName }

// Clients is what the plugin talks to the cluster with.
type Clients struct {
	// Client reads and writes DGDRs, DGDs, ConfigMaps, Nodes and Events. Its
	// scheme must hold those types (api.NewScheme).
	Client client.Client
	// Clock stamps conditions and events; nil means the real clock.
	Clock clock.PassiveClock
}

// Now is the clock's time (the real one when Clock is nil).
func (c *Clients) Now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

// printf writes a progress line when w is set.
func printf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
