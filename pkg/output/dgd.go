package output

import (
	"cmp"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/images"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Constants of the generated graph (profiler.md §14, dgdr-api.md §9).
const (
	// DefaultRuntimeTag pins the runtime images used when neither
	// deployment.dgd_image nor a profiler image names one.
	DefaultRuntimeTag    = images.DefaultTag
	PlannerCommandModule = "dynamo.planner.planner_sla"
	plannerWorkingDir    = "/workspace/components/src/dynamo/planner"
	hfTokenSecret        = "hf-token-secret"
	maxNameLength        = 45 // Grove: DGD name + service name (dgdr-api.md §9.5)
	serviceFrontend      = "Frontend"
	servicePlanner       = "Planner"
	componentFrontend    = "frontend"
	componentWorker      = "worker"
	componentPlanner     = "planner"
	subPrefill           = "prefill"
	subDecode            = "decode"
)

// backendSpec is what differs between engines (dgdr-api.md §9.4, profiler.md §15).
type backendSpec struct {
	prefillName, decodeName string
	module                  string // python3 -m <module>
	modelFlag               string // worker model-path flag (§3.1)
	workingDir              string
	// roleArgs are the disaggregation flags of the upstream disagg.yaml templates.
	prefillArgs, decodeArgs []string
}

var backends = map[string]backendSpec{
	v1alpha1.BackendVLLM: {
		prefillName: "VllmPrefillWorker", decodeName: "VllmDecodeWorker",
		module: "dynamo.vllm", modelFlag: "--model",
		prefillArgs: []string{"--is-prefill-worker"},
		decodeArgs:  []string{"--is-decode-worker"},
	},
	v1alpha1.BackendSGLang: {
		prefillName: "prefill", decodeName: "decode",
		module: "dynamo.sglang", modelFlag: "--model-path",
		prefillArgs: []string{"--page-size", "16", "--trust-remote-code", "--skip-tokenizer-init",
			"--disaggregation-mode", "prefill", "--disaggregation-transfer-backend", "nixl",
			"--disaggregation-bootstrap-port", "12345", "--host", "0.0.0.0"},
		decodeArgs: []string{"--page-size", "16", "--trust-remote-code", "--skip-tokenizer-init",
			"--disaggregation-mode", "decode", "--disaggregation-transfer-backend", "nixl",
			"--disaggregation-bootstrap-port", "12345", "--host", "0.0.0.0"},
	},
	v1alpha1.BackendTRTLLM: {
		prefillName: "TRTLLMPrefillWorker", decodeName: "TRTLLMDecodeWorker",
		module: "dynamo.trtllm", modelFlag: "--model-path",
		workingDir: "/workspace/examples/backends/trtllm",
		prefillArgs: []string{"--extra-engine-args", "./engine_configs/prefill.yaml",
			"--disaggregation-mode", "prefill", "--disaggregation-strategy", "decode_first"},
		decodeArgs: []string{"--extra-engine-args", "./engine_configs/decode.yaml",
			"--disaggregation-mode", "decode", "--disaggregation-strategy", "decode_first"},
	},
}

// container is extraPodSpec.mainContainer with only what the generator sets,
// so the rendered YAML carries no empty Kubernetes defaults.
type container struct {
	Image        string               `json:"image,omitempty"`
	WorkingDir   string               `json:"workingDir,omitempty"`
	Command      []string             `json:"command,omitempty"`
	Args         []string             `json:"args,omitempty"`
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

type extraPodSpec struct {
	MainContainer *container      `json:"mainContainer,omitempty"`
	Volumes       []corev1.Volume `json:"volumes,omitempty"`
}

// plan is the resolved view of the inputs shared by every generated object.
type plan struct {
	backend       string
	be            backendSpec
	model         string
	modelPath     string
	pvc           string
	mountPath     string
	recipe        *Recipe
	image         string // the workers'
	frontendImage string
	plannerImage  string
	name          string
	namespace     string
	labels        map[string]string
	annotations   map[string]string
	gpn           int
	plannerData   bool
	plannerArgs   []string
	configMapName string
}

// GenerateDGD builds the disaggregated DynamoGraphDeployment of §14: Frontend,
// prefill and decode workers at the selected mappings, and the SLA Planner
// (mounting planner-profile-data when both interpolation grids exist).
func GenerateDGD(r *results.Results, in Inputs) (*dgd.DynamoGraphDeployment, error) {
	p, err := resolve(r, in)
	if err != nil {
		return nil, err
	}
	return p.dgd(r)
}

func resolve(r *results.Results, in Inputs) (*plan, error) {
	if err := checkSelection(r); err != nil {
		return nil, err
	}
	var req v1alpha1.DynamoGraphDeploymentRequest
	if in.DGDR != nil {
		req = *in.DGDR
	}
	ov := req.Spec.DeploymentOverrides
	if ov == nil {
		ov = &v1alpha1.DeploymentOverridesSpec{}
	}
	p := &plan{configMapName: PlannerProfileConfigMap, recipe: in.Recipe}
	p.backend = cmp.Or(r.Input.Backend, in.Settings.Backend, req.Spec.Backend)
	be, ok := backends[p.backend]
	if !ok {
		return nil, fmt.Errorf("Unsupported backend: %q. Supported backends: %v; set spec.backend", p.backend, v1alpha1.Backends)
	}
	p.be = be
	p.model = cmp.Or(r.Input.Model, req.Spec.Model, in.Settings.Model)
	if p.model == "" {
		return nil, fmt.Errorf("no model to deploy: results.input.model, spec.model and deployment.model are all empty; set spec.model (e.g. Qwen/Qwen3-0.6B)")
	}
	p.modelPath = p.model
	if mc := in.Settings.ModelCache; mc.PVCName != "" {
		p.pvc = mc.PVCName
		p.mountPath = cmp.Or(mc.MountPath, "/opt/model-cache")
		p.modelPath = p.mountPath
		if sub := strings.TrimLeft(mc.PVCPath, "/"); sub != "" {
			p.modelPath = strings.TrimRight(p.mountPath, "/") + "/" + sub
		}
	}
	profilerImage := req.Spec.ProfilingConfig.ProfilerImage
	p.image = cmp.Or(in.Settings.DGDImage, ov.WorkersImage, RuntimeImage(profilerImage, p.backend), images.Runtime(p.backend))
	p.frontendImage = p.image
	if isDynamoImage(profilerImage) {
		p.frontendImage = profilerImage // v1beta1's image: the frontend's own
	}
	p.plannerImage = plannerImage(p.frontendImage)

	p.gpn = firstInt(in.GPUsPerNode, r.Input.GPUsPerNode, int(in.Settings.GPUsPerNode), defaultGPUsPerNode)
	for _, c := range []struct {
		phase string
		m     results.Mapping
	}{{"prefill", r.Selection.Prefill.Mapping}, {"decode", r.Selection.Decode.Mapping}} {
		if c.m.Kind == "TP" && c.m.N > p.gpn {
			return nil, fmt.Errorf("results.selection.%s.mapping %s needs %d GPUs on one node but a node has %d; TP cannot span nodes, select TEP/DEP or set hardware.numGpusPerNode", c.phase, c.m.Label(), c.m.N, p.gpn)
		}
	}

	p.name = cmp.Or(ov.Name, req.Name, r.Input.Name, p.backend+"-disagg")
	if errs := validation.IsDNS1123Subdomain(p.name); len(errs) > 0 {
		return nil, fmt.Errorf("DGD name %q is invalid: %s; set spec.deploymentOverrides.name to a lower-case DNS name", p.name, strings.Join(errs, "; "))
	}
	p.namespace = cmp.Or(ov.Namespace, req.Namespace, r.Input.Namespace)
	dgdrName, dgdrNS := cmp.Or(req.Name, r.Input.Name), cmp.Or(req.Namespace, r.Input.Namespace)
	p.labels = map[string]string{}
	for k, v := range ov.Labels {
		p.labels[k] = v
	}
	// Managed labels win over overrides (dgdr-api.md §8.6, D7).
	if dgdrName != "" {
		p.labels[v1alpha1.LabelDGDRName] = dgdrName
	}
	if dgdrNS != "" {
		p.labels[v1alpha1.LabelDGDRNamespace] = dgdrNS
	}
	p.labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	if len(ov.Annotations) > 0 {
		p.annotations = map[string]string{}
		for k, v := range ov.Annotations {
			p.annotations[k] = v
		}
	}
	p.plannerData = hasPlannerData(r)
	args, err := PlannerArgs(r, in)
	if err != nil {
		return nil, err
	}
	p.plannerArgs = args
	return p, nil
}

// splitImage cuts an image into repository and ":tag" (may be empty).
func splitImage(image string) (repo, tag string) {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[:i], image[i:]
	}
	return image, ""
}

// isDynamoImage says whether image is Dynamo's frontend or planner image,
// which v1beta1's spec.image names, rather than a backend runtime.
func isDynamoImage(image string) bool {
	repo, _ := splitImage(image)
	base := repo[strings.LastIndex(repo, "/")+1:]
	return base == "dynamo-frontend" || base == "dynamo-planner"
}

// RuntimeImage is the backend runtime image that goes with image: the same
// registry and tag when image is the Dynamo frontend or planner
// (…/dynamo-frontend:1.0.0 → …/vllm-runtime:1.0.0), image itself otherwise.
// Upstream v1beta1 derives the engines' images the same way.
func RuntimeImage(image, backend string) string {
	runtime := images.Name(backend)
	if runtime == "" || !isDynamoImage(image) {
		return image
	}
	repo, tag := splitImage(image)
	return repo[:strings.LastIndex(repo, "/")+1] + runtime + tag
}

// plannerImage derives the planner image from a dynamo-frontend image
// (…/dynamo-frontend:1.2.3 → …/dynamo-planner:1.2.3, TV-14); runtime images
// hold the planner themselves and are used as they are.
func plannerImage(frontend string) string {
	repo, tag := splitImage(frontend)
	if strings.HasSuffix(repo, "/dynamo-frontend") || repo == "dynamo-frontend" {
		return strings.TrimSuffix(repo, "dynamo-frontend") + "dynamo-planner" + tag
	}
	return frontend
}

func (p *plan) dgd(r *results.Results) (*dgd.DynamoGraphDeployment, error) {
	d, err := p.graph(r)
	if err != nil {
		return nil, err
	}
	return p.finish(d, p.plannerArgs)
}

// graph is the Frontend with the prefill and decode workers at the
// selected mappings: the DGD without its Planner.
func (p *plan) graph(r *results.Results) (*dgd.DynamoGraphDeployment, error) {
	d, err := p.withFrontend()
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		name, sub string
		m         results.Mapping
		role      []string
	}{
		{p.be.prefillName, subPrefill, r.Selection.Prefill.Mapping, p.be.prefillArgs},
		{p.be.decodeName, subDecode, r.Selection.Decode.Mapping, p.be.decodeArgs},
	} {
		svc, err := p.worker(w.sub, w.m, w.role)
		if err != nil {
			return nil, err
		}
		d.Spec.Services[w.name] = svc
	}
	return d, nil
}

// finish adds the SLA planner with args and checks the names' lengths.
func (p *plan) finish(d *dgd.DynamoGraphDeployment, args []string) (*dgd.DynamoGraphDeployment, error) {
	pl, err := p.planner(args)
	if err != nil {
		return nil, err
	}
	d.Spec.Services[servicePlanner] = pl
	if err := checkNameLengths(d); err != nil {
		return nil, err
	}
	return d, nil
}

// withFrontend is the skeleton with its backend and Frontend service.
func (p *plan) withFrontend() (*dgd.DynamoGraphDeployment, error) {
	d := p.skeleton()
	d.Spec.BackendFramework = p.backend
	fe, err := p.frontend()
	if err != nil {
		return nil, err
	}
	d.Spec.Services[serviceFrontend] = fe
	return d, nil
}

func (p *plan) skeleton() *dgd.DynamoGraphDeployment {
	d := &dgd.DynamoGraphDeployment{
		TypeMeta: metav1.TypeMeta{APIVersion: dgd.GroupVersion.String(), Kind: "DynamoGraphDeployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: p.name, Namespace: p.namespace, Labels: p.labels, Annotations: p.annotations,
		},
		Spec: dgd.DynamoGraphDeploymentSpec{Services: map[string]*dgd.ServiceSpec{}},
	}
	if p.pvc != "" {
		// The model cache is mounted, never created (§3.1: create: false).
		raw, _ := json.Marshal(map[string]any{"name": p.pvc, "create": false})
		d.Spec.PVCs = []runtime.RawExtension{{Raw: raw}}
	}
	return d
}

func (p *plan) modelMounts() []dgd.VolumeMount {
	if p.pvc == "" {
		return nil
	}
	return []dgd.VolumeMount{{Name: p.pvc, MountPoint: p.mountPath}}
}

func (p *plan) frontend() (*dgd.ServiceSpec, error) {
	c := &container{Image: p.frontendImage}
	// The Frontend needs the model only when it is read from a path (§3.1).
	if strings.HasPrefix(p.modelPath, "/") || strings.HasPrefix(p.modelPath, ".") {
		c.Command = []string{"python3", "-m", "dynamo.frontend"}
		c.Args = []string{"--model-name", p.model, "--model-path", p.modelPath}
	}
	eps, err := rawPodSpec(extraPodSpec{MainContainer: c})
	if err != nil {
		return nil, err
	}
	return &dgd.ServiceSpec{
		ComponentType: componentFrontend, Replicas: int32p(1),
		VolumeMounts: p.modelMounts(), ExtraPodSpec: eps,
	}, nil
}

func (p *plan) worker(sub string, m results.Mapping, role []string) (*dgd.ServiceSpec, error) {
	// SGLang and TRT-LLM templates carry the served name; with a PVC every
	// backend needs it, since the model path is no longer the model id.
	served := p.backend != v1alpha1.BackendVLLM || p.pvc != ""
	var args []string
	if base := p.recipe.WorkerArgs(sub); len(base) > 0 {
		// The recipe's flags stay; the model and the parallelism are ours.
		args = setArg(dropEqualsForm(base, p.be.modelFlag, "--served-model-name"), p.be.modelFlag, p.modelPath)
		if served || indexArg(args, "--served-model-name") >= 0 {
			args = setArg(args, "--served-model-name", p.model)
		}
	} else {
		args = []string{p.be.modelFlag, p.modelPath}
		if served {
			args = append(args, "--served-model-name", p.model)
		}
		args = append(args, role...)
	}
	args, err := parallelismArgs(p.backend, args, m)
	if err != nil {
		return nil, err
	}
	c := &container{Image: p.image, WorkingDir: p.be.workingDir,
		Command: []string{"python3", "-m", p.be.module}, Args: args}
	eps, err := rawPodSpec(extraPodSpec{MainContainer: c})
	if err != nil {
		return nil, err
	}
	gpu := m.N
	svc := &dgd.ServiceSpec{
		ComponentType: componentWorker, SubComponentType: sub, Replicas: int32p(1),
		EnvFromSecret: hfTokenSecret, VolumeMounts: p.modelMounts(), ExtraPodSpec: eps,
	}
	// §4.5: TEP/DEP engines larger than a node span ceil(n/gpn) nodes of gpn GPUs.
	if m.Kind != "TP" && m.N > p.gpn {
		gpu = p.gpn
		svc.Multinode = &dgd.Multinode{NodeCount: int32((m.N + p.gpn - 1) / p.gpn)}
	}
	svc.Resources = &dgd.Resources{Limits: &dgd.ResourceItem{GPU: fmt.Sprint(gpu)}}
	return svc, nil
}

// planner is the SLA Planner service (§14.1 step 3, dgdr-api.md §9.4).
func (p *plan) planner(args []string) (*dgd.ServiceSpec, error) {
	c := &container{Image: p.plannerImage, WorkingDir: plannerWorkingDir,
		Command: []string{"python3", "-m", PlannerCommandModule}, Args: args}
	eps := extraPodSpec{MainContainer: c}
	if p.plannerData {
		p.mountProfileData(&eps)
	}
	raw, err := rawPodSpec(eps)
	if err != nil {
		return nil, err
	}
	return &dgd.ServiceSpec{ComponentType: componentPlanner, Replicas: int32p(1), ExtraPodSpec: raw}, nil
}

func (p *plan) mountProfileData(eps *extraPodSpec) {
	eps.MainContainer.VolumeMounts = append(eps.MainContainer.VolumeMounts, corev1.VolumeMount{
		Name: PlannerProfileConfigMap, MountPath: PlannerProfileMountPath, ReadOnly: true})
	eps.Volumes = append(eps.Volumes, corev1.Volume{Name: PlannerProfileConfigMap, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: p.configMapName}}}})
}

// parallelismArgs applies §15.3 for one mapping.
func parallelismArgs(backend string, args []string, m results.Mapping) ([]string, error) {
	n := fmt.Sprint(m.N)
	switch backend {
	case v1alpha1.BackendVLLM:
		args = removeArg(args, "--tp", true)
		args = removeArg(args, "--dp", true)
		switch m.Kind {
		case "TP":
			args = setArg(args, "--tensor-parallel-size", n)
		case "TEP":
			args = setArg(args, "--tensor-parallel-size", n)
			args = setArg(args, "--data-parallel-size", "1")
			args = setFlag(args, "--enable-expert-parallel")
		case "DEP":
			args = setArg(args, "--tensor-parallel-size", "1")
			args = setArg(args, "--data-parallel-size", n)
			args = setFlag(args, "--enable-expert-parallel")
		}
	case v1alpha1.BackendSGLang:
		for _, a := range []string{"--tp-size", "--tensor-parallel-size", "--ep", "--ep-size", "--expert-parallel-size", "--dp", "--dp-size", "--data-parallel-size"} {
			args = removeArg(args, a, true)
		}
		args = removeArg(args, "--enable-dp-attention", false)
		args = setArg(args, "--tp", n)
		switch m.Kind {
		case "TEP":
			args = setArg(args, "--ep", n)
		case "DEP":
			args = setArg(args, "--dp", n)
			args = setFlag(args, "--enable-dp-attention")
			args = setArg(args, "--ep", n)
		}
	case v1alpha1.BackendTRTLLM:
		over := map[string]any{"tensor_parallel_size": m.N}
		switch m.Kind {
		case "TEP", "DEP":
			over["moe_expert_parallel_size"] = m.N
			over["moe_tensor_parallel_size"] = 1
			over["enable_attention_dp"] = m.Kind == "DEP"
		}
		if i := indexArg(args, "--override-engine-args"); i >= 0 && i+1 < len(args) {
			var prev map[string]any
			if json.Unmarshal([]byte(args[i+1]), &prev) == nil { // invalid JSON is ignored, as upstream
				for k, v := range over {
					prev[k] = v
				}
				over = prev
			}
			args = removeArg(args, "--override-engine-args", true)
		}
		b, err := json.Marshal(over)
		if err != nil {
			return nil, fmt.Errorf("encoding --override-engine-args: %w", err)
		}
		args = append(args, "--override-engine-args", string(b))
	default:
		return nil, fmt.Errorf("Unsupported backend: %q. Supported backends: %v", backend, v1alpha1.Backends)
	}
	return args, nil
}

func indexArg(args []string, name string) int {
	for i, a := range args {
		if a == name {
			return i
		}
	}
	return -1
}

// setArg replaces the value after name, or appends "name value".
func setArg(args []string, name, value string) []string {
	if i := indexArg(args, name); i >= 0 && i+1 < len(args) {
		args[i+1] = value
		return args
	}
	return append(args, name, value)
}

func setFlag(args []string, name string) []string {
	if indexArg(args, name) >= 0 {
		return args
	}
	return append(args, name)
}

func removeArg(args []string, name string, valued bool) []string {
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		if args[i] == name {
			if valued {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// checkNameLengths enforces Grove's pod-name rule (dgdr-api.md §9.5, §19 P19).
func checkNameLengths(d *dgd.DynamoGraphDeployment) error {
	names := make([]string, 0, len(d.Spec.Services))
	for n := range d.Spec.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		svc := strings.ToLower(n)
		total := len(d.Name) + len(svc)
		if d.Spec.Services[n].Multinode != nil {
			total += len(svc + "-ldr")
		}
		if total > maxNameLength {
			return fmt.Errorf("DGD name %q + service %q exceeds %d characters (%d); set spec.deploymentOverrides.name to at most %d characters",
				d.Name, n, maxNameLength, total, maxNameLength-(total-len(d.Name)))
		}
	}
	return nil
}

func rawPodSpec(e extraPodSpec) (*runtime.RawExtension, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding extraPodSpec: %w", err)
	}
	return &runtime.RawExtension{Raw: b}, nil
}

func int32p(v int32) *int32 { return &v }

func firstInt(vs ...int) int {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// disaggConfig is disagg_config.yaml: the disaggregated graph after model,
// PVC and image patching (§3.1) at the recommended mappings, i.e.
// config_with_planner.yaml without the Planner. Upstream writes this file
// before the sweep, so its workers keep the template's TP=1 on 1 GPU; here
// it is written after the selection, next to the recommendation, and a
// graph that contradicted it would mislead.
func (p *plan) disaggConfig(r *results.Results) ([]byte, error) {
	d, err := p.graph(r)
	if err != nil {
		return nil, err
	}
	if err := checkNameLengths(d); err != nil {
		return nil, err
	}
	return DGDYAML(d)
}

// RenamePlannerConfigMap points the Planner's profile-data volume at name,
// for when planner-profile-data in the target namespace belongs to another
// DGDR and ours is created as planner-profile-data-<dgdr> (dgdr-api.md §8.5).
// It reports whether a volume was renamed.
func RenamePlannerConfigMap(d *dgd.DynamoGraphDeployment, name string) (bool, error) {
	if d == nil {
		return false, fmt.Errorf("DGD is nil; generate it before renaming its ConfigMap")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return false, fmt.Errorf("ConfigMap name %q is invalid: %s", name, strings.Join(errs, "; "))
	}
	renamed := false
	for svcName, svc := range d.Spec.Services {
		if svc == nil || svc.ExtraPodSpec == nil || len(svc.ExtraPodSpec.Raw) == 0 {
			continue
		}
		var eps map[string]any
		if err := json.Unmarshal(svc.ExtraPodSpec.Raw, &eps); err != nil {
			return false, fmt.Errorf("spec.services[%s].extraPodSpec: %w", svcName, err)
		}
		vols, _ := eps["volumes"].([]any)
		changed := false
		for _, v := range vols {
			vol, _ := v.(map[string]any)
			cm, _ := vol["configMap"].(map[string]any)
			if vol["name"] == PlannerProfileConfigMap && cm != nil {
				cm["name"] = name
				changed = true
			}
		}
		if !changed {
			continue
		}
		raw, err := json.Marshal(eps)
		if err != nil {
			return false, fmt.Errorf("spec.services[%s].extraPodSpec: %w", svcName, err)
		}
		svc.ExtraPodSpec.Raw = raw
		renamed = true
	}
	return renamed, nil
}
