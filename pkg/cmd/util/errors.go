// Package util holds what the verbs share: error translation, the --color
// value, shell completion of DGDR names and the dry-run mapping.
package util

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// Install hints, shown with the errors that need them.
const (
	CRDInstallHint  = "install it with its conversion webhook: kubectl apply -k manifests/install/self-managed (or manifests/install/cert-manager), from the kubectl-dgdr repository or release archive; see docs/install.md"
	RBACInstallHint = "ask an administrator to apply the plugin-user ClusterRole (kubectl apply -k manifests/rbac/plugin-user) and bind it to you; see docs/rbac.md"
)

var notRegistered = regexp.MustCompile(`no kind "([^"]*)" is registered for version "([^"]*)"`)

// Target names what a verb was working on, for error messages.
type Target struct {
	Verb      string // create, profile, status, apply
	Name      string // DGDR name, "" for lists
	Namespace string
}

// TranslateError turns API errors into messages that say what to do: no
// CRD, not found, forbidden (naming the verb), and leaves others as they are.
func TranslateError(err error, t Target) error {
	if err == nil {
		return nil
	}
	// The scheme's error (wrapped by the resource builder) names the kind
	// and version but has no accessor.
	if m := notRegistered.FindStringSubmatch(err.Error()); m != nil && m[1] == v1alpha1.DGDRKind {
		return fmt.Errorf("apiVersion %q is not a DynamoGraphDeploymentRequest version kubectl-dgdr reads: use nvidia.com/v1beta1 (Dynamo 1.0 and later) or nvidia.com/v1alpha1", m[2])
	}
	var nm *meta.NoKindMatchError
	if errors.As(err, &nm) || meta.IsNoMatchError(err) {
		gk := schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: v1alpha1.DGDRKind}
		if nm != nil {
			gk = nm.GroupKind
		}
		return noCRD(gk)
	}
	if apierrors.IsNotFound(err) {
		var se apierrors.APIStatus
		if errors.As(err, &se) {
			d := se.Status().Details
			if d == nil || d.Name == "" {
				// The resource itself is unknown: the CRD is gone.
				kind := v1alpha1.DGDRKind
				if d != nil && d.Kind == v1alpha1.DGDResource {
					kind = v1alpha1.DGDKind
				}
				return noCRD(schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: kind})
			}
			if d.Kind == v1alpha1.DGDRResource || d.Group == "" && strings.Contains(err.Error(), v1alpha1.DGDRResource) {
				return fmt.Errorf("%s.%s %q not found in namespace %q; list them with: kubectl dgdr status -A",
					v1alpha1.DGDRResource, v1alpha1.GroupVersion.Group, d.Name, t.Namespace)
			}
		}
		return err
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%v\nkubectl dgdr %s needs more permissions: %s", err, t.Verb, RBACInstallHint)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot reach the Kubernetes API server (%v): check --kubeconfig, --context or --server; "+
			"to profile without a cluster use `kubectl dgdr profile --local -f FILE`", err)
	}
	return err
}

func noCRD(gk schema.GroupKind) error {
	if gk.Kind == v1alpha1.DGDKind {
		return fmt.Errorf("the DynamoGraphDeployment CRD (%s/v1alpha1) is not installed in this cluster: install the Dynamo platform (its operator and CRDs) before applying", gk.Group)
	}
	return fmt.Errorf("the DynamoGraphDeploymentRequest CRD (%s, v1beta1 and v1alpha1) is not installed in this cluster: %s", v1alpha1.GroupVersion.Group, CRDInstallHint)
}
