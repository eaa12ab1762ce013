// Package admission holds the DGDR admission rules of spec/dgdr-api.md §5 and
// §6.4: the injection (Default) and the stateless validation (Validate,
// ValidateUpdate). The webhook, `kubectl dgdr create` and `profile --local`
// all call these functions, so a cluster without the webhook gets the same
// result as one with it. Nothing here talks to a cluster or the network.
package admission

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// The webhook paths controller-runtime derives from the GVK; the manifests
// and the server both use these.
const (
	MutatePath   = "/mutate-nvidia-com-v1alpha1-dynamographdeploymentrequest"
	ValidatePath = "/validate-nvidia-com-v1alpha1-dynamographdeploymentrequest"
)

// GroupKind is the DGDR's group and kind, for Invalid errors.
var groupKind = schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: v1alpha1.DGDRKind}

// SpecFrozen reports whether spec edits are refused in this state (E8).
func SpecFrozen(s v1alpha1.State) bool {
	switch s {
	case v1alpha1.StateProfiling, v1alpha1.StateDeploying, v1alpha1.StateReady:
		return true
	}
	return false
}
