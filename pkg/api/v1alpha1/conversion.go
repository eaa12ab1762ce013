package v1alpha1

// Conversion between v1alpha1 and the hub, v1beta1.
//
// The versions hold the same request in different shapes: v1alpha1 keeps the
// SLA, workload, hardware, model cache, planner and search depth inside the
// free-form spec.profilingConfig.config, v1beta1 in typed fields. toHub and
// fromHub (conversion_fields.go) map one shape onto the other; what one side
// cannot hold travels in an annotation on the other side, as Kubernetes does
// for its own API versions:
//
//	on v1beta1 objects  nvidia.com/dgdr-v1alpha1-fields: the v1alpha1 spec and
//	                    status that v1beta1 cannot express (configMapRef,
//	                    outputPVC, deploymentOverrides, the config's other keys
//	                    and spellings, status.backend, state, ...)
//	on v1alpha1 objects nvidia.com/dgdr-v1beta1-fields: the v1beta1 spec and
//	                    status that v1alpha1 cannot express (overrides.dgd,
//	                    profilingPhase, the Pareto front, ...)
//
// Converting back starts from the mapped fields and restores the saved ones
// with a three-way merge: a field keeps its saved value when the mapped value
// did not change since it was saved, and takes the mapped value when it did
// (an edit made in the other version wins). So v1alpha1 → v1beta1 → v1alpha1
// and v1beta1 → v1alpha1 → v1beta1 give back every field, and an edit in
// either version survives. The annotation is written only when needed.
//
// Objects converted by upstream's operator carry its annotations
// (nvidia.com/dgdr-profiling-config and friends); they are read when ours is
// absent, so this CRD can replace upstream's.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// Annotations that carry the fields the other version cannot hold.
const (
	AnnotationV1alpha1Fields = "nvidia.com/dgdr-v1alpha1-fields"
	AnnotationV1beta1Fields  = "nvidia.com/dgdr-v1beta1-fields"
)

// Hub is the v1beta1 DGDR, the version every other one converts through.
type Hub = v1beta1.DynamoGraphDeploymentRequest

var _ conversion.Convertible = &DynamoGraphDeploymentRequest{}

// ConvertTo converts this v1alpha1 DGDR to the hub (v1beta1).
func (src *DynamoGraphDeploymentRequest) ConvertTo(dstRaw conversion.Hub) error {
	dst, ok := dstRaw.(*Hub)
	if !ok {
		return fmt.Errorf("converting DynamoGraphDeploymentRequest to %T: only nvidia.com/v1beta1 is a hub", dstRaw)
	}
	b, err := hubOf(src)
	if err != nil {
		return err
	}
	// Save what v1beta1 cannot hold: what a plain conversion back (after the
	// API server's defaulting) would not give again.
	back := b.DeepCopy()
	v1beta1.SetDefaults(back)
	check, err := spokeOf(back)
	if err != nil {
		return err
	}
	if !sameFields(spokeFields(check), spokeFields(src)) {
		saved, err := json.Marshal(trimSpoke(src))
		if err != nil {
			return fmt.Errorf("saving the v1alpha1 fields: %w", err)
		}
		setAnnotation(&b.ObjectMeta.Annotations, AnnotationV1alpha1Fields, string(saved))
	}
	*dst = *b
	return nil
}

// ConvertFrom converts the hub (v1beta1) to this v1alpha1 DGDR.
func (dst *DynamoGraphDeploymentRequest) ConvertFrom(srcRaw conversion.Hub) error {
	src, ok := srcRaw.(*Hub)
	if !ok {
		return fmt.Errorf("converting %T to DynamoGraphDeploymentRequest: only nvidia.com/v1beta1 is a hub", srcRaw)
	}
	a, err := spokeOf(src)
	if err != nil {
		return err
	}
	check, err := hubOf(a)
	if err != nil {
		return err
	}
	// The stored object carries the CRD's defaults; so will the check once stored.
	v1beta1.SetDefaults(check)
	if !sameFields(hubFields(check), hubFields(src)) {
		saved, err := json.Marshal(trimHub(src))
		if err != nil {
			return fmt.Errorf("saving the v1beta1 fields: %w", err)
		}
		setAnnotation(&a.ObjectMeta.Annotations, AnnotationV1beta1Fields, string(saved))
	}
	*dst = *a
	return nil
}

// savedHub is the part of a v1beta1 object kept on a v1alpha1 one.
type savedHub struct {
	Spec   v1beta1.DynamoGraphDeploymentRequestSpec   `json:"spec"`
	Status v1beta1.DynamoGraphDeploymentRequestStatus `json:"status,omitempty"`
}

// savedSpoke is the part of a v1alpha1 object kept on a v1beta1 one.
type savedSpoke struct {
	Spec   DynamoGraphDeploymentRequestSpec   `json:"spec"`
	Status DynamoGraphDeploymentRequestStatus `json:"status,omitempty"`
}

// trimHub drops the fields that map one to one, so the annotation holds
// only what would be lost (the merge treats a dropped field as changed).
func trimHub(b *Hub) savedHub {
	s := savedHub{Spec: *b.Spec.DeepCopy(), Status: *b.Status.DeepCopy()}
	s.Spec.Model, s.Spec.Image = "", ""
	s.Status.Conditions, s.Status.ObservedGeneration = nil, 0
	if s.Status.ProfilingResults != nil {
		s.Status.ProfilingResults.SelectedConfig = nil
	}
	return s
}

func trimSpoke(a *DynamoGraphDeploymentRequest) savedSpoke {
	s := savedSpoke{Spec: *a.Spec.DeepCopy(), Status: *a.Status.DeepCopy()}
	s.Spec.Model, s.Spec.ProfilingConfig.ProfilerImage = "", ""
	s.Status.Conditions, s.Status.ObservedGeneration, s.Status.GeneratedDeployment = nil, 0, nil
	return s
}

// hubOf is toHub plus the restore of the fields saved on a.
func hubOf(a *DynamoGraphDeploymentRequest) (*Hub, error) {
	saved, err := readSavedHub(a.Annotations)
	if err != nil {
		return nil, err
	}
	var tmpl *savedHub
	if saved != nil {
		tmpl = saved
	}
	b, err := toHub(a, tmpl)
	if err != nil {
		return nil, err
	}
	deleteAnnotation(&b.ObjectMeta.Annotations, AnnotationV1beta1Fields)
	if saved == nil {
		return b, nil
	}
	// What the spoke looked like when the hub was saved, mapped back.
	then, err := fromHub(&Hub{Spec: saved.Spec, Status: saved.Status}, nil)
	if err != nil {
		return nil, err
	}
	derived, err := toHub(then, tmpl)
	if err != nil {
		return nil, err
	}
	if _, err := merge3Into(saved.Spec, derived.Spec, b.Spec, &b.Spec); err != nil {
		return nil, err
	}
	if _, err := merge3Into(saved.Status, derived.Status, b.Status, &b.Status); err != nil {
		return nil, err
	}
	return b, nil
}

// spokeOf is fromHub plus the restore of the fields saved on b.
func spokeOf(b *Hub) (*DynamoGraphDeploymentRequest, error) {
	saved, err := readSavedSpoke(b.Annotations)
	if err != nil {
		return nil, err
	}
	var blob *apiextensionsv1.JSON
	if saved != nil {
		blob = saved.Spec.ProfilingConfig.Config
	}
	a, err := fromHub(b, blob)
	if err != nil {
		return nil, err
	}
	deleteAnnotation(&a.ObjectMeta.Annotations, AnnotationV1alpha1Fields)
	if saved == nil {
		up := upstreamSaved(b.Annotations)
		if up == nil {
			return a, nil
		}
		// Upstream's conversion kept these fields in annotations only: they
		// are the v1alpha1 values, whatever v1beta1 holds.
		if a, err = fromHub(b, up.Spec.ProfilingConfig.Config); err != nil {
			return nil, err
		}
		overlayUpstream(a, up)
		return a, nil
	}
	then, err := toHub(&DynamoGraphDeploymentRequest{Spec: saved.Spec, Status: saved.Status}, nil)
	if err != nil {
		return nil, err
	}
	v1beta1.SetDefaults(then) // the stored hub went through the API server's defaulting
	derived, err := fromHub(then, blob)
	if err != nil {
		return nil, err
	}
	if _, err := merge3Into(saved.Spec, derived.Spec, a.Spec, &a.Spec); err != nil {
		return nil, err
	}
	if _, err := merge3Into(saved.Status, derived.Status, a.Status, &a.Status); err != nil {
		return nil, err
	}
	return a, nil
}

func readSavedHub(ann map[string]string) (*savedHub, error) {
	raw, ok := ann[AnnotationV1beta1Fields]
	if !ok {
		return nil, nil
	}
	s := &savedHub{}
	if err := json.Unmarshal([]byte(raw), s); err != nil {
		return nil, fmt.Errorf("annotation %s is not the JSON this conversion writes (%v); remove it to convert from the v1alpha1 fields alone", AnnotationV1beta1Fields, err)
	}
	return s, nil
}

func readSavedSpoke(ann map[string]string) (*savedSpoke, error) {
	raw, ok := ann[AnnotationV1alpha1Fields]
	if !ok {
		return nil, nil
	}
	s := &savedSpoke{}
	if err := json.Unmarshal([]byte(raw), s); err != nil {
		return nil, fmt.Errorf("annotation %s is not the JSON this conversion writes (%v); remove it to convert from the v1beta1 fields alone", AnnotationV1alpha1Fields, err)
	}
	return s, nil
}

// Upstream's annotations for the v1alpha1 fields v1beta1 lacks.
const (
	upstreamProfilingConfig = "nvidia.com/dgdr-profiling-config"
	upstreamConfigMapRef    = "nvidia.com/dgdr-config-map-ref"
	upstreamOutputPVC       = "nvidia.com/dgdr-output-pvc"
	upstreamGPUDiscovery    = "nvidia.com/dgdr-enable-gpu-discovery"
	upstreamOverrides       = "nvidia.com/dgdr-deployment-overrides"
	upstreamStatusBackend   = "nvidia.com/dgdr-status-backend"
	upstreamResults         = "nvidia.com/dgdr-profiling-results"
	upstreamDeployment      = "nvidia.com/dgdr-deployment-status"
)

// upstreamSaved reads the annotations upstream's conversion writes, for
// objects it stored; nil when there are none. A value that does not parse
// is skipped: upstream wrote it best-effort too.
func upstreamSaved(ann map[string]string) *savedSpoke {
	s := &savedSpoke{}
	found := false
	if v, ok := ann[upstreamProfilingConfig]; ok && json.Valid([]byte(v)) {
		s.Spec.ProfilingConfig.Config = &apiextensionsv1.JSON{Raw: []byte(v)}
		found = true
	}
	if v, ok := ann[upstreamConfigMapRef]; ok {
		ref := &ConfigMapKeySelector{}
		if json.Unmarshal([]byte(v), ref) == nil {
			s.Spec.ProfilingConfig.ConfigMapRef, found = ref, true
		}
	}
	if v, ok := ann[upstreamOutputPVC]; ok {
		s.Spec.ProfilingConfig.OutputPVC, found = v, true
	}
	if v, ok := ann[upstreamGPUDiscovery]; ok {
		on := v == "true"
		s.Spec.EnableGpuDiscovery, found = &on, true
	}
	if v, ok := ann[upstreamOverrides]; ok {
		o := &DeploymentOverridesSpec{}
		if json.Unmarshal([]byte(v), o) == nil {
			s.Spec.DeploymentOverrides, found = o, true
		}
	}
	if v, ok := ann[upstreamStatusBackend]; ok {
		s.Status.Backend, found = v, true
	}
	if v, ok := ann[upstreamResults]; ok {
		s.Status.ProfilingResults, found = v, true
	}
	if v, ok := ann[upstreamDeployment]; ok {
		d := &DeploymentStatus{}
		if json.Unmarshal([]byte(v), d) == nil {
			s.Status.Deployment, found = d, true
		}
	}
	if !found {
		return nil
	}
	return s
}

// overlayUpstream sets the fields upstream's annotations hold.
func overlayUpstream(a *DynamoGraphDeploymentRequest, up *savedSpoke) {
	pc, upc := &a.Spec.ProfilingConfig, up.Spec.ProfilingConfig
	if upc.ConfigMapRef != nil {
		pc.ConfigMapRef = upc.ConfigMapRef
	}
	if upc.OutputPVC != "" {
		pc.OutputPVC = upc.OutputPVC
	}
	if up.Spec.EnableGpuDiscovery != nil {
		a.Spec.EnableGpuDiscovery = up.Spec.EnableGpuDiscovery
	}
	if o := up.Spec.DeploymentOverrides; o != nil {
		a.Spec.DeploymentOverrides = o
	}
	if up.Status.Backend != "" {
		a.Status.Backend = up.Status.Backend
	}
	if up.Status.ProfilingResults != "" {
		a.Status.ProfilingResults = up.Status.ProfilingResults
	}
	if d := up.Status.Deployment; d != nil {
		if a.Status.Deployment != nil && d.Name == "" {
			d.Name = a.Status.Deployment.Name
		}
		a.Status.Deployment = d
	}
}

// hubFields and spokeFields are what the losslessness checks compare.
func hubFields(b *Hub) any {
	return savedHub{Spec: b.Spec, Status: b.Status}
}

func spokeFields(a *DynamoGraphDeploymentRequest) any {
	return savedSpoke{Spec: a.Spec, Status: a.Status}
}

// sameFields compares two values by their JSON form, numbers as written.
func sameFields(x, y any) bool {
	a, errA := toJSONValue(x)
	b, errB := toJSONValue(y)
	return errA == nil && errB == nil && reflect.DeepEqual(a, b)
}

func setAnnotation(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

func deleteAnnotation(m *map[string]string, k string) {
	if *m == nil {
		return
	}
	delete(*m, k)
	if len(*m) == 0 {
		*m = nil
	}
}

// absent marks a missing member in merge3.
type absentT struct{}

var absent = absentT{}

// merge3 restores saved where current equals derived (nothing changed since
// saving) and keeps current where it differs, member by member in objects.
func merge3(saved, derived, current any) any {
	if reflect.DeepEqual(derived, current) {
		return saved
	}
	cm, cok := current.(map[string]any)
	sm, sok := objectOrAbsent(saved)
	dm, dok := objectOrAbsent(derived)
	if !sok || !dok || !cok {
		return current
	}
	out := map[string]any{}
	keys := map[string]bool{}
	for _, m := range []map[string]any{sm, dm, cm} {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		v := merge3(member(sm, k), member(dm, k), member(cm, k))
		if v != absent {
			out[k] = v
		}
	}
	return out
}

// objectOrAbsent reads a missing member as an empty object, so a member
// that exists on one side only is still merged key by key.
func objectOrAbsent(v any) (map[string]any, bool) {
	if v == absent {
		return map[string]any{}, true
	}
	m, ok := v.(map[string]any)
	return m, ok
}

func member(m map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	return absent
}

// merge3Into merges the JSON forms of saved, derived and current and decodes
// the result into out (current's type).
func merge3Into(saved, derived, current, out any) (any, error) {
	var vals [3]any
	for i, x := range []any{saved, derived, current} {
		v, err := toJSONValue(x)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	merged := merge3(vals[0], vals[1], vals[2])
	if merged == absent {
		merged = map[string]any{}
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	// Reset out first: decoding into a filled struct would keep fields the
	// merge dropped.
	rv := reflect.ValueOf(out).Elem()
	rv.Set(reflect.Zero(rv.Type()))
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("restoring the saved fields: %w", err)
	}
	return merged, nil
}

// toJSONValue is x as decoded JSON, numbers kept as written.
func toJSONValue(x any) (any, error) {
	raw, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return decodeJSON(raw)
}

func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
