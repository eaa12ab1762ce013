package cluster

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/output"
)

// ownerRef makes the DGDR the controller owner, so the garbage collector
// removes the object with the DGDR. BlockOwnerDeletion stays unset: it would
// need update rights on the DGDR's finalizers.
func ownerRef(d *v1alpha1.DynamoGraphDeploymentRequest) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.DGDRKind,
		Name: d.Name, UID: d.UID, Controller: ptr.To(true),
	}
}

// Documents of config_with_planner.yaml (§8.3).
type plannerDocs struct {
	configMap map[string]any // nil when the planner has no data
	dgd       map[string]any
}

// splitConfigWithPlanner reads the multi-document YAML. More than one DGD
// document is an error (D15), never "last one wins".
func splitConfigWithPlanner(data []byte) (*plannerDocs, error) {
	out := &plannerDocs{}
	n := 0
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		doc = bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---"))
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("failed to extract DGD from %s: %w", KeyConfigWithPlanner, err)
		}
		switch m["kind"] {
		case v1alpha1.DGDKind:
			out.dgd = m
			n++
		case "ConfigMap":
			out.configMap = m
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no DynamoGraphDeployment found in YAML content of %s", KeyConfigWithPlanner)
	}
	if n > 1 {
		return nil, fmt.Errorf("%s contains %d DynamoGraphDeployment documents; expected 1", KeyConfigWithPlanner, n)
	}
	return out, nil
}

// renamePlannerVolume points every configMap volume named from at to.
func renamePlannerVolume(dgdDoc map[string]any, from, to string) error {
	services, _, _ := unstructured.NestedMap(dgdDoc, "spec", "services")
	for name := range services {
		vols, ok, _ := unstructured.NestedSlice(dgdDoc, "spec", "services", name, "extraPodSpec", "volumes")
		if !ok {
			continue
		}
		for _, v := range vols {
			vm, _ := v.(map[string]any)
			if cm, ok := vm["configMap"].(map[string]any); ok && cm["name"] == from {
				cm["name"] = to
			}
		}
		if err := unstructured.SetNestedSlice(dgdDoc, vols, "spec", "services", name, "extraPodSpec", "volumes"); err != nil {
			return fmt.Errorf("renaming the %s volume of service %s: %w", from, name, err)
		}
	}
	return nil
}

func joinDocs(docs ...map[string]any) ([]byte, error) {
	var parts [][]byte
	for _, d := range docs {
		if d == nil {
			continue
		}
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		parts = append(parts, b)
	}
	return bytes.Join(parts, []byte("---\n")), nil
}

// ensurePlannerConfigMap writes planner-profile-data into the target
// namespace (§8.5): create or update our own; if another DGDR owns that name,
// use planner-profile-data-<dgdr>. It returns the name used.
func (c *Clients) ensurePlannerConfigMap(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, namespace string, data map[string]string) (string, error) {
	name := PlannerProfileData
	var existing corev1.ConfigMap
	err := c.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &existing)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("reading ConfigMap %s/%s: %w", namespace, name, err)
	case !ownedByDGDR(existing.Labels, d):
		name = PlannerProfileData + "-" + d.Name
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
		v1alpha1.LabelDGDRName: d.Name, v1alpha1.LabelDGDRNamespace: d.Namespace, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
	}}, Data: data}
	if namespace == d.Namespace {
		cm.OwnerReferences = []metav1.OwnerReference{ownerRef(d)}
	}
	return name, c.createOrUpdateConfigMap(ctx, cm)
}

func ownedByDGDR(labels map[string]string, d *v1alpha1.DynamoGraphDeploymentRequest) bool {
	return labels[v1alpha1.LabelDGDRName] == d.Name && labels[v1alpha1.LabelDGDRNamespace] == d.Namespace
}

// createOrUpdateConfigMap replaces the data, labels and owners of cm.
func (c *Clients) createOrUpdateConfigMap(ctx context.Context, cm *corev1.ConfigMap) error {
	err := c.Client.Create(ctx, cm, client.FieldOwner(FieldManager))
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		return nil
	}
	var cur corev1.ConfigMap
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(cm), &cur); err != nil {
		return fmt.Errorf("reading ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	cur.Labels, cur.OwnerReferences, cur.Data, cur.BinaryData = cm.Labels, cm.OwnerReferences, cm.Data, nil
	if err := c.Client.Update(ctx, &cur, client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("updating ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return nil
}

// DeleteOutput removes a previous dgdr-output-<name> (§7.4, Pending → Profiling).
func (c *Clients) DeleteOutput(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: OutputConfigMapName(d.Name), Namespace: d.Namespace}}
	if err := c.Client.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the previous output ConfigMap %s/%s: %w", d.Namespace, cm.Name, err)
	}
	return nil
}

// OutputData is what dgdr-output-<name> holds, decoded.
type OutputData struct {
	ConfigWithPlanner []byte
	ResultsJSON       []byte
	Hardware          *Hardware
}

// ReadOutput reads dgdr-output-<name>; a missing ConfigMap is an error that
// says profiling may not have completed.
func ReadOutput(ctx context.Context, c client.Client, namespace, name string) (*OutputData, error) {
	var cm corev1.ConfigMap
	cmName := OutputConfigMapName(name)
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: cmName}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("output ConfigMap %s not found - profiling may not have completed yet", cmName)
		}
		return nil, err
	}
	out := &OutputData{ConfigWithPlanner: []byte(cm.Data[KeyConfigWithPlanner]), ResultsJSON: []byte(cm.Data[KeyResults])}
	if h := cm.Data[KeyHardware]; strings.TrimSpace(h) != "" {
		var hw Hardware
		if err := json.Unmarshal([]byte(h), &hw); err == nil {
			out.Hardware = &hw
		}
	}
	return out, nil
}

// Recipe reads the base DGD of spec.profilingConfig.configMapRef from the
// DGDR's namespace (§6.2); nil without a configMapRef.
func (c *Clients) Recipe(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest) (*output.Recipe, error) {
	ref := d.Spec.ProfilingConfig.ConfigMapRef
	if ref == nil {
		return nil, nil
	}
	var cm corev1.ConfigMap
	err := c.Client.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: ref.Name}, &cm)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("ConfigMap %s not found in namespace %s; create it with the base DynamoGraphDeployment under key %s, or remove spec.profilingConfig.configMapRef",
			ref.Name, d.Namespace, cmp.Or(ref.Key, "disagg.yaml"))
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s (spec.profilingConfig.configMapRef): %w", d.Namespace, ref.Name, err)
	}
	return output.RecipeFromConfigMap(&cm, cmp.Or(ref.Key, "disagg.yaml"))
}
