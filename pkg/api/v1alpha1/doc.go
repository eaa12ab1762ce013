// Package v1alpha1 holds the nvidia.com/v1alpha1 API types that kubectl-dgdr
// reads and writes: DynamoGraphDeploymentRequest (the user's SLA request) and
// the DynamoGraphDeployment essentials it generates.
//
// +kubebuilder:object:generate=true
// +groupName=nvidia.com
package v1alpha1
