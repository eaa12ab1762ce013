// Package v1beta1 holds the nvidia.com/v1beta1 DynamoGraphDeploymentRequest,
// the storage version since Dynamo 1.0: typed model, backend, workload, SLA,
// hardware and feature fields instead of v1alpha1's free-form profiler
// config. It is the conversion hub; v1alpha1 converts to and from it
// (pkg/api/v1alpha1/conversion.go). The schema accepts every object
// upstream's v1beta1 CRD accepts, so this CRD can replace upstream's.
//
// +kubebuilder:object:generate=true
// +groupName=nvidia.com
package v1beta1
