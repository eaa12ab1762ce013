package admission

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// ValidatePathV1beta1 is the validating webhook's path for v1beta1 objects.
// v1beta1 has no mutating webhook: everything v1alpha1's injects is either
// a v1beta1 field with a CRD default or applied when profiling.
const ValidatePathV1beta1 = "/validate-nvidia-com-v1beta1-dynamographdeploymentrequest"

// Internal is the form every rule and the profiler read: a v1beta1 DGDR
// converted to v1alpha1, its typed fields in the profiler config.
func Internal(b *v1beta1.DynamoGraphDeploymentRequest) (*v1alpha1.DynamoGraphDeploymentRequest, error) {
	a := &v1alpha1.DynamoGraphDeploymentRequest{}
	if err := a.ConvertFrom(b.DeepCopy()); err != nil {
		return nil, err
	}
	return a, nil
}

// ValidateV1beta1 runs the rules of Validate on a v1beta1 DGDR, through its
// internal form, with v1beta1's defaults; errors and warnings name the
// v1beta1 fields. The rules only v1beta1 has come on top.
func ValidateV1beta1(b *v1beta1.DynamoGraphDeploymentRequest) (warnings []string, errs field.ErrorList) {
	if b == nil {
		return nil, field.ErrorList{field.Required(specPath, "the DynamoGraphDeploymentRequest is empty; set at least spec.model")}
	}
	a, err := Internal(b)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations").Key(v1alpha1.AnnotationV1alpha1Fields), "", err.Error())}
	}
	ws, errs := validate(a, v1beta1Rules)
	return HubPaths(ws), append(hubErrors(errs), hubOnlyRules(b)...)
}

// ValidateUpdateV1beta1 adds v1beta1's spec freeze: no spec change while
// profiling or deploying, nor once profiled, except turning autoApply on
// for a Ready request (to deploy what was reviewed).
func ValidateUpdateV1beta1(oldObj, newObj *v1beta1.DynamoGraphDeploymentRequest) (warnings []string, errs field.ErrorList) {
	if newObj == nil || oldObj == nil {
		return ValidateV1beta1(newObj)
	}
	if newObj.DeletionTimestamp != nil || sameJSON(oldObj.Spec, newObj.Spec) {
		return nil, nil
	}
	switch p := oldObj.Status.Phase; p {
	case v1beta1.PhaseProfiling, v1beta1.PhaseDeploying, v1beta1.PhaseDeployed, v1beta1.PhaseReady:
		if p == v1beta1.PhaseReady && onlyAutoApplyOn(oldObj, newObj) {
			break
		}
		return nil, field.ErrorList{field.Forbidden(specPath, fmt.Sprintf(
			"updates are forbidden while the resource is in phase %q; delete and recreate the resource to change its spec", p))}
	}
	return ValidateV1beta1(newObj)
}

func onlyAutoApplyOn(oldObj, newObj *v1beta1.DynamoGraphDeploymentRequest) bool {
	o, n := oldObj.Spec.DeepCopy(), newObj.Spec.DeepCopy()
	wasOn := o.AutoApply == nil || *o.AutoApply
	nowOn := n.AutoApply == nil || *n.AutoApply
	o.AutoApply, n.AutoApply = nil, nil
	return !wasOn && nowOn && sameJSON(o, n)
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	var va, vb any
	return json.Unmarshal(ja, &va) == nil && json.Unmarshal(jb, &vb) == nil && reflect.DeepEqual(va, vb)
}

// hubOnlyRules are the checks of fields v1alpha1 does not have.
func hubOnlyRules(b *v1beta1.DynamoGraphDeploymentRequest) field.ErrorList {
	var errs field.ErrorList
	s := &b.Spec
	if w := s.Workload; w != nil {
		p := specPath.Child("workload")
		if w.Concurrency != nil && w.RequestRate != nil {
			errs = append(errs, field.Invalid(p.Child("requestRate"), *w.RequestRate,
				"set either spec.workload.concurrency or spec.workload.requestRate, not both: the target load is one or the other"))
		}
		for name, v := range map[string]*float64{"concurrency": w.Concurrency, "requestRate": w.RequestRate} {
			if v != nil && *v <= 0 {
				errs = append(errs, field.Invalid(p.Child(name), *v, fmt.Sprintf("spec.workload.%s must be positive", name)))
			}
		}
	}
	if o := s.Overrides; o != nil && o.DGD != nil {
		var head struct{ APIVersion, Kind string }
		p := specPath.Child("overrides", "dgd")
		if err := json.Unmarshal(o.DGD.Raw, &head); err != nil {
			errs = append(errs, field.Invalid(p, "", "spec.overrides.dgd must be a DynamoGraphDeployment object: "+err.Error()))
		} else if head.Kind != v1alpha1.DGDKind || !strings.HasPrefix(head.APIVersion, "nvidia.com/") {
			errs = append(errs, field.Invalid(p.Child("kind"), head.Kind, fmt.Sprintf(
				"spec.overrides.dgd must be a DynamoGraphDeployment (apiVersion nvidia.com/v1alpha1, kind DynamoGraphDeployment), got %s %s",
				head.APIVersion, head.Kind)))
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

// hubPaths maps the internal form's field paths (v1alpha1, the profiler
// config) to the v1beta1 fields they came from; longer paths first.
var hubPaths = []struct{ from, to string }{
	{"spec.profilingConfig.config.sla.isl", "spec.workload.isl"},
	{"spec.profilingConfig.config.sla.osl", "spec.workload.osl"},
	{"spec.profilingConfig.config.sla", "spec.sla"},
	{"spec.profilingConfig.config.workload", "spec.workload"},
	{"spec.profilingConfig.config.hardware.numGpusPerNode", "spec.hardware.numGpusPerNode"},
	{"spec.profilingConfig.config.hardware.num_gpus_per_node", "spec.hardware.numGpusPerNode"},
	{"spec.profilingConfig.config.hardware.system", "spec.hardware.gpuSku"},
	{"spec.profilingConfig.config.sweep.aicSystem", "spec.hardware.gpuSku"},
	{"spec.profilingConfig.config.sweep.aic_system", "spec.hardware.gpuSku"},
	{"spec.profilingConfig.config.aic.system", "spec.hardware.gpuSku"},
	{"spec.profilingConfig.config.hardware.gpuVramMib", "spec.hardware.vramMb"},
	{"spec.profilingConfig.config.hardware.totalGpus", "spec.hardware.totalGpus"},
	{"spec.profilingConfig.config.hardware.deviceType", "spec.hardware.deviceType"},
	{"spec.profilingConfig.config.deployment.modelCache.pvcPath", "spec.modelCache.pvcModelPath"},
	{"spec.profilingConfig.config.deployment.modelCache.mountPath", "spec.modelCache.pvcMountPath"},
	{"spec.profilingConfig.config.deployment.modelCache", "spec.modelCache"},
	{"spec.profilingConfig.config.planner", "spec.features.planner"},
	{"spec.profilingConfig.config.sweep.useAiConfigurator", "spec.searchStrategy"},
	{"spec.profilingConfig.config.sweep.use_ai_configurator", "spec.searchStrategy"},
	{"spec.profilingConfig.profilerImage", "spec.image"},
	{"spec.profilingConfig.resources", "spec.overrides.profilingJob.template.spec.containers[0].resources"},
	{"spec.profilingConfig.tolerations", "spec.overrides.profilingJob.template.spec.tolerations"},
	{"spec.profilingConfig.nodeSelector", "spec.overrides.profilingJob.template.spec.nodeSelector"},
	{"spec.deploymentOverrides", "spec.overrides.dgd.metadata"},
	// The AI Configurator limit Default sets is no v1beta1 field: say what it does.
	{"spec.profilingConfig.config.hardware.maxNumGpusPerEngine was not set; set it to", "rapid search sweeps engines of up to"},
	{"spec.profilingConfig.config.hardware.max_num_gpus_per_engine was not set; set it to", "rapid search sweeps engines of up to"},
	// Short forms in messages.
	{"hardware.num_gpus_per_node", "hardware.numGpusPerNode"},
	{"sla.isl", "workload.isl"},
	{"sla.osl", "workload.osl"},
}

var hubReplacer = func() *strings.Replacer {
	var args []string
	for _, p := range hubPaths {
		args = append(args, p.from, p.to)
	}
	return strings.NewReplacer(args...)
}()

// HubPath is a message or a field path of the internal form in v1beta1's
// terms.
func HubPath(s string) string { return hubReplacer.Replace(s) }

// HubPaths maps every message.
func HubPaths(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = HubPath(w)
	}
	return out
}

func hubErrors(errs field.ErrorList) field.ErrorList {
	out := make(field.ErrorList, 0, len(errs))
	for _, e := range errs {
		c := *e
		c.Field = HubPath(c.Field)
		c.Detail = HubPath(c.Detail)
		out = append(out, &c)
	}
	return out
}

// ValidateAs validates the internal form d of a request written as v1beta1
// (hub, the object as written) or, with hub nil, as v1alpha1: the rules and
// messages of that version.
func ValidateAs(d *v1alpha1.DynamoGraphDeploymentRequest, hub *v1beta1.DynamoGraphDeploymentRequest) (warnings []string, errs field.ErrorList) {
	if hub == nil {
		return Validate(d)
	}
	ws, errs := ValidateInternal(d, true)
	return ws, append(errs, hubOnlyRules(hub)...)
}

// ValidateInternal validates an internal form with the rules and messages
// of v1beta1 (hub) or v1alpha1, without v1beta1's own-field rules (which
// need the v1beta1 object and ran at admission).
func ValidateInternal(d *v1alpha1.DynamoGraphDeploymentRequest, hub bool) (warnings []string, errs field.ErrorList) {
	if !hub {
		return Validate(d)
	}
	ws, errs := validate(d, v1beta1Rules)
	return HubPaths(ws), hubErrors(errs)
}

// HubPathsIf is HubPaths for a request written as v1beta1, else ws as is.
func HubPathsIf(hub bool, ws []string) []string {
	if !hub {
		return ws
	}
	return HubPaths(ws)
}
