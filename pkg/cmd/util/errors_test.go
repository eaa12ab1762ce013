package util

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTranslateError(t *testing.T) {
	gr := schema.GroupResource{Group: "nvidia.com", Resource: "dynamographdeploymentrequests"}
	cases := map[string]struct {
		err  error
		want string
	}{
		"no CRD": {&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "nvidia.com", Kind: "DynamoGraphDeploymentRequest"}},
			"the DynamoGraphDeploymentRequest CRD (nvidia.com, v1beta1 and v1alpha1) is not installed in this cluster: install it with its conversion webhook: kubectl apply -k manifests/install/self-managed"},
		"no DGD CRD": {&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "nvidia.com", Kind: "DynamoGraphDeployment"}},
			"the DynamoGraphDeployment CRD (nvidia.com/v1alpha1) is not installed"},
		"not found": {apierrors.NewNotFound(gr, "x"),
			`dynamographdeploymentrequests.nvidia.com "x" not found in namespace "ns"; list them with: kubectl dgdr status -A`},
		"forbidden": {apierrors.NewForbidden(gr, "x", errors.New("no")),
			"kubectl dgdr apply needs more permissions: ask an administrator to apply the plugin-user ClusterRole"},
		"other": {errors.New("boom"), "boom"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := TranslateError(tc.err, Target{Verb: "apply", Name: "x", Namespace: "ns"})
			if got == nil || !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
}

func TestColorMode(t *testing.T) {
	var c ColorMode
	if err := c.Set("sometimes"); err == nil {
		t.Fatal("want an error for an unknown mode")
	}
	if err := c.Set("always"); err != nil || !c.Enabled(nil) {
		t.Fatal("always must enable colour")
	}
	var b strings.Builder
	if ColorAuto.Enabled(&b) {
		t.Fatal("auto must not colour a non-terminal")
	}
}
