package v1beta1

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// BackendType is the inference engine; auto lets the profiler choose.
// +kubebuilder:validation:Enum=auto;sglang;trtllm;vllm
type BackendType string

// The backends of spec.backend.
const (
	BackendAuto   BackendType = "auto"
	BackendSGLang BackendType = "sglang"
	BackendTRTLLM BackendType = "trtllm"
	BackendVLLM   BackendType = "vllm"
)

// SearchStrategy is how deep profiling goes: rapid simulates the engines
// (AI Configurator, here the built-in estimator), thorough measures them on
// GPUs.
// +kubebuilder:validation:Enum=rapid;thorough
type SearchStrategy string

// The search strategies.
const (
	SearchRapid    SearchStrategy = "rapid"
	SearchThorough SearchStrategy = "thorough"
)

// GPUSKU names a GPU system the way AI Configurator does.
// +kubebuilder:validation:Enum=gb200_sxm;h200_sxm;h100_sxm;b200_sxm;a100_sxm;l40s
type GPUSKU string

// DeviceType is the accelerator family.
// +kubebuilder:validation:Enum=cuda;xpu
type DeviceType string

// The device types.
const (
	DeviceCUDA DeviceType = "cuda"
	DeviceXPU  DeviceType = "xpu"
)

// OptimizationType picks the goal when no latency targets are given.
// +kubebuilder:validation:Enum=latency;throughput
type OptimizationType string

// The optimization types.
const (
	OptimizeLatency    OptimizationType = "latency"
	OptimizeThroughput OptimizationType = "throughput"
)

// Phase is the lifecycle phase in status.phase.
// +kubebuilder:validation:Enum=Pending;Profiling;Ready;Deploying;Deployed;Failed
type Phase string

// The phases.
const (
	PhasePending   Phase = "Pending"
	PhaseProfiling Phase = "Profiling"
	PhaseReady     Phase = "Ready"
	PhaseDeploying Phase = "Deploying"
	PhaseDeployed  Phase = "Deployed"
	PhaseFailed    Phase = "Failed"
)

// ProfilingPhase is the step of a running profile in status.profilingPhase.
// +kubebuilder:validation:Enum=Initializing;SweepingPrefill;SweepingDecode;SelectingConfig;BuildingCurves;GeneratingDGD;Done
type ProfilingPhase string

// ConditionSucceeded is the aggregate condition of the whole request.
const ConditionSucceeded = "Succeeded"

// Defaults the CRD applies (SetDefaults mirrors them).
const (
	DefaultISL          int32 = 4000
	DefaultOSL          int32 = 1000
	DefaultPVCMountPath       = "/opt/model-cache"
)

// DynamoGraphDeploymentRequest asks for a deployment of a model that meets a
// latency SLA; profiling turns it into a DynamoGraphDeployment.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=dgdr
// +kubebuilder:metadata:annotations="helm.sh/resource-policy=keep"
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.spec.model`
// +kubebuilder:printcolumn:name="Backend",type=string,JSONPath=`.spec.backend`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Profiling",type=string,JSONPath=`.status.profilingPhase`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].message`
// +kubebuilder:printcolumn:name="DGD",type=string,JSONPath=`.status.dgdName`
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

// DynamoGraphDeploymentRequestSpec is what the user asks for. Only model is
// required; everything else has a default or is discovered.
type DynamoGraphDeploymentRequestSpec struct {
	// Model is the Hugging Face id or served name of the model, e.g. Qwen/Qwen3-0.6B.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Model string `json:"model"`

	// Backend is the inference engine; auto lets the profiler pick one.
	// +optional
	// +kubebuilder:default=auto
	Backend BackendType `json:"backend,omitempty"`

	// Image runs the profiling job (the Dynamo frontend or planner image,
	// e.g. nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0); its tag also
	// picks the runtime images of the engines.
	// +optional
	Image string `json:"image,omitempty"`

	// ModelCache is a PVC holding the model weights.
	// +optional
	ModelCache *ModelCacheSpec `json:"modelCache,omitempty"`

	// Hardware describes the GPUs; discovered from the nodes when unset.
	// +optional
	Hardware *HardwareSpec `json:"hardware,omitempty"`

	// Workload is the traffic the deployment must serve.
	// +optional
	Workload *WorkloadSpec `json:"workload,omitempty"`

	// SLA are the latency targets profiling optimizes for.
	// +optional
	SLA *SLASpec `json:"sla,omitempty"`

	// Overrides customize the profiling job and the generated deployment.
	// +optional
	Overrides *OverridesSpec `json:"overrides,omitempty"`

	// Features switch optional parts of the generated deployment on.
	// +optional
	Features *FeaturesSpec `json:"features,omitempty"`

	// SearchStrategy is rapid (simulated engines, seconds) or thorough
	// (engines measured on GPUs, hours).
	// +optional
	// +kubebuilder:default=rapid
	SearchStrategy SearchStrategy `json:"searchStrategy,omitempty"`

	// AutoApply creates the DynamoGraphDeployment once profiling succeeds;
	// when false the generated spec waits in status for review.
	// +optional
	// +kubebuilder:default=true
	AutoApply *bool `json:"autoApply,omitempty"`
}

// ModelCacheSpec is a PVC with pre-downloaded weights.
type ModelCacheSpec struct {
	// PVCName is the PersistentVolumeClaim, in the DGDR's namespace.
	// +optional
	PVCName string `json:"pvcName,omitempty"`

	// PVCModelPath is the model's directory inside the PVC.
	// +optional
	PVCModelPath string `json:"pvcModelPath,omitempty"`

	// PVCMountPath is where the PVC is mounted in the containers.
	// +optional
	// +kubebuilder:default="/opt/model-cache"
	PVCMountPath string `json:"pvcMountPath,omitempty"`
}

// HardwareSpec describes the GPUs available for profiling and deployment.
type HardwareSpec struct {
	// DeviceType is the accelerator family.
	// +optional
	// +kubebuilder:default=cuda
	DeviceType DeviceType `json:"deviceType,omitempty"`

	// GPUSKU is the GPU system, e.g. h100_sxm.
	// +optional
	GPUSKU GPUSKU `json:"gpuSku,omitempty"`

	// VRAMMB is the memory of one GPU in MiB.
	// +optional
	VRAMMB *float64 `json:"vramMb,omitempty"`

	// TotalGPUs is the number of GPUs profiling may use.
	// +optional
	TotalGPUs *int32 `json:"totalGpus,omitempty"`

	// NumGPUsPerNode is the number of GPUs in one node.
	// +optional
	NumGPUsPerNode *int32 `json:"numGpusPerNode,omitempty"`
}

// WorkloadSpec is the expected traffic.
type WorkloadSpec struct {
	// ISL is the average input sequence length in tokens.
	// +optional
	// +kubebuilder:default=4000
	ISL *int32 `json:"isl,omitempty"`

	// OSL is the average output sequence length in tokens.
	// +optional
	// +kubebuilder:default=1000
	OSL *int32 `json:"osl,omitempty"`

	// Concurrency is the target number of requests in flight (without the planner).
	// +optional
	Concurrency *float64 `json:"concurrency,omitempty"`

	// RequestRate is the target request rate in requests per second (without the planner).
	// +optional
	RequestRate *float64 `json:"requestRate,omitempty"`
}

// SLASpec holds the latency targets: ttft and itl, or e2eLatency, or an
// optimizationType when no target is known.
type SLASpec struct {
	// OptimizationType is the goal when no latency target is given.
	// +optional
	OptimizationType OptimizationType `json:"optimizationType,omitempty"`

	// TTFT is the time-to-first-token target in milliseconds.
	// +optional
	TTFT *float64 `json:"ttft,omitempty"`

	// ITL is the inter-token latency target in milliseconds.
	// +optional
	ITL *float64 `json:"itl,omitempty"`

	// E2ELatency is the end-to-end request latency target in milliseconds,
	// instead of ttft and itl.
	// +optional
	E2ELatency *float64 `json:"e2eLatency,omitempty"`
}

// OverridesSpec customizes the profiling job and the generated deployment.
type OverridesSpec struct {
	// ProfilingJob is merged into the profiling Job's spec. The schema is
	// left open (a full JobSpec schema would push the CRD past the size
	// kubectl apply can store); the webhook checks it is a JobSpec.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	ProfilingJob *batchv1.JobSpec `json:"profilingJob,omitempty"`

	// DGD is a full or partial nvidia.com/v1alpha1 DynamoGraphDeployment the
	// generated deployment starts from.
	// +optional
	// +kubebuilder:validation:EmbeddedResource
	// +kubebuilder:pruning:PreserveUnknownFields
	DGD *runtime.RawExtension `json:"dgd,omitempty"`
}

// FeaturesSpec switches optional parts of the generated deployment on.
type FeaturesSpec struct {
	// Planner is the SLA planner's configuration; its presence adds the
	// planner to the generated deployment.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Planner *runtime.RawExtension `json:"planner,omitempty"`

	// Mocker deploys simulated engines instead of real ones.
	// +optional
	Mocker *MockerSpec `json:"mocker,omitempty"`
}

// MockerSpec configures the simulated engine.
type MockerSpec struct {
	// Enabled deploys the simulated engine instead of the real one.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
}

// DynamoGraphDeploymentRequestStatus is what profiling and deployment found.
type DynamoGraphDeploymentRequestStatus struct {
	// Phase is where the request is in its lifecycle.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// ProfilingPhase is the step of a running profile.
	// +optional
	ProfilingPhase ProfilingPhase `json:"profilingPhase,omitempty"`

	// DGDName is the generated or created DynamoGraphDeployment.
	// +optional
	DGDName string `json:"dgdName,omitempty"`

	// ProfilingJobName is the Job running the profiler.
	// +optional
	ProfilingJobName string `json:"profilingJobName,omitempty"`

	// Conditions are Succeeded (the aggregate), Validation, Profiling,
	// SpecGenerated and DeploymentReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// ProfilingResults are the configurations profiling found.
	// +optional
	ProfilingResults *ProfilingResultsStatus `json:"profilingResults,omitempty"`

	// DeploymentInfo follows the created DynamoGraphDeployment.
	// +optional
	DeploymentInfo *DeploymentInfoStatus `json:"deploymentInfo,omitempty"`

	// ObservedGeneration is the generation profiling last saw.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// V1alpha1 keeps what a nvidia.com/v1alpha1 client wrote to the status
	// that v1beta1 has no field for. A status write cannot change
	// annotations, so this cannot travel in one. An extension of this
	// project's CRD: upstream's schema does not have it.
	// +optional
	V1alpha1 *V1alpha1Status `json:"v1alpha1,omitempty"`
}

// V1alpha1Status is the v1alpha1 status beyond phase, dgdName, conditions,
// observedGeneration and the selected configuration.
type V1alpha1Status struct {
	// State is the v1alpha1 state when the phase does not name it
	// (Initializing, DeploymentDeleted, or a state this version does not know).
	// +optional
	State string `json:"state,omitempty"`

	// Backend is the backend profiling used.
	// +optional
	Backend string `json:"backend,omitempty"`

	// ProfilingResults names the output ConfigMap: configmap/dgdr-output-<name>.
	// +optional
	ProfilingResults string `json:"profilingResults,omitempty"`

	// Deployment is the v1alpha1 deployment status without its name (dgdName).
	// +optional
	Deployment *V1alpha1Deployment `json:"deployment,omitempty"`
}

// V1alpha1Deployment is v1alpha1's status.deployment less the name.
type V1alpha1Deployment struct {
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// State mirrors the DynamoGraphDeployment's status.state.
	// +optional
	State string `json:"state,omitempty"`
	// Created is true once the DynamoGraphDeployment was created.
	// +optional
	Created bool `json:"created,omitempty"`
}

// ProfilingResultsStatus holds the Pareto front and the selected configuration.
type ProfilingResultsStatus struct {
	// Pareto lists the cost/latency trade-offs profiling found.
	// +optional
	Pareto []ParetoConfig `json:"pareto,omitempty"`

	// SelectedConfig is the deployment chosen for the SLA.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	SelectedConfig *runtime.RawExtension `json:"selectedConfig,omitempty"`
}

// ParetoConfig is one point of the Pareto front.
type ParetoConfig struct {
	// Config is the deployment configuration of this point.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Config runtime.RawExtension `json:"config"`
}

// DeploymentInfoStatus follows the replicas of the created deployment.
type DeploymentInfoStatus struct {
	// Replicas is the desired number of replicas.
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// AvailableReplicas is the number of ready replicas.
	// +optional
	AvailableReplicas *int32 `json:"availableReplicas,omitempty"`
}
