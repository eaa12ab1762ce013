// Package jobs builds the online profiling Jobs: one per (phase, mapping),
// the engine as a native sidecar beside the measure container, an Indexed
// Job with a headless Service for engines larger than one node, and the
// worker's RBAC. It only builds objects; the plugin submits them.
package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// Labels on Jobs, pods, Services and result ConfigMaps (besides
// v1alpha1.LabelDGDRName and LabelManagedBy).
const (
	LabelPhase   = "dgdr.nvidia.com/phase"
	LabelMapping = "dgdr.nvidia.com/mapping"
)

// Phases. The interpolation phases measure the chosen engines (§12).
const (
	PhasePrefill     = "prefill"
	PhaseDecode      = "decode"
	PhasePrefillGrid = "prefill-grid"
	PhaseDecodeGrid  = "decode-grid"
)

// Backend names; Mocker runs our simulator as the engine.
const (
	BackendVLLM   = workerproto.BackendVLLM
	BackendSGLang = workerproto.BackendSGLang
	BackendTRTLLM = workerproto.BackendTRTLLM
	BackendMocker = workerproto.BackendMocker
)

// Fixed names and paths inside the pod.
const (
	EngineContainer  = "engine"
	MeasureContainer = "measure"
	EnginePort       = workerproto.DefaultEnginePort
	DistInitPort     = 29500
	EngineLogDir     = "/engine-logs"
	EngineLogFile    = EngineLogDir + "/engine.log"
	// DefaultHFTokenSecret holds key HF_TOKEN; it is optional.
	DefaultHFTokenSecret = "hf-token-secret"
	HFTokenKey           = "HF_TOKEN"
	// DefaultWorkerEntrypoint is where `make image` puts the worker binary.
	DefaultWorkerEntrypoint = "/usr/local/bin/worker"
	// PrefillMaxNumTokens avoids chunked prefill (profiler.md §15.4).
	PrefillMaxNumTokens = 32768
	completionIndexAnno = "batch.kubernetes.io/job-completion-index"
)

// Spec is one profiling Job.
type Spec struct {
	// DGDR owns the Job; its namespace, profilingConfig (image,
	// resources, tolerations, nodeSelector) and backend are used.
	DGDR *v1alpha1.DynamoGraphDeploymentRequest
	// Phase is one of the Phase* constants.
	Phase string
	// Part names one shard of a phase that is split over several Jobs (the
	// grid phases, one Job per ISL, so that they run in parallel); "" for none.
	Part    string
	Mapping results.Mapping
	// Backend overrides DGDR.Spec.Backend; BackendMocker runs the simulator.
	Backend string
	// Model is the served model (HF id); "" means DGDR.Spec.Model.
	Model string

	// Measurement: prefill ISLs, or decode ISLs with OSL and granularity.
	ISLs          []int
	OSL           int
	Granularity   int
	Concurrencies []int
	MaxModelLen   int
	// The SLA frontier search of the sweep Jobs (workerproto.Task.Target).
	SLATarget      float64
	FrontierPoints int
	MaxISL         int

	// EngineImage defaults to profilingConfig.profilerImage.
	EngineImage string
	// WorkerImage runs the measure container (and the mocker engine).
	WorkerImage string
	// WorkerCommand is the worker binary in WorkerImage (default
	// DefaultWorkerEntrypoint).
	WorkerCommand []string
	// EngineArgs are appended to the engine command.
	EngineArgs []string
	// Recipe holds the engine flags of the configMapRef base DGD's workers
	// (prefill, decode), appended after the profiler's own so the recipe's
	// values win, as in the deployed engines.
	Recipe RecipeArgs
	// Mocker configures the simulated engine when Backend is mocker.
	Mocker MockerSpec

	// EnginePort is the engine's port in the pod (default EnginePort); a
	// harness that runs several pods' processes on one host sets it apart.
	EnginePort int

	GPUsPerNode int
	ModelCache  profileconfig.ModelCache
	// HFTokenSecret defaults to DefaultHFTokenSecret; it may be absent.
	HFTokenSecret string
	// ShmSize bounds the /dev/shm memory volume ("" for no bound).
	ShmSize string

	ReadyTimeout          time.Duration // engine start-up (default 30 min)
	ActiveDeadlineSeconds int64         // default 2 h
	BackoffLimit          *int32        // default 1
}

// RecipeArgs are engine flags per role.
type RecipeArgs struct{ Prefill, Decode []string }

// OutputMount is where the measure container mounts profilingConfig.outputPVC,
// as upstream's profiler mounts it, and writes its result.
const OutputMount = "/data"

// MockerSpec configures `dgdr-worker mocker` as the engine.
type MockerSpec struct {
	// EstimatorModel, System and Backend pick the estimator's timing.
	EstimatorModel string
	System         string
	Backend        string
	// PrefillMs and DecodeMs set fixed timing instead (with NumGPUBlocks).
	PrefillMs, DecodeMs float64
	NumGPUBlocks        int
	TimeScale           float64
}

// Objects is what Build returns: the Job, and for multi-node engines the
// headless Service that must exist before the pods start.
type Objects struct {
	Job     *batchv1.Job
	Service *corev1.Service
	// Worker is the measure container's identity and its empty result
	// ConfigMap: create them before the Job.
	Worker Worker
}

// Name is the Job's (and result ConfigMap's) name: <dgdr>-<phase>-<tag>,
// shortened with a hash to fit 63 characters (the job-name pod label).
func Name(dgdr, phase string, m results.Mapping) string {
	n := fmt.Sprintf("%s-%s-%s", dgdr, phase, strings.ToLower(m.Tag()))
	if len(n) <= 52 { // room for "-<index>" hostnames and generated pod names
		return n
	}
	h := sha256.Sum256([]byte(n))
	suffix := fmt.Sprintf("-%s-%s-%s", phase, strings.ToLower(m.Tag()), hex.EncodeToString(h[:])[:6])
	return strings.TrimRight(dgdr[:max(1, 52-len(suffix))], "-.") + suffix
}

// JobName is the Job's (and its result ConfigMap's) name, with the part.
func (s *Spec) JobName() string {
	phase := s.Phase
	if s.Part != "" {
		phase += "-" + s.Part
	}
	return Name(s.DGDR.Name, phase, s.Mapping)
}

// Labels of everything a Job creates.
func Labels(dgdr, phase string, m results.Mapping) map[string]string {
	return map[string]string{
		v1alpha1.LabelDGDRName:  dgdr,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
		LabelPhase:              phase,
		LabelMapping:            m.Tag(),
	}
}

func (s *Spec) backend() string {
	if s.Backend != "" {
		return s.Backend
	}
	return s.DGDR.Spec.Backend
}

func (s *Spec) model() string {
	if s.Model != "" {
		return s.Model
	}
	return s.DGDR.Spec.Model
}

// nodes is how many pods the engine spans.
func (s *Spec) nodes() int {
	if s.Mapping.N <= s.GPUsPerNode {
		return 1
	}
	return s.Mapping.N / s.GPUsPerNode
}

func (s *Spec) validate() error {
	if s.DGDR == nil {
		return errors.New("DGDR is nil: pass the DGDR that owns the Job")
	}
	if s.DGDR.Name == "" || s.DGDR.Namespace == "" || s.DGDR.UID == "" {
		return fmt.Errorf("DGDR %s/%s has no name, namespace or UID: read it from the API server first", s.DGDR.Namespace, s.DGDR.Name)
	}
	switch s.Phase {
	case PhasePrefill, PhaseDecode, PhasePrefillGrid, PhaseDecodeGrid:
	default:
		return fmt.Errorf("phase %q is not supported: use prefill, decode, prefill-grid or decode-grid", s.Phase)
	}
	switch s.backend() {
	case BackendVLLM, BackendSGLang, BackendTRTLLM, BackendMocker:
	default:
		return fmt.Errorf("backend %q is not supported: use vllm, sglang, trtllm or mocker", s.backend())
	}
	if s.model() == "" {
		return errors.New("model is empty: set spec.model on the DGDR")
	}
	if s.EnginePort < 0 || s.EnginePort > 65535 || s.EnginePort == DistInitPort {
		return fmt.Errorf("engine port %d is invalid: use 1 to 65535, not %d (distributed init)", s.EnginePort, DistInitPort)
	}
	if s.GPUsPerNode < 1 {
		return fmt.Errorf("GPUs per node %d is invalid: use at least 1", s.GPUsPerNode)
	}
	if s.Mapping.N > s.GPUsPerNode {
		if s.Mapping.N%s.GPUsPerNode != 0 {
			return fmt.Errorf("mapping %s spans %d GPUs, not a multiple of %d GPUs per node: pick a multiple", s.Mapping.Label(), s.Mapping.N, s.GPUsPerNode)
		}
		if s.backend() == BackendTRTLLM {
			return fmt.Errorf("mapping %s needs %d nodes: multi-node TRT-LLM engines (MPI) are not supported in profiling Jobs; use vllm or sglang, or nodes with %d GPUs", s.Mapping.Label(), s.Mapping.N/s.GPUsPerNode, s.Mapping.N)
		}
	}
	if s.WorkerImage == "" {
		return errors.New("worker image is empty: set the dgdr-worker image")
	}
	if s.engineImage() == "" {
		return errors.New("engine image is empty: set spec.profilingConfig.profilerImage")
	}
	if len(s.ISLs) == 0 {
		return errors.New("no ISL to measure: set ISLs")
	}
	if s.ShmSize != "" {
		if _, err := resource.ParseQuantity(s.ShmSize); err != nil {
			return fmt.Errorf("shared-memory size %q: %w", s.ShmSize, err)
		}
	}
	return nil
}

func (s *Spec) port() int { return cmpOr(s.EnginePort, EnginePort) }

func (s *Spec) engineImage() string {
	switch {
	case s.backend() == BackendMocker:
		return s.WorkerImage
	case s.EngineImage != "":
		return s.EngineImage
	}
	return s.DGDR.Spec.ProfilingConfig.ProfilerImage
}

func (s *Spec) workerCommand() []string {
	if len(s.WorkerCommand) > 0 {
		return s.WorkerCommand
	}
	return []string{DefaultWorkerEntrypoint}
}

// workerPhase is the measure container's phase.
func (s *Spec) workerPhase() string {
	if s.Phase == PhasePrefill || s.Phase == PhasePrefillGrid {
		return workerproto.PhasePrefill
	}
	return workerproto.PhaseDecode
}

// Build returns the Job (and Service) for one (phase, mapping).
func Build(s Spec) (*Objects, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	m := normalize(s.Mapping)
	s.Mapping = m
	d := s.DGDR
	name := s.JobName()
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return nil, fmt.Errorf("Job name %q: %s", name, strings.Join(errs, "; "))
	}
	labels := Labels(d.Name, s.Phase, m)
	nodes := s.nodes()
	gpusPerPod := min(m.N, s.GPUsPerNode)
	owner := metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "DynamoGraphDeploymentRequest",
		Name: d.Name, UID: d.UID, Controller: ptr.To(true),
	}
	pc := d.Spec.ProfilingConfig

	engine, err := s.engineContainer(name, nodes, gpusPerPod)
	if err != nil {
		return nil, err
	}
	measure := s.measureContainer(name)
	volumes := []corev1.Volume{{Name: "engine-logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, workerTokenVolume()}
	if s.backend() != BackendMocker {
		shm := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if s.ShmSize != "" {
			shm.SizeLimit = ptr.To(resource.MustParse(s.ShmSize))
		}
		volumes = append(volumes, corev1.Volume{Name: "dshm", VolumeSource: corev1.VolumeSource{EmptyDir: shm}})
		if mc := s.ModelCache; mc.PVCName != "" {
			volumes = append(volumes, corev1.Volume{Name: "model-cache", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: mc.PVCName, ReadOnly: true}}})
		}
	}
	if pvc := pc.OutputPVC; pvc != "" {
		volumes = append(volumes, corev1.Volume{Name: "profiling-output", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc}}})
		measure.VolumeMounts = append(measure.VolumeMounts, corev1.VolumeMount{Name: "profiling-output", MountPath: OutputMount})
		measure.Args = append(measure.Args, "--output-file="+OutputMount+"/"+name+".json")
	}
	pod := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		// The Job's own identity (Worker). The engine (a user-chosen
		// image) gets no token: only the measure container mounts one
		// (workerTokenVolume).
		ServiceAccountName:            name,
		AutomountServiceAccountToken:  ptr.To(false),
		EnableServiceLinks:            ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		InitContainers:                []corev1.Container{engine},
		Containers:                    []corev1.Container{measure},
		Volumes:                       volumes,
		Tolerations:                   pc.Tolerations,
		NodeSelector:                  pc.NodeSelector,
	}
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: d.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To(ptr.Deref(s.BackoffLimit, 1)),
			ActiveDeadlineSeconds: ptr.To(cmpOr(s.ActiveDeadlineSeconds, 7200)),
			// A bad task fails the same way every time: do not retry it.
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptr.To(MeasureContainer), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn,
					Values: []int32{workerproto.ExitUsage},
				},
			}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod,
			},
		},
	}
	out := &Objects{Job: job, Worker: worker(name, d.Namespace, labels, owner)}
	if nodes > 1 {
		n := int32(nodes)
		job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		job.Spec.Completions, job.Spec.Parallelism = &n, &n
		// Rank 0 holds the measurement; the Job succeeds with it and the
		// other ranks are then terminated.
		job.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
		// A lost rank breaks the collective: one failure fails the Job.
		job.Spec.BackoffLimitPerIndex = nil
		job.Spec.Template.Spec.Subdomain = name
		out.Service = &corev1.Service{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: d.Namespace, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{owner},
			},
			Spec: corev1.ServiceSpec{
				ClusterIP:                corev1.ClusterIPNone,
				PublishNotReadyAddresses: true, // ranks meet before any is ready
				Selector:                 map[string]string{batchv1.JobNameLabel: name},
				Ports: []corev1.ServicePort{
					{Name: "dist-init", Port: DistInitPort, TargetPort: intstr.FromInt32(DistInitPort)},
					{Name: "http", Port: int32(s.port()), TargetPort: intstr.FromInt(s.port())},
				},
			},
		}
	}
	return out, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func normalize(m results.Mapping) results.Mapping {
	t := workerproto.Task{Mapping: m}
	t.Normalize()
	return t.Mapping
}

// LeaderAddress is rank 0's stable DNS name in a multi-node Job.
func LeaderAddress(job, namespace string) string {
	return fmt.Sprintf("%s-0.%s.%s.svc", job, job, namespace)
}

func (s *Spec) measureContainer(name string) corev1.Container {
	t := workerproto.Task{
		Phase: s.workerPhase(), Backend: s.backend(), Model: s.model(), Mapping: s.Mapping,
		ISLs: s.ISLs, OSL: s.OSL, Granularity: s.Granularity, Concurrencies: s.Concurrencies,
		Target: s.SLATarget, FrontierPoints: s.FrontierPoints, MaxISL: s.MaxISL,
		EngineURL: fmt.Sprintf("http://127.0.0.1:%d", s.port()), EngineLog: EngineLogFile,
		ReadyTimeout: cmpOr(s.ReadyTimeout, workerproto.DefaultReadyTimeout), ConfigMap: name,
	}
	if t.Phase == workerproto.PhasePrefill {
		t.OSL, t.Granularity, t.Concurrencies = 0, 0, nil
	} else if t.Granularity == 0 {
		t.Granularity = workerproto.DefaultGranularity
	}
	args := append([]string{"measure"}, t.Args()...)
	args = append(args, "--label="+LabelPhase+"="+s.Phase, "--label="+LabelMapping+"="+s.Mapping.Tag())
	env := []corev1.EnvVar{
		{Name: workerproto.EnvNamespace, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: workerproto.EnvDGDRName, Value: s.DGDR.Name},
		{Name: workerproto.EnvDGDRUID, Value: string(s.DGDR.UID)},
	}
	if s.nodes() > 1 {
		env = append(env, nodeRankEnv())
	}
	return corev1.Container{
		Name: MeasureContainer, Image: s.WorkerImage, Command: s.workerCommand(), Args: args, Env: env,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "engine-logs", MountPath: EngineLogDir, ReadOnly: true},
			{Name: workerTokenVolumeName, MountPath: serviceAccountDir, ReadOnly: true}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// The measure container's own ServiceAccount token, where client-go's
// in-cluster config reads it: what the kubelet would mount into every
// container, projected into this one alone.
const (
	workerTokenVolumeName = "worker-token"
	serviceAccountDir     = "/var/run/secrets/kubernetes.io/serviceaccount"
)

func workerTokenVolume() corev1.Volume {
	return corev1.Volume{Name: workerTokenVolumeName, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o444), // read by the measure container's non-root user
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}

func nodeRankEnv() corev1.EnvVar {
	return corev1.EnvVar{Name: workerproto.EnvNodeRank, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + completionIndexAnno + "']"}}}
}

func itoa(i int) string { return strconv.Itoa(i) }
