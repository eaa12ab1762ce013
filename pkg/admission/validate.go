package admission

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/images"
	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// Limits of the sanity rules (E15). They are far outside anything real, so
// they only catch unit mistakes (seconds for milliseconds) and typos.
const (
	MaxSequenceTokens  = 10_000_000
	MinLatencyMs       = 0.01
	MaxGPUCount        = 1024
	MaxPrefillGran     = 256
	MaxDecodeGran      = 64
	MaxDGDNameLen      = 28 // 45 minus len("VllmPrefillWorker")
	DefaultGPUsPerNode = 8
	MoEMaxNodes        = 4
)

var (
	specPath      = field.NewPath("spec")
	slaPath       = pc.BasePath.Child("sla")
	overridesPath = specPath.Child("deploymentOverrides")
)

// managedLabels are the labels the controller uses to find its DGD (E9).
var managedLabels = []string{v1alpha1.LabelDGDRName, v1alpha1.LabelDGDRNamespace, v1alpha1.LabelManagedBy}

// Validate runs every stateless rule of spec/dgdr-api.md §6.4. It never
// panics and never touches the network; the estimator's tables are in memory.
func Validate(dgdr *v1alpha1.DynamoGraphDeploymentRequest) (warnings []string, errs field.ErrorList) {
	return validate(dgdr, v1alpha1Rules)
}

// ruleSet is what differs between the versions when the same rules run on
// a v1alpha1 object or on a converted v1beta1 one.
type ruleSet struct {
	// hub: the object is a converted v1beta1 one. v1beta1 has no required
	// config, leaves the GPU to discovery, and falls back to a simple
	// configuration where AI Configurator does not know the model.
	hub bool
	sla SLADefaults
}

var (
	v1alpha1Rules = ruleSet{sla: V1alpha1SLADefaults}
	v1beta1Rules  = ruleSet{hub: true, sla: V1beta1SLADefaults}
)

func validate(dgdr *v1alpha1.DynamoGraphDeploymentRequest, rules ruleSet) (warnings []string, errs field.ErrorList) {
	if dgdr == nil {
		return nil, field.ErrorList{field.Required(specPath, "the DynamoGraphDeploymentRequest is empty; set spec.model, spec.backend and spec.profilingConfig")}
	}
	v := &validator{dgdr: dgdr, rules: rules}
	v.spec()
	v.config()
	return v.warns, v.errs
}

// ValidateUpdate runs Validate on the new object plus the spec freeze (E8).
// An update that leaves the spec alone (metadata, finalizers) is always
// allowed, so objects stored before a rule existed can still be finalised.
func ValidateUpdate(oldObj, newObj *v1alpha1.DynamoGraphDeploymentRequest) (warnings []string, errs field.ErrorList) {
	if newObj == nil {
		return Validate(nil)
	}
	if newObj.DeletionTimestamp != nil {
		return nil, nil
	}
	if oldObj == nil {
		return Validate(newObj)
	}
	if SpecEqual(&oldObj.Spec, &newObj.Spec) {
		return nil, nil
	}
	if SpecFrozen(oldObj.Status.State) {
		return nil, field.ErrorList{field.Forbidden(specPath, fmt.Sprintf(
			"updates are forbidden while the resource is in state %q; delete and recreate the resource to change its spec",
			oldObj.Status.State))}
	}
	return Validate(newObj)
}

// SpecEqual compares two specs, the free-form config by meaning rather than
// by bytes (key order and spacing do not count).
func SpecEqual(a, b *v1alpha1.DynamoGraphDeploymentRequestSpec) bool {
	ac, bc := a.ProfilingConfig.Config, b.ProfilingConfig.Config
	a2, b2 := *a, *b
	a2.ProfilingConfig.Config, b2.ProfilingConfig.Config = nil, nil
	if !reflect.DeepEqual(a2, b2) {
		return false
	}
	return jsonEqual(ac, bc)
}

func jsonEqual(a, b *apiextensionsv1.JSON) bool {
	ra, rb := rawOf(a), rawOf(b)
	if string(ra) == string(rb) {
		return true
	}
	var va, vb any
	if json.Unmarshal(ra, &va) != nil || json.Unmarshal(rb, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func rawOf(j *apiextensionsv1.JSON) []byte {
	if j == nil || len(j.Raw) == 0 {
		return []byte("null")
	}
	return j.Raw
}

// validator accumulates errors and warnings for one object.
type validator struct {
	dgdr  *v1alpha1.DynamoGraphDeploymentRequest
	rules ruleSet
	cfg   *pc.Config
	errs  field.ErrorList
	warns []string
	// unknown counts the unknown keys, to stop suggesting past what one answer lists.
	unknown int
}

func (v *validator) err(e *field.Error) {
	if e != nil {
		v.errs = append(v.errs, e)
	}
}

func (v *validator) warn(format string, args ...any) {
	v.warns = append(v.warns, fmt.Sprintf(format, args...))
}

// spec checks the typed fields outside profilingConfig.config.
// hasBadImageRune reports control characters or spaces in an image reference.
func hasBadImageRune(img string) bool {
	_, bad := badRune(img)
	return bad || strings.ContainsAny(img, " \t\n")
}

func (v *validator) spec() {
	s := &v.dgdr.Spec
	modelPath := specPath.Child("model")
	if strings.TrimSpace(s.Model) == "" {
		v.err(field.Required(modelPath,
			"model is required; set spec.model to the Hugging Face id of the model to deploy, e.g. Qwen/Qwen3-0.6B"))
	} else if len(s.Model) > MaxModelLen {
		v.err(field.TooLong(modelPath, "", MaxModelLen))
	} else if r, bad := badRune(s.Model); bad {
		v.err(field.Invalid(modelPath, s.Model, fmt.Sprintf(
			"spec.model must not contain control or formatting characters (found %U); set it to a Hugging Face id such as Qwen/Qwen3-0.6B", r)))
	}
	switch s.Backend {
	case v1alpha1.BackendVLLM, v1alpha1.BackendSGLang, v1alpha1.BackendTRTLLM:
	case v1alpha1.BackendAuto:
		b, why := ResolveBackend(v.dgdr)
		v.warn("spec.backend is auto: profiling uses %s (%s); set spec.backend to vllm, sglang or trtllm to choose", b, why)
	case "":
		v.err(field.Required(specPath.Child("backend"), "backend is required; set spec.backend to vllm, sglang, trtllm or auto"))
	case "mocker":
		v.err(field.Invalid(specPath.Child("backend"), s.Backend,
			"invalid backend: mocker (must be vllm, sglang, or trtllm); to run the engine simulator set spec.useMocker: true and keep the real backend here"))
	default:
		v.err(field.NotSupported(specPath.Child("backend"), s.Backend, v1alpha1.Backends))
	}
	pcPath := specPath.Child("profilingConfig")
	switch {
	case strings.TrimSpace(s.ProfilingConfig.ProfilerImage) == "":
		// v1beta1's image is optional: the runtime images follow the backend.
		if !v.rules.hub {
			v.err(field.Required(pcPath.Child("profilerImage"),
				"spec.profilingConfig.profilerImage is required; set it to the runtime image of the backend, e.g. "+cmp.Or(images.Runtime(s.Backend), images.Runtime(v1alpha1.BackendVLLM))))
		}
	case hasBadImageRune(s.ProfilingConfig.ProfilerImage):
		v.err(field.Invalid(pcPath.Child("profilerImage"), s.ProfilingConfig.ProfilerImage,
			"spec.profilingConfig.profilerImage must be an image reference without spaces, e.g. "+images.Runtime(v1alpha1.BackendVLLM)))
	}
	if ref := s.ProfilingConfig.ConfigMapRef; ref != nil {
		p := pcPath.Child("configMapRef")
		if ref.Name == "" {
			v.err(field.Required(p.Child("name"), "configMapRef.name is required; set it to the ConfigMap holding the base DGD, or remove configMapRef"))
		} else if msgs := validation.IsDNS1123Subdomain(ref.Name); len(msgs) > 0 {
			v.err(field.Invalid(p.Child("name"), ref.Name, "configMapRef.name must be a ConfigMap name: "+strings.Join(msgs, "; ")))
		}
		if ref.Key != "" {
			if msgs := validation.IsConfigMapKey(ref.Key); len(msgs) > 0 {
				v.err(field.Invalid(p.Child("key"), ref.Key, "configMapRef.key must be a ConfigMap key such as disagg.yaml: "+strings.Join(msgs, "; ")))
			}
		}
	}
	if s.EnableGpuDiscovery != nil {
		v.warn("spec.enableGpuDiscovery is deprecated and will be removed in v1beta1. GPU discovery is now always attempted automatically. This field has no effect.")
	}
	v.overrides()
}

// overrides checks spec.deploymentOverrides (E9, E11, W8).
func (v *validator) overrides() {
	o := v.dgdr.Spec.DeploymentOverrides
	name := v.dgdr.Name
	if o != nil {
		if o.Name != "" {
			name = o.Name
			if msgs := validation.IsDNS1123Subdomain(o.Name); len(msgs) > 0 {
				v.err(field.Invalid(overridesPath.Child("name"), o.Name, "spec.deploymentOverrides.name: "+strings.Join(msgs, "; ")))
			}
		}
		if o.Namespace != "" {
			if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
				v.err(field.Invalid(overridesPath.Child("namespace"), o.Namespace, "spec.deploymentOverrides.namespace must be a namespace name: "+strings.Join(msgs, "; ")))
			}
		}
		for _, k := range managedLabels {
			if _, ok := o.Labels[k]; ok {
				v.err(field.Forbidden(overridesPath.Child("labels").Key(k), fmt.Sprintf(
					"spec.deploymentOverrides.labels[%s] is managed by the DGDR controller and cannot be overridden; remove this label", k)))
			}
		}
		if len(o.Labels) > MaxLabels {
			v.err(field.TooMany(overridesPath.Child("labels"), len(o.Labels), MaxLabels))
		} else {
			v.errs = append(v.errs, metav1validation.ValidateLabels(o.Labels, overridesPath.Child("labels"))...)
		}
	}
	if len(name) > MaxDGDNameLen {
		v.warn("DynamoGraphDeployment name %q (%d chars) may exceed the 45-character limit together with worker service names such as VllmPrefillWorker; set spec.deploymentOverrides.name", name, len(name))
	}
}

// config checks spec.profilingConfig.config.
func (v *validator) config() {
	raw := v.dgdr.Spec.ProfilingConfig.Config
	if raw == nil || len(bytes.TrimSpace(raw.Raw)) == 0 || string(raw.Raw) == "null" {
		if !v.rules.hub { // upstream's v1alpha1 webhook requires it; v1beta1 needs no config
			v.err(field.Required(pc.BasePath,
				"spec.profilingConfig.config is required and must not be empty; add at least the sla block, e.g. {sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}}"))
			return
		}
		raw = nil
	}
	if raw != nil {
		if e := checkConfigJSON(raw.Raw); e != nil {
			v.err(e)
			return
		}
	}
	cfg, err := pc.FromJSON(raw)
	if err != nil {
		v.err(field.Invalid(pc.BasePath, shorten(string(raw.Raw)), "failed to parse spec.profilingConfig.config: "+err.Error()))
		return
	}
	v.cfg = cfg
	bad := map[string]bool{}
	for _, sec := range pc.Sections {
		if _, e := cfg.SectionMap(sec); e != nil {
			bad[sec] = true
			v.err(e)
		}
	}
	v.errs = append(v.errs, cfg.SpellingConflicts()...)
	v.strictKeys(bad)
	v.typedKeys()
	if !bad["sla"] {
		v.sla()
	}
	v.docOnly()
	if !bad["planner"] {
		v.planner()
	}
	v.hardwareAndModel(bad)
}

// Keys whose type is all there is to check.
var (
	stringKeys = []pc.Key{pc.KeyOutputDir, pc.KeyDeploymentModel, pc.KeyDeploymentService, pc.KeyDeploymentImage,
		pc.KeyEngineBackend, pc.KeyEngineConfig, pc.KeyHardwareSystem, pc.KeyHardwareGPUModel, pc.KeySweepAICSystem,
		pc.KeySweepAICHfID, pc.KeySweepAICBackend, pc.KeySweepAICVersion, pc.KeySweepAICModelName, pc.KeyAICSystem,
		pc.KeyAICModelName, pc.KeyAICBackendVersion}
	boolKeys = []pc.Key{pc.KeyHardwareDiscovery, pc.KeySweepUseAIC, pc.KeySweepDryRun, pc.KeySweepPickWithWebui, pc.KeyEngineIsMoE}
)

// typedKeys checks the keys outside sla and hardware whose type and range are known.
func (v *validator) typedKeys() {
	c := v.cfg
	for _, k := range stringKeys {
		_, _, e := c.String(k)
		v.err(e)
	}
	for _, k := range boolKeys {
		_, _, e := c.Bool(k)
		v.err(e)
	}
	if ns, ok, e := c.String(pc.KeyDeploymentNamespace); e != nil {
		v.err(e)
	} else if ok && ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			v.err(field.Invalid(pc.KeyDeploymentNamespace.Path("namespace"), ns,
				"deployment.namespace must be a namespace name for the temporary profiling deployments: "+strings.Join(msgs, "; ")))
		}
	}
	v.intRange(pc.KeyDeploymentTimeout, 1, 7*24*3600, "the readiness wait per temporary deployment in seconds, e.g. 1800")
	v.intRange(pc.KeyLegacyReadyTimeoutS, 1, 7*24*3600, "the readiness wait in seconds, e.g. 1800")
	v.intRange(pc.KeyEngineMaxContext, 0, MaxSequenceTokens, "a context length in tokens, or 0 for the model's own")
	v.intRange(pc.KeyHardwareGPUVramMiB, 1, 1<<24, "the GPU memory in MiB, e.g. 81559")
	v.intRange(pc.KeySweepWebuiPort, 1, 65535, "a TCP port, e.g. 8000")
	v.intRange(pc.KeySweepPrefillGran, 1, MaxPrefillGran, "e.g. 16")
	v.intRange(pc.KeySweepDecodeGran, 2, MaxDecodeGran, "e.g. 6 (the concurrency step divides by the granularity minus one)")
}

// intRange reads an integer key and checks lo <= x <= hi. The message starts
// with "<key> must be >= lo" so the upstream stems (E7) stay recognisable.
func (v *validator) intRange(k pc.Key, lo, hi int64, hint string) (int64, bool) {
	x, ok, e := v.cfg.Int(k)
	if e != nil {
		v.err(e)
		return 0, false
	}
	if !ok {
		return 0, false
	}
	_, spelling, _ := v.cfg.Lookup(k)
	switch {
	case x < lo:
		v.err(field.Invalid(k.Path(spelling), x, fmt.Sprintf("%s must be >= %d; set %s to %d or more, %s", k.String(), lo, spelling, lo, hint)))
		return x, false
	case x > hi:
		v.err(field.Invalid(k.Path(spelling), x, fmt.Sprintf("%s must be <= %d; set %s to %d or less, %s", k.String(), hi, spelling, hi, hint)))
		return x, false
	}
	return x, true
}

// slaHints says what each SLA key is, for the messages.
var slaHints = map[string]string{
	"isl":              "the average input sequence length in tokens, e.g. 3000",
	"osl":              "the average output sequence length in tokens, e.g. 150",
	"ttft":             "the target time to first token in milliseconds, e.g. 200",
	"itl":              "the target inter-token latency in milliseconds, e.g. 20",
	"e2eLatency":       "the target end-to-end latency in milliseconds, e.g. 5000",
	"optimizationType": "latency or throughput",
}

// sla checks the SLA block (E6, E12, E15). What it leaves out is not an
// error: profiling uses the defaults of the request's version, as upstream's
// profiler does, and a warning says which.
func (v *validator) sla() {
	sec, _ := v.cfg.SectionMap("sla")
	if sec == nil {
		v.warn("spec.profilingConfig.config.sla is not set: profiling uses %s (isl %d, osl %d, ttft %g ms, itl %g ms); "+
			"set the workload (isl, osl) and the latency targets (ttft, itl) of your service",
			v.rules.sla.Source, v.rules.sla.ISL, v.rules.sla.OSL, v.rules.sla.TTFT, v.rules.sla.ITL)
		return
	}
	var missing []string
	defaults := map[string]string{"isl": fmt.Sprint(v.rules.sla.ISL), "osl": fmt.Sprint(v.rules.sla.OSL),
		"ttft": fmt.Sprintf("%g ms", v.rules.sla.TTFT), "itl": fmt.Sprintf("%g ms", v.rules.sla.ITL)}
	for _, name := range []string{"isl", "osl"} {
		k := pc.Key{Section: "sla", Camel: name}
		x, ok, e := v.cfg.Int(k)
		switch {
		case e != nil:
			v.err(e)
		case !ok:
			missing = append(missing, name+" "+defaults[name])
		case x <= 0:
			v.err(field.Invalid(slaPath.Child(name), x, fmt.Sprintf("sla.%s must be positive; set it to %s", name, slaHints[name])))
		case x > MaxSequenceTokens:
			v.err(field.Invalid(slaPath.Child(name), x, fmt.Sprintf("sla.%s (%d tokens) is above %d, which no model supports; set it to %s", name, x, MaxSequenceTokens, slaHints[name])))
		}
	}
	e2e, hasE2E := v.e2e(sec)
	opt, hasOpt := v.optimization()
	for _, name := range []string{"ttft", "itl"} {
		k := pc.Key{Section: "sla", Camel: name}
		x, ok, e := v.cfg.Float(k)
		switch {
		case e != nil:
			v.err(e)
		case !ok:
			if !hasE2E && !hasOpt {
				missing = append(missing, name+" "+defaults[name])
			}
		case hasE2E:
			v.err(field.Invalid(slaPath.Child(name), x, fmt.Sprintf(
				"sla.%s and sla.e2eLatency (%g ms) are alternatives: remove sla.ttft and sla.itl to target the end-to-end latency, or remove sla.e2eLatency", name, e2e)))
		case x <= 0:
			v.err(field.Invalid(slaPath.Child(name), x, fmt.Sprintf("sla.%s must be positive; set it to %s", name, slaHints[name])))
		case x < MinLatencyMs:
			v.err(field.Invalid(slaPath.Child(name), x, fmt.Sprintf("sla.%s (%g ms) is below %g ms, which no engine can reach; the SLA is in milliseconds, set it to %s", name, x, MinLatencyMs, slaHints[name])))
		}
	}
	if hasOpt && (hasE2E || hasKey(v.cfg, pc.KeySLATTFT) && hasKey(v.cfg, pc.KeySLAITL)) {
		v.warn("spec.profilingConfig.config.sla.optimizationType %s is not used: the latency targets are given", opt)
	}
	if len(missing) > 0 {
		v.warn("spec.profilingConfig.config.sla does not set %s: profiling uses %s (%s); set them to your workload and targets",
			strings.Join(missingNames(missing), ", "), v.rules.sla.Source, strings.Join(missing, ", "))
	}
}

// missingNames keeps the key of each "key value" entry.
func missingNames(entries []string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i], _, _ = strings.Cut(e, " ")
	}
	return out
}

// e2e reads sla.e2eLatency, the v1beta1 alternative to ttft and itl.
func (v *validator) e2e(sec map[string]any) (float64, bool) {
	x, ok, e := v.cfg.Float(pc.KeySLAE2E)
	switch {
	case e != nil:
		v.err(e)
		return 0, false
	case !ok:
		return 0, false
	case x < MinLatencyMs:
		v.err(field.Invalid(slaPath.Child("e2eLatency"), x, fmt.Sprintf(
			"sla.e2eLatency must be at least %g ms; set it to %s", MinLatencyMs, slaHints["e2eLatency"])))
		return 0, false
	}
	return x, true
}

// optimization reads sla.optimizationType: latency or throughput.
func (v *validator) optimization() (string, bool) {
	s, ok, e := v.cfg.String(pc.KeySLAOptimize)
	switch {
	case e != nil:
		v.err(e)
		return "", false
	case !ok:
		return "", false
	case s != OptimizeLatency && s != OptimizeThroughput:
		v.err(field.NotSupported(slaPath.Child("optimizationType"), s, []string{OptimizeLatency, OptimizeThroughput}))
		return "", false
	}
	return s, true
}

// docOnly warns about keys that appear in documentation but that nothing
// reads (W5), and about a GPU range under engine (W7).
func (v *validator) docOnly() {
	for _, k := range []struct{ sec, key string }{
		{"engine", "is_moe_model"}, {"engine", "isMoeModel"}, {"hardware", "gpu_type"},
		{"sweep", "min_num_gpus"}, {"sweep", "max_num_gpus"},
	} {
		if m, _ := v.cfg.SectionMap(k.sec); m != nil {
			if _, ok := m[k.key]; ok {
				v.warn("spec.profilingConfig.config.%s.%s is not read by the profiler and has no effect", k.sec, k.key)
			}
		}
	}
	if m, _ := v.cfg.SectionMap("deployment"); m != nil {
		for _, k := range [][2]string{{"model_cache_pvc_name", "pvcName"}, {"model_cache_pvc_path", "pvcPath"}, {"model_cache_mount_path", "mountPath"}} {
			if _, ok := m[k[0]]; ok {
				v.warn("spec.profilingConfig.config.deployment.%s is not read by the profiler; use deployment.modelCache.%s", k[0], k[1])
			}
		}
	}
	if m, _ := v.cfg.SectionMap("engine"); m != nil {
		for _, k := range []string{"minNumGpusPerEngine", "min_num_gpus_per_engine", "maxNumGpusPerEngine", "max_num_gpus_per_engine"} {
			if _, ok := m[k]; ok {
				v.warn("spec.profilingConfig.config.engine.%s is not read by the profiler; use hardware.%s", k, k)
			}
		}
	}
}

// plannerTypes are the SLA planner flags of known type (profiler.md §13),
// by their snake_case name without the planner_ prefix.
var plannerTypes = map[string]string{
	"environment": "string", "backend": "string", "mode": "string", "load_predictor": "string",
	"profile_results_dir": "string", "metric_pulling_prometheus_endpoint": "string", "namespace": "string",
	"adjustment_interval": "int", "max_gpu_budget": "int", "min_endpoint": "int",
	"prefill_engine_num_gpu": "int", "decode_engine_num_gpu": "int",
	"ttft": "number", "itl": "number",
	"no_correction": "bool", "no_operation": "bool",
}

// planner checks the planner keys whose type is known (E15).
func (v *validator) planner() {
	sec, _ := v.cfg.SectionMap("planner")
	if sec == nil {
		return
	}
	keys := make([]string, 0, len(sec))
	for k := range sec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	view := &pc.Config{Root: map[string]any{"planner": sec}}
	for _, k := range keys {
		name := strings.TrimPrefix(pc.CamelToSnake(k), "planner_")
		typ := plannerTypes[name]
		key := pc.Key{Section: "planner", Camel: k}
		var e *field.Error
		switch typ {
		case "string":
			_, _, e = view.String(key)
		case "int":
			var x int64
			var ok bool
			x, ok, e = view.Int(key)
			if e == nil && ok && x < 0 {
				e = field.Invalid(key.Path(k), x, fmt.Sprintf("planner.%s must not be negative", k))
			}
		case "number":
			var x float64
			var ok bool
			x, ok, e = view.Float(key)
			if e == nil && ok && x <= 0 {
				e = field.Invalid(key.Path(k), x, fmt.Sprintf("planner.%s must be positive (milliseconds)", k))
			}
		case "bool":
			_, _, e = view.Bool(key)
		}
		v.err(e)
	}
}

// shorten keeps error values readable when a whole document is quoted.
func shorten(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

func shortValue(v any) any {
	if s, ok := v.(string); ok {
		return shorten(s)
	}
	if _, ok := v.(map[string]any); ok {
		return "<object>"
	}
	if _, ok := v.([]any); ok {
		return "<list>"
	}
	return v
}
