// Package dgd holds the essentials of nvidia.com/v1alpha1
// DynamoGraphDeployment that kubectl-dgdr generates. In production, Dynamo's
// operator owns this CRD; ours exists only so test clusters can store DGDs.
//
// +kubebuilder:object:generate=true
// +groupName=nvidia.com
// +versionName=v1alpha1
package dgd
