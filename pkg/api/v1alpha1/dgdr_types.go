package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Backend names accepted in spec.backend.
const (
	BackendVLLM   = "vllm"
	BackendSGLang = "sglang"
	BackendTRTLLM = "trtllm"
	// BackendAuto lets the profiler pick the backend (upstream main's
	// v1alpha1 and v1beta1's default); admission resolves it.
	BackendAuto = "auto"
)

// Backends lists the backends in the order the CRD enum gives them.
var Backends = []string{BackendVLLM, BackendSGLang, BackendTRTLLM}

// State is the lifecycle state in status.state.
type State string

// The states of spec/dgdr-api.md §7.4. "" and Initializing are equivalent.
const (
	StateInitializing      State = "Initializing"
	StatePending           State = "Pending"
	StateProfiling         State = "Profiling"
	StateDeploying         State = "Deploying"
	StateReady             State = "Ready"
	StateDeploymentDeleted State = "DeploymentDeleted"
	StateFailed            State = "Failed"
)

// Condition types written to status.conditions.
const (
	ConditionValidation      = "Validation"
	ConditionProfiling       = "Profiling"
	ConditionSpecGenerated   = "SpecGenerated"
	ConditionDeploymentReady = "DeploymentReady"
)

// Labels and annotations of spec/dgdr-api.md §8.7.
const (
	LabelDGDRName          = "dgdr.nvidia.com/name"
	LabelDGDRNamespace     = "dgdr.nvidia.com/namespace"
	LabelManagedBy         = "nvidia.com/managed-by"
	ManagedByValue         = "dynamo-operator"
	AnnotationAdditional   = "dgdr.nvidia.com/additional-resources"
	AnnotationProfiledHash = "dgdr.nvidia.com/profiled-spec-hash"
)

// DynamoGraphDeploymentRequest asks for a deployment of a model that meets a
// latency SLA. Profiling turns it into a DynamoGraphDeployment.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dgdr
// +kubebuilder:deprecatedversion:warning="nvidia.com/v1alpha1 DynamoGraphDeploymentRequest is deprecated; use nvidia.com/v1beta1 DynamoGraphDeploymentRequest"
// +kubebuilder:metadata:annotations="helm.sh/resource-policy=keep"
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.spec.model`
// +kubebuilder:printcolumn:name="Backend",type=string,JSONPath=`.status.backend`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="DGD-State",type=string,JSONPath=`.status.deployment.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DynamoGraphDeploymentRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DynamoGraphDeploymentRequestSpec   `json:"spec,omitempty"`
	Status DynamoGraphDeploymentRequestStatus `json:"status,omitempty"`
}

// DynamoGraphDeploymentRequestList is a list of DGDRs.
//
// +kubebuilder:object:root=true
type DynamoGraphDeploymentRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DynamoGraphDeploymentRequest `json:"items"`
}

// DynamoGraphDeploymentRequestSpec is what the user asks for.
type DynamoGraphDeploymentRequestSpec struct {
	// Model is the Hugging Face id or served name of the model to deploy.
	// It is copied into profilingConfig.config.deployment.model.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Model string `json:"model"`

	// Backend is the inference engine, or auto to let the profiler pick
	// one. It is copied into profilingConfig.config.engine.backend and
	// status.backend.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=vllm;sglang;trtllm;auto
	Backend string `json:"backend"`

	// UseMocker makes the generated DGD use the engine simulator.
	// +kubebuilder:default=false
	// +optional
	UseMocker bool `json:"useMocker,omitempty"`

	// EnableGpuDiscovery is deprecated: discovery is always attempted.
	// +optional
	EnableGpuDiscovery *bool `json:"enableGpuDiscovery,omitempty"`

	// ProfilingConfig configures the profiler.
	// +kubebuilder:validation:Required
	ProfilingConfig ProfilingConfigSpec `json:"profilingConfig"`

	// AutoApply creates the DynamoGraphDeployment once profiling succeeds.
	// +kubebuilder:default=false
	// +optional
	AutoApply bool `json:"autoApply,omitempty"`

	// DeploymentOverrides customises the generated DynamoGraphDeployment.
	// +optional
	DeploymentOverrides *DeploymentOverridesSpec `json:"deploymentOverrides,omitempty"`
}

// ProfilingConfigSpec configures the profiling run.
type ProfilingConfigSpec struct {
	// ProfilerImage is the image of the profiling engine.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ProfilerImage string `json:"profilerImage"`

	// Config is the free-form profiler configuration (sla, hardware, sweep,
	// aic, planner, deployment, engine). Unknown keys are preserved verbatim.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Config *apiextensionsv1.JSON `json:"config,omitempty"`

	// ConfigMapRef points to a base DGD template.
	// +optional
	ConfigMapRef *ConfigMapKeySelector `json:"configMapRef,omitempty"`

	// OutputPVC is a PVC mounted at /data for the profiler's outputs.
	// +optional
	OutputPVC string `json:"outputPVC,omitempty"`

	// Resources applies to the profiling container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Tolerations apply to profiling pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// NodeSelector applies to profiling pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// ConfigMapKeySelector names a key of a ConfigMap in the DGDR's namespace.
type ConfigMapKeySelector struct {
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:default=disagg.yaml
	// +optional
	Key string `json:"key,omitempty"`
}

// DeploymentOverridesSpec customises the generated DynamoGraphDeployment.
type DeploymentOverridesSpec struct {
	// Name of the DGD; defaults to the DGDR's name.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace of the DGD and its supporting ConfigMaps; defaults to the DGDR's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// WorkersImage is the image of every generated DGD service.
	// +optional
	WorkersImage string `json:"workersImage,omitempty"`
}

// DynamoGraphDeploymentRequestStatus is what profiling and deployment report.
type DynamoGraphDeploymentRequestStatus struct {
	// +optional
	State State `json:"state,omitempty"`
	// Backend is copied from spec.backend.
	// +optional
	Backend string `json:"backend,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	// ProfilingResults names the output ConfigMap: configmap/dgdr-output-<name>.
	// +optional
	ProfilingResults string `json:"profilingResults,omitempty"`
	// GeneratedDeployment is the full DynamoGraphDeployment the profiler produced.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:EmbeddedResource
	// +optional
	GeneratedDeployment *runtime.RawExtension `json:"generatedDeployment,omitempty"`
	// Deployment tracks the applied DynamoGraphDeployment.
	// +optional
	Deployment *DeploymentStatus `json:"deployment,omitempty"`
}

// DeploymentStatus tracks the DGD created from a DGDR.
type DeploymentStatus struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// State mirrors the DGD's status.state (initializing, pending, successful, failed).
	// +optional
	State string `json:"state,omitempty"`
	// +optional
	Created bool `json:"created,omitempty"`
}
