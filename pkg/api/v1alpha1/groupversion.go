package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of every type in this package.
var GroupVersion = schema.GroupVersion{Group: "nvidia.com", Version: "v1alpha1"}

// Resource names, shared by clients, RBAC and tests.
const (
	DGDRKind     = "DynamoGraphDeploymentRequest"
	DGDRResource = "dynamographdeploymentrequests"
	DGDKind      = "DynamoGraphDeployment"
	DGDResource  = "dynamographdeployments"
)

// DGDRGVR and DGDGVR identify the resources for dynamic clients.
var (
	DGDRGVR = GroupVersion.WithResource(DGDRResource)
	DGDGVR  = GroupVersion.WithResource(DGDResource)
)

// AddToScheme registers the types of this package in a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&DynamoGraphDeploymentRequest{}, &DynamoGraphDeploymentRequestList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
