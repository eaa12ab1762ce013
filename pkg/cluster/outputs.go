package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/output"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// StoreOutputs renders config_with_planner.yaml, writes planner-profile-data
// (renamed on conflict) and dgdr-output-<name>, and returns the DGD for
// status.generatedDeployment.
func (c *Clients) StoreOutputs(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, r *results.Results, in output.Inputs, hw Hardware) (*runtime.RawExtension, error) {
	cwp, err := output.ConfigWithPlanner(r, in)
	if err != nil {
		return nil, err
	}
	docs, err := splitConfigWithPlanner(cwp)
	if err != nil {
		return nil, err
	}
	var mocker *plannerDocs
	var mockerYAML []byte
	if d.Spec.UseMocker {
		if mockerYAML, err = output.MockerConfigWithPlanner(r, in); err != nil {
			return nil, err
		}
		if mocker, err = splitConfigWithPlanner(mockerYAML); err != nil {
			return nil, err
		}
	}
	if docs.configMap != nil {
		data, err := output.PlannerProfileData(r)
		if err != nil {
			return nil, err
		}
		target := targetNamespace(d)
		cmName, err := c.ensurePlannerConfigMap(ctx, d, target, data)
		if err != nil {
			c.RecordEvent(ctx, d, nil, corev1.EventTypeWarning, EventConfigMapCreationFailed,
				"Failed to create ConfigMaps from profiling output: "+err.Error())
			return nil, err
		}
		if cmName != PlannerProfileData {
			for _, pd := range []*plannerDocs{docs, mocker} {
				if pd == nil {
					continue
				}
				renamePlannerVolume(pd.dgd, PlannerProfileData, cmName)
				if pd.configMap != nil {
					_ = setNested(pd.configMap, cmName, "metadata", "name")
				}
			}
			if cwp, err = joinDocs(docs.configMap, docs.dgd); err != nil {
				return nil, err
			}
			if mocker != nil {
				if mockerYAML, err = joinDocs(mocker.configMap, mocker.dgd); err != nil {
					return nil, err
				}
			}
		}
	}
	rj, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding results.json: %w", err)
	}
	hj, err := json.Marshal(hw)
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: OutputConfigMapName(d.Name), Namespace: d.Namespace,
			Labels:          map[string]string{v1alpha1.LabelDGDRName: d.Name, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{ownerRef(d)},
		},
		Data: map[string]string{KeyConfigWithPlanner: string(cwp), KeyResults: string(rj), KeyHardware: string(hj)},
	}
	if mocker != nil {
		cm.Data[KeyMockerConfigPlanner] = string(mockerYAML)
	}
	if err := c.createOrUpdateConfigMap(ctx, cm); err != nil {
		c.RecordEvent(ctx, d, nil, corev1.EventTypeWarning, EventConfigMapCreationFailed,
			"Failed to create ConfigMaps from profiling output: "+err.Error())
		return nil, err
	}
	chosen := docs.dgd
	if mocker != nil {
		chosen = mocker.dgd
	}
	raw, err := json.Marshal(chosen)
	if err != nil {
		return nil, fmt.Errorf("encoding the generated DGD: %w", err)
	}
	return &runtime.RawExtension{Raw: raw}, nil
}

func setNested(m map[string]any, v any, path ...string) error {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", p)
		}
		m = next
	}
	m[path[len(path)-1]] = v
	return nil
}

// MarkProfiled records the hash of the profiled spec (D19).
func (c *Clients) MarkProfiled(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest) error {
	b, err := json.Marshal(d.Spec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationProfiledHash, hex.EncodeToString(sum[:8]))
	obj := &v1alpha1.DynamoGraphDeploymentRequest{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace}}
	if err := c.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch)), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("recording annotation %s: %w", v1alpha1.AnnotationProfiledHash, err)
	}
	return nil
}

func targetNamespace(d *v1alpha1.DynamoGraphDeploymentRequest) string {
	if o := d.Spec.DeploymentOverrides; o != nil && o.Namespace != "" {
		return o.Namespace
	}
	return d.Namespace
}
