package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of every type in this package.
var GroupVersion = schema.GroupVersion{Group: "nvidia.com", Version: "v1beta1"}

// Resource names (the same in every version).
const (
	DGDRKind     = "DynamoGraphDeploymentRequest"
	DGDRResource = "dynamographdeploymentrequests"
)

// DGDRGVR identifies the resource for dynamic clients.
var DGDRGVR = GroupVersion.WithResource(DGDRResource)

// AddToScheme registers the types of this package in a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&DynamoGraphDeploymentRequest{}, &DynamoGraphDeploymentRequestList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
