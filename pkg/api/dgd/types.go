package dgd

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is nvidia.com/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: "nvidia.com", Version: "v1alpha1"}

// AddToScheme registers DynamoGraphDeployment in a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &DynamoGraphDeployment{}, &DynamoGraphDeploymentList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DGD states, lower case as the DGD controller writes them.
const (
	StateInitializing = "initializing"
	StatePending      = "pending"
	StateSuccessful   = "successful"
	StateFailed       = "failed"
)

// DynamoGraphDeployment is a graph of Dynamo services.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dgd
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Backend",type=string,JSONPath=`.spec.backendFramework`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DynamoGraphDeployment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DynamoGraphDeploymentSpec   `json:"spec,omitempty"`
	Status DynamoGraphDeploymentStatus `json:"status,omitempty"`
}

// DynamoGraphDeploymentList is a list of DGDs.
//
// +kubebuilder:object:root=true
type DynamoGraphDeploymentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DynamoGraphDeployment `json:"items"`
}

// DynamoGraphDeploymentSpec is the graph.
type DynamoGraphDeploymentSpec struct {
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=25
	Services map[string]*ServiceSpec `json:"services"`
	// +kubebuilder:validation:Enum=sglang;vllm;trtllm
	// +optional
	BackendFramework string `json:"backendFramework,omitempty"`
	// +optional
	Envs []corev1.EnvVar `json:"envs,omitempty"`
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +optional
	PVCs []runtime.RawExtension `json:"pvcs,omitempty"`
}

// ServiceSpec is one service of the graph.
type ServiceSpec struct {
	// +optional
	ComponentType string `json:"componentType,omitempty"`
	// +optional
	SubComponentType string `json:"subComponentType,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// +optional
	Resources *Resources `json:"resources,omitempty"`
	// +optional
	Multinode *Multinode `json:"multinode,omitempty"`
	// +optional
	EnvFromSecret string `json:"envFromSecret,omitempty"`
	// +optional
	Envs []corev1.EnvVar `json:"envs,omitempty"`
	// ExtraPodSpec is a PodSpec plus mainContainer, kept free-form here.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +optional
	ExtraPodSpec *runtime.RawExtension `json:"extraPodSpec,omitempty"`
	// +optional
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
	// +optional
	SharedMemory *SharedMemory `json:"sharedMemory,omitempty"`
	// +optional
	DynamoNamespace string `json:"dynamoNamespace,omitempty"`
}

// Resources are per-pod GPU, CPU and memory amounts, as strings.
type Resources struct {
	// +optional
	Requests *ResourceItem `json:"requests,omitempty"`
	// +optional
	Limits *ResourceItem `json:"limits,omitempty"`
}

// ResourceItem is one set of amounts.
type ResourceItem struct {
	// +optional
	CPU string `json:"cpu,omitempty"`
	// +optional
	Memory string `json:"memory,omitempty"`
	// +optional
	GPU string `json:"gpu,omitempty"`
	// +optional
	Custom map[string]string `json:"custom,omitempty"`
}

// Multinode spreads one service over several nodes.
type Multinode struct {
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:default=2
	NodeCount int32 `json:"nodeCount,omitempty"`
}

// VolumeMount mounts a PVC of spec.pvcs.
type VolumeMount struct {
	Name string `json:"name"`
	// +optional
	MountPoint string `json:"mountPoint,omitempty"`
	// +optional
	UseAsCompilationCache bool `json:"useAsCompilationCache,omitempty"`
}

// SharedMemory sizes /dev/shm.
type SharedMemory struct {
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// +optional
	Size string `json:"size,omitempty"`
}

// DynamoGraphDeploymentStatus is written by Dynamo's operator (or a test).
type DynamoGraphDeploymentStatus struct {
	// +optional
	State string `json:"state,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +optional
	Services *runtime.RawExtension `json:"services,omitempty"`
}
