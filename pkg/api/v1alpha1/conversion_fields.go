package v1alpha1

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// Where the v1beta1 fields live in spec.profilingConfig.config. Each is read
// from the first path present (the profiler's order: camelCase, then
// snake_case, then the other sections naming the same thing) and written
// to that path, or to the first one when none is present.
var (
	blobTTFT        = blobKey{{"sla", "ttft"}}
	blobITL         = blobKey{{"sla", "itl"}}
	blobE2E         = blobKey{{"sla", "e2eLatency"}}
	blobOptimize    = blobKey{{"sla", "optimizationType"}}
	blobISL         = blobKey{{"sla", "isl"}}
	blobOSL         = blobKey{{"sla", "osl"}}
	blobConcurrency = blobKey{{"workload", "concurrency"}}
	blobRequestRate = blobKey{{"workload", "requestRate"}}
	// The GPU system: written to hardware.system, read as the profiler reads it.
	blobSystem      = blobKey{{"hardware", "system"}, {"sweep", "aicSystem"}, {"sweep", "aic_system"}, {"aic", "system"}}
	blobGPUsPerNode = blobKey{{"hardware", "numGpusPerNode"}, {"hardware", "num_gpus_per_node"}}
	blobVRAM        = blobKey{{"hardware", "gpuVramMib"}}
	blobTotalGPUs   = blobKey{{"hardware", "totalGpus"}}
	blobDeviceType  = blobKey{{"hardware", "deviceType"}}
	blobModelCache  = blobKey{{"deployment", "modelCache"}}
	blobPlanner     = blobKey{{"planner"}}
	blobUseAIC      = blobKey{{"sweep", "useAiConfigurator"}, {"sweep", "use_ai_configurator"}}
	// Inside deployment.modelCache; upstream's conversion wrote the second spellings.
	mcPVCName   = blobKey{{"pvcName"}}
	mcModelPath = blobKey{{"pvcPath"}, {"modelPathInPvc"}}
	mcMountPath = blobKey{{"mountPath"}, {"pvcMountPath"}}
)

// systemReadOrder is the profiler's order for the GPU system (sweep first);
// blobSystem lists hardware.system first only so that it is the one written.
var systemReadOrder = blobKey{{"sweep", "aicSystem"}, {"sweep", "aic_system"}, {"aic", "system"}, {"hardware", "system"}}

// toHub maps a v1alpha1 DGDR onto v1beta1. tmpl, when set, holds the saved
// v1beta1 fields: the open-ended overrides (profilingJob, dgd) are written
// into its copies, so what v1alpha1 has no field for is kept.
func toHub(a *DynamoGraphDeploymentRequest, tmpl *savedHub) (*Hub, error) {
	b := &Hub{ObjectMeta: *a.ObjectMeta.DeepCopy()}
	b.APIVersion, b.Kind = v1beta1.GroupVersion.String(), v1beta1.DGDRKind
	s := &b.Spec
	s.Model = a.Spec.Model
	s.Backend = v1beta1.BackendType(a.Spec.Backend)
	s.Image = a.Spec.ProfilingConfig.ProfilerImage
	s.AutoApply = ptrTo(a.Spec.AutoApply)
	if a.Spec.UseMocker {
		s.Features = &v1beta1.FeaturesSpec{Mocker: &v1beta1.MockerSpec{Enabled: true}}
	}
	blob := blobOf(a.Spec.ProfilingConfig.Config)
	blobToHub(blob, s)
	var base *v1beta1.OverridesSpec
	if tmpl != nil {
		base = tmpl.Spec.Overrides
	}
	ov, err := overridesToHub(a, base)
	if err != nil {
		return nil, err
	}
	s.Overrides = ov
	statusToHub(&a.Status, &b.Status)
	return b, nil
}

// blobToHub reads the typed v1beta1 fields out of the config.
func blobToHub(blob map[string]any, s *v1beta1.DynamoGraphDeploymentRequestSpec) {
	if blob == nil {
		s.SearchStrategy = v1beta1.SearchThorough // v1alpha1 profiles online unless told otherwise
		return
	}
	sla := v1beta1.SLASpec{TTFT: readNumber(blob, blobTTFT), ITL: readNumber(blob, blobITL), E2ELatency: readNumber(blob, blobE2E)}
	sla.OptimizationType = v1beta1.OptimizationType(readEnum(blob, blobOptimize, validOptimization))
	if !reflect.ValueOf(sla).IsZero() {
		s.SLA = &sla
	}
	w := v1beta1.WorkloadSpec{ISL: readInt32(blob, blobISL), OSL: readInt32(blob, blobOSL),
		Concurrency: readNumber(blob, blobConcurrency), RequestRate: readNumber(blob, blobRequestRate)}
	if !reflect.ValueOf(w).IsZero() {
		s.Workload = &w
	}
	hw := v1beta1.HardwareSpec{NumGPUsPerNode: readInt32(blob, blobGPUsPerNode), VRAMMB: readNumber(blob, blobVRAM),
		TotalGPUs: readInt32(blob, blobTotalGPUs)}
	hw.GPUSKU = v1beta1.GPUSKU(readEnum(blob, systemReadOrder, validSKU))
	hw.DeviceType = v1beta1.DeviceType(readEnum(blob, blobDeviceType, validDevice))
	if !reflect.ValueOf(hw).IsZero() {
		s.Hardware = &hw
	}
	if mc := readObject(blob, blobModelCache); mc != nil {
		s.ModelCache = &v1beta1.ModelCacheSpec{PVCName: readString(mc, mcPVCName),
			PVCModelPath: readString(mc, mcModelPath), PVCMountPath: readString(mc, mcMountPath)}
	}
	if p := readObject(blob, blobPlanner); p != nil {
		raw, _ := json.Marshal(p) // a decoded JSON object always encodes
		if s.Features == nil {
			s.Features = &v1beta1.FeaturesSpec{}
		}
		s.Features.Planner = &runtime.RawExtension{Raw: raw}
	}
	s.SearchStrategy = v1beta1.SearchThorough
	if on := readBool(blob, blobUseAIC); on != nil && *on {
		s.SearchStrategy = v1beta1.SearchRapid
	}
}

// The enum values of the typed fields; the config may hold anything, and
// what the enum rejects stays in the saved v1alpha1 fields.
func validSKU(s string) bool {
	switch v1beta1.GPUSKU(s) {
	case "gb200_sxm", "h200_sxm", "h100_sxm", "b200_sxm", "a100_sxm", "l40s":
		return true
	}
	return false
}

func validDevice(s string) bool {
	return s == string(v1beta1.DeviceCUDA) || s == string(v1beta1.DeviceXPU)
}

func validOptimization(s string) bool {
	return s == string(v1beta1.OptimizeLatency) || s == string(v1beta1.OptimizeThroughput)
}

func anyString(string) bool { return true }

// overridesToHub maps profilingConfig's pod settings into
// overrides.profilingJob and deploymentOverrides' metadata into
// overrides.dgd, on top of the saved overrides when there are some.
func overridesToHub(a *DynamoGraphDeploymentRequest, base *v1beta1.OverridesSpec) (*v1beta1.OverridesSpec, error) {
	pc := a.Spec.ProfilingConfig
	var job *batchv1.JobSpec
	if base != nil && base.ProfilingJob != nil {
		job = base.ProfilingJob.DeepCopy()
	}
	wantJob := pc.Resources != nil || len(pc.Tolerations) > 0 || len(pc.NodeSelector) > 0
	if job == nil && wantJob {
		job = &batchv1.JobSpec{}
	}
	if job != nil {
		res, tol, sel := jobPodSettings(job)
		if !reflect.DeepEqual(res, pc.Resources) {
			setJobResources(job, pc.Resources)
		}
		if !reflect.DeepEqual(tol, pc.Tolerations) {
			job.Template.Spec.Tolerations = pc.Tolerations
		}
		if !reflect.DeepEqual(sel, pc.NodeSelector) {
			job.Template.Spec.NodeSelector = pc.NodeSelector
		}
	}

	var dgd map[string]any
	if base != nil && base.DGD != nil {
		if m, ok := decodeObject(base.DGD.Raw); ok {
			dgd = m
		}
	}
	want := dgdMeta{}
	if o := a.Spec.DeploymentOverrides; o != nil {
		want = dgdMeta{Name: o.Name, Namespace: o.Namespace, Labels: o.Labels, Annotations: o.Annotations}
	}
	if dgd == nil && !reflect.ValueOf(want).IsZero() {
		dgd = map[string]any{"apiVersion": "nvidia.com/v1alpha1", "kind": DGDKind}
	}
	var dgdRaw *runtime.RawExtension
	if dgd != nil {
		writeDGDMeta(dgd, want)
		raw, err := json.Marshal(dgd)
		if err != nil {
			return nil, fmt.Errorf("encoding overrides.dgd: %w", err)
		}
		dgdRaw = &runtime.RawExtension{Raw: raw}
	} else if base != nil && base.DGD != nil {
		dgdRaw = base.DGD.DeepCopy() // not an object: kept as it was
	}
	if job == nil && dgdRaw == nil {
		return nil, nil
	}
	return &v1beta1.OverridesSpec{ProfilingJob: job, DGD: dgdRaw}, nil
}

// jobPodSettings reads what v1alpha1's profilingConfig holds from a JobSpec.
func jobPodSettings(job *batchv1.JobSpec) (*corev1.ResourceRequirements, []corev1.Toleration, map[string]string) {
	if job == nil {
		return nil, nil, nil
	}
	pod := job.Template.Spec
	var res *corev1.ResourceRequirements
	if len(pod.Containers) > 0 && !reflect.ValueOf(pod.Containers[0].Resources).IsZero() {
		r := pod.Containers[0].Resources
		res = &r
	}
	return res, pod.Tolerations, pod.NodeSelector
}

func setJobResources(job *batchv1.JobSpec, res *corev1.ResourceRequirements) {
	c := &job.Template.Spec.Containers
	if res == nil {
		if len(*c) > 0 {
			(*c)[0].Resources = corev1.ResourceRequirements{}
		}
		return
	}
	if len(*c) == 0 {
		*c = []corev1.Container{{}}
	}
	(*c)[0].Resources = *res
}

// dgdMeta is the metadata of overrides.dgd that deploymentOverrides holds.
type dgdMeta struct {
	Name, Namespace     string
	Labels, Annotations map[string]string
}

func readDGDMeta(dgd map[string]any) dgdMeta {
	md, _ := dgd["metadata"].(map[string]any)
	strMap := func(v any) map[string]string {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return nil
		}
		out := map[string]string{}
		for k, x := range m {
			s, ok := x.(string)
			if !ok {
				return nil // not a label map: left to the saved copy
			}
			out[k] = s
		}
		return out
	}
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	return dgdMeta{Name: name, Namespace: ns, Labels: strMap(md["labels"]), Annotations: strMap(md["annotations"])}
}

// writeDGDMeta sets the members of dgd.metadata that differ from want.
func writeDGDMeta(dgd map[string]any, want dgdMeta) {
	cur := readDGDMeta(dgd)
	md, ok := dgd["metadata"].(map[string]any)
	if !ok {
		md = map[string]any{}
	}
	setStr := func(k, cur, want string) {
		if cur == want {
			return
		}
		if want == "" {
			delete(md, k)
		} else {
			md[k] = want
		}
	}
	setMap := func(k string, cur, want map[string]string) {
		if reflect.DeepEqual(cur, want) || (len(cur) == 0 && len(want) == 0) {
			return
		}
		if len(want) == 0 {
			delete(md, k)
			return
		}
		m := map[string]any{}
		for x, y := range want {
			m[x] = y
		}
		md[k] = m
	}
	setStr("name", cur.Name, want.Name)
	setStr("namespace", cur.Namespace, want.Namespace)
	setMap("labels", cur.Labels, want.Labels)
	setMap("annotations", cur.Annotations, want.Annotations)
	if len(md) > 0 || dgd["metadata"] != nil {
		dgd["metadata"] = md
	}
}

// statusToHub maps state, deployment and the generated DGD. What v1beta1
// has no field for goes into status.v1alpha1, not into an annotation: a
// write through the status subresource keeps only the status.
func statusToHub(a *DynamoGraphDeploymentRequestStatus, b *v1beta1.DynamoGraphDeploymentRequestStatus) {
	created := a.Deployment != nil && a.Deployment.Created
	b.Phase = phaseOf(a.State, created)
	b.ObservedGeneration = a.ObservedGeneration
	b.Conditions = append([]metav1.Condition(nil), a.Conditions...)
	if a.GeneratedDeployment != nil {
		b.ProfilingResults = &v1beta1.ProfilingResultsStatus{SelectedConfig: a.GeneratedDeployment.DeepCopy()}
	}
	ext := v1beta1.V1alpha1Status{Backend: a.Backend, ProfilingResults: a.ProfilingResults}
	if stateOf(b.Phase) != a.State {
		ext.State = string(a.State)
	}
	if d := a.Deployment; d != nil {
		b.DGDName = d.Name
		ext.Deployment = &v1beta1.V1alpha1Deployment{Namespace: d.Namespace, State: d.State, Created: d.Created}
	}
	if !reflect.ValueOf(ext).IsZero() {
		b.V1alpha1 = &ext
	}
}

// phaseOf maps a v1alpha1 state onto the nearest v1beta1 phase.
func phaseOf(s State, created bool) v1beta1.Phase {
	switch s {
	case StateInitializing, StatePending:
		return v1beta1.PhasePending
	case StateProfiling:
		return v1beta1.PhaseProfiling
	case StateReady:
		if created {
			return v1beta1.PhaseDeployed
		}
		return v1beta1.PhaseReady
	case StateDeploying:
		return v1beta1.PhaseDeploying
	case StateDeploymentDeleted:
		return v1beta1.PhaseReady
	case StateFailed:
		return v1beta1.PhaseFailed
	}
	return ""
}

// stateOf maps a v1beta1 phase onto the v1alpha1 state.
func stateOf(p v1beta1.Phase) State {
	switch p {
	case v1beta1.PhasePending:
		return StatePending
	case v1beta1.PhaseProfiling:
		return StateProfiling
	case v1beta1.PhaseReady, v1beta1.PhaseDeployed:
		return StateReady
	case v1beta1.PhaseDeploying:
		return StateDeploying
	case v1beta1.PhaseFailed:
		return StateFailed
	}
	return ""
}

// fromHub maps a v1beta1 DGDR onto v1alpha1. The typed fields go into the
// config given as blob (the saved one, so its other keys and spellings
// stay), each written only where the config does not already say the same.
func fromHub(b *Hub, blob *apiextensionsv1.JSON) (*DynamoGraphDeploymentRequest, error) {
	a := &DynamoGraphDeploymentRequest{ObjectMeta: *b.ObjectMeta.DeepCopy()}
	a.APIVersion, a.Kind = GroupVersion.String(), DGDRKind
	s := &b.Spec
	a.Spec.Model = s.Model
	a.Spec.Backend = string(s.Backend)
	a.Spec.ProfilingConfig.ProfilerImage = s.Image
	a.Spec.AutoApply = s.AutoApply == nil || *s.AutoApply // v1beta1's default is true
	a.Spec.UseMocker = s.Features != nil && s.Features.Mocker != nil && s.Features.Mocker.Enabled

	cfg, err := hubToBlob(s, blob)
	if err != nil {
		return nil, err
	}
	a.Spec.ProfilingConfig.Config = cfg
	if s.Overrides != nil {
		res, tol, sel := jobPodSettings(s.Overrides.ProfilingJob)
		a.Spec.ProfilingConfig.Resources = res.DeepCopy()
		a.Spec.ProfilingConfig.Tolerations = append([]corev1.Toleration(nil), tol...)
		if len(sel) > 0 {
			a.Spec.ProfilingConfig.NodeSelector = map[string]string{}
			for k, v := range sel {
				a.Spec.ProfilingConfig.NodeSelector[k] = v
			}
		}
		if s.Overrides.DGD != nil {
			if dgd, ok := decodeObject(s.Overrides.DGD.Raw); ok {
				if m := readDGDMeta(dgd); !reflect.ValueOf(m).IsZero() {
					a.Spec.DeploymentOverrides = &DeploymentOverridesSpec{Name: m.Name, Namespace: m.Namespace,
						Labels: m.Labels, Annotations: m.Annotations}
				}
			}
		}
	}

	statusFromHub(&b.Status, &a.Status)
	return a, nil
}

// statusFromHub is statusToHub's inverse. A v1alpha1 state kept in
// status.v1alpha1 is used only while the phase still agrees with it, so a
// v1beta1 writer that moved the phase is not overruled by a stale state.
func statusFromHub(st *v1beta1.DynamoGraphDeploymentRequestStatus, a *DynamoGraphDeploymentRequestStatus) {
	ext := st.V1alpha1
	if ext == nil {
		ext = &v1beta1.V1alpha1Status{}
	}
	a.State = stateOf(st.Phase)
	created := ext.Deployment != nil && ext.Deployment.Created
	if ext.State != "" && phaseOf(State(ext.State), created) == st.Phase {
		a.State = State(ext.State)
	}
	a.Backend, a.ProfilingResults = ext.Backend, ext.ProfilingResults
	a.ObservedGeneration = st.ObservedGeneration
	a.Conditions = append([]metav1.Condition(nil), st.Conditions...)
	if st.ProfilingResults != nil && st.ProfilingResults.SelectedConfig != nil {
		a.GeneratedDeployment = st.ProfilingResults.SelectedConfig.DeepCopy()
	}
	switch {
	case ext.Deployment != nil:
		d := ext.Deployment
		a.Deployment = &DeploymentStatus{Name: st.DGDName, Namespace: d.Namespace, State: d.State, Created: d.Created}
	case st.DGDName != "":
		a.Deployment = &DeploymentStatus{Name: st.DGDName,
			Created: st.Phase == v1beta1.PhaseDeploying || st.Phase == v1beta1.PhaseDeployed}
	}
}

// hubToBlob writes the typed fields into the config (a copy of blob).
func hubToBlob(s *v1beta1.DynamoGraphDeploymentRequestSpec, tmpl *apiextensionsv1.JSON) (*apiextensionsv1.JSON, error) {
	blob := blobOf(tmpl)
	keep := tmpl != nil && blob == nil // a config that is not an object stays as it was, unless written to
	if blob == nil {
		blob = map[string]any{}
	}
	w := &blobWriter{root: blob}
	var sla v1beta1.SLASpec
	if s.SLA != nil {
		sla = *s.SLA
	}
	w.number(blobTTFT, sla.TTFT)
	w.number(blobITL, sla.ITL)
	w.number(blobE2E, sla.E2ELatency)
	w.str(blobOptimize, string(sla.OptimizationType), validOptimization)
	var wl v1beta1.WorkloadSpec
	if s.Workload != nil {
		wl = *s.Workload
	}
	w.int32(blobISL, wl.ISL)
	w.int32(blobOSL, wl.OSL)
	w.number(blobConcurrency, wl.Concurrency)
	w.number(blobRequestRate, wl.RequestRate)
	var hw v1beta1.HardwareSpec
	if s.Hardware != nil {
		hw = *s.Hardware
	}
	w.system(string(hw.GPUSKU))
	w.int32(blobGPUsPerNode, hw.NumGPUsPerNode)
	w.number(blobVRAM, hw.VRAMMB)
	w.int32(blobTotalGPUs, hw.TotalGPUs)
	w.str(blobDeviceType, string(hw.DeviceType), validDevice)
	w.modelCache(s.ModelCache)
	var planner *runtime.RawExtension
	if s.Features != nil {
		planner = s.Features.Planner
	}
	w.planner(planner)
	w.searchStrategy(s.SearchStrategy)

	if keep && !w.wrote {
		return tmpl.DeepCopy(), nil
	}
	if tmpl == nil && len(blob) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(blob)
	if err != nil {
		return nil, fmt.Errorf("encoding spec.profilingConfig.config: %w", err)
	}
	return &apiextensionsv1.JSON{Raw: raw}, nil
}

// blobKey is one setting's paths in the config, in lookup order.
type blobKey [][]string

// blobOf decodes the config when it is a JSON object, else nil.
func blobOf(j *apiextensionsv1.JSON) map[string]any {
	if j == nil {
		return nil
	}
	m, _ := decodeObject(j.Raw)
	return m
}

func decodeObject(raw []byte) (map[string]any, bool) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// lookup is the value at the first path present (not null), and that path.
func lookup(root map[string]any, k blobKey) (any, []string) {
	for _, p := range k {
		m := root
		for _, seg := range p[:len(p)-1] {
			next, ok := m[seg].(map[string]any)
			if !ok {
				m = nil
				break
			}
			m = next
		}
		if m == nil {
			continue
		}
		if v, ok := m[p[len(p)-1]]; ok && v != nil {
			return v, p
		}
	}
	return nil, nil
}

func asFloat(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func readNumber(root map[string]any, k blobKey) *float64 {
	v, _ := lookup(root, k)
	if f, ok := asFloat(v); ok {
		return &f
	}
	return nil
}

func readInt32(root map[string]any, k blobKey) *int32 {
	v, _ := lookup(root, k)
	f, ok := asFloat(v)
	if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return nil
	}
	i := int32(f)
	return &i
}

func readString(root map[string]any, k blobKey) string {
	v, _ := lookup(root, k)
	s, _ := v.(string)
	return s
}

// readEnum is readString limited to the values valid accepts.
func readEnum(root map[string]any, k blobKey, valid func(string) bool) string {
	if s := readString(root, k); valid(s) {
		return s
	}
	return ""
}

func readBool(root map[string]any, k blobKey) *bool {
	v, _ := lookup(root, k)
	if b, ok := v.(bool); ok {
		return &b
	}
	return nil
}

func readObject(root map[string]any, k blobKey) map[string]any {
	v, _ := lookup(root, k)
	m, _ := v.(map[string]any)
	return m
}

// blobWriter writes typed values into the config, each only where the
// config does not already hold the same value.
type blobWriter struct {
	root  map[string]any
	wrote bool
}

// put sets (v != nil) or removes (v == nil) the setting k: at the path it
// is found at, else at its first path.
func (w *blobWriter) put(k blobKey, v any) {
	_, at := lookup(w.root, k)
	if v == nil {
		if at == nil {
			return
		}
		m := w.root
		for _, seg := range at[:len(at)-1] {
			m = m[seg].(map[string]any)
		}
		delete(m, at[len(at)-1])
		w.wrote = true
		return
	}
	if at == nil {
		at = k[0]
	}
	m := w.root
	for _, seg := range at[:len(at)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[at[len(at)-1]] = v
	w.wrote = true
}

func (w *blobWriter) number(k blobKey, want *float64) {
	cur := readNumber(w.root, k)
	if eqPtr(cur, want) {
		return
	}
	if want == nil {
		w.put(k, nil)
		return
	}
	w.put(k, json.Number(strconv.FormatFloat(*want, 'g', -1, 64)))
}

func (w *blobWriter) int32(k blobKey, want *int32) {
	cur := readInt32(w.root, k)
	if eqPtr(cur, want) {
		return
	}
	if want == nil {
		w.put(k, nil)
		return
	}
	w.put(k, json.Number(strconv.FormatInt(int64(*want), 10)))
}

// str writes a string setting; valid says which values the typed field
// can hold (others read as "", as in toHub).
func (w *blobWriter) str(k blobKey, want string, valid func(string) bool) {
	if readEnum(w.root, k, valid) == want {
		return
	}
	w.put(k, nilIfEmpty(want))
}

// system writes the GPU system where the profiler reads it first (the
// sweep or aic section when one names it), else into hardware.system.
func (w *blobWriter) system(want string) {
	if readEnum(w.root, systemReadOrder, validSKU) == want {
		return
	}
	_, at := lookup(w.root, systemReadOrder)
	if at == nil {
		at = blobSystem[0]
	}
	w.put(blobKey{at}, nilIfEmpty(want))
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (w *blobWriter) modelCache(want *v1beta1.ModelCacheSpec) {
	cur := readObject(w.root, blobModelCache)
	if want == nil {
		if cur != nil {
			w.put(blobModelCache, nil)
		}
		return
	}
	if cur == nil {
		if v, _ := lookup(w.root, blobModelCache); v != nil {
			return // not an object: left as it was
		}
		cur = map[string]any{}
		w.put(blobModelCache, cur)
	}
	sub := &blobWriter{root: cur}
	sub.str(mcPVCName, want.PVCName, anyString)
	sub.str(mcModelPath, want.PVCModelPath, anyString)
	sub.str(mcMountPath, want.PVCMountPath, anyString)
	w.wrote = w.wrote || sub.wrote
}

func (w *blobWriter) planner(want *runtime.RawExtension) {
	cur := readObject(w.root, blobPlanner)
	if want == nil {
		if cur != nil {
			w.put(blobPlanner, nil)
		}
		return
	}
	m, ok := decodeObject(want.Raw)
	if !ok {
		return // not an object: only the saved v1beta1 fields can hold it
	}
	if reflect.DeepEqual(cur, m) {
		return
	}
	w.put(blobPlanner, m)
}

func (w *blobWriter) searchStrategy(want v1beta1.SearchStrategy) {
	on := readBool(w.root, blobUseAIC)
	rapid := on != nil && *on
	switch {
	case want == v1beta1.SearchRapid && !rapid:
		w.put(blobUseAIC, true)
	case want == v1beta1.SearchThorough && rapid:
		w.put(blobUseAIC, false)
	}
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func ptrTo[T any](v T) *T { return &v }
