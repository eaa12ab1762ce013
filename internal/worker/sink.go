package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// ConfigMapSink writes results to a ConfigMap owned by the DGDR. The
// plugin creates it empty before the Job, and the worker's Role allows only
// get and update on that one name; create is the fallback for a worker run
// on its own.
type ConfigMapSink struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	DGDRName  string
	DGDRUID   types.UID
	Labels    map[string]string
}

// Validate names the first missing field.
func (s *ConfigMapSink) Validate() error {
	switch {
	case s.Client == nil:
		return fmt.Errorf("no Kubernetes client: the measure container needs in-cluster config")
	case s.Namespace == "":
		return fmt.Errorf("namespace is empty: set %s (downward API metadata.namespace)", workerproto.EnvNamespace)
	case s.Name == "":
		return fmt.Errorf("result ConfigMap name is empty: set --configmap")
	case s.DGDRName == "" || s.DGDRUID == "":
		return fmt.Errorf("DGDR owner is incomplete (name %q, uid %q): set %s and %s", s.DGDRName, s.DGDRUID, workerproto.EnvDGDRName, workerproto.EnvDGDRUID)
	}
	return nil
}

// Write creates the ConfigMap or updates the existing one (a retried pod).
func (s *ConfigMapSink) Write(ctx context.Context, res *workerproto.Result) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	labels := map[string]string{v1alpha1.LabelDGDRName: s.DGDRName, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}
	for k, v := range s.Labels {
		labels[k] = v
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name, Namespace: s.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "DynamoGraphDeploymentRequest",
				Name: s.DGDRName, UID: s.DGDRUID,
			}},
		},
		Data: map[string]string{workerproto.ResultKey: string(b)},
	}
	cms := s.Client.CoreV1().ConfigMaps(s.Namespace)
	for range 5 { // conflicts: another attempt of this pod wrote meanwhile
		cur, err := cms.Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("creating ConfigMap %s/%s: %w", s.Namespace, s.Name, err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("reading ConfigMap %s/%s: %w", s.Namespace, s.Name, err)
		}
		// Keep the plugin's owner and labels; add ours.
		if len(cur.OwnerReferences) == 0 {
			cur.OwnerReferences = cm.OwnerReferences
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		maps.Copy(cur.Labels, labels)
		cur.Data = cm.Data
		_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("updating ConfigMap %s/%s: %w", s.Namespace, s.Name, err)
		}
		return nil
	}
	return fmt.Errorf("writing ConfigMap %s/%s: conflicts kept happening", s.Namespace, s.Name)
}

// WaitResult polls until the ConfigMap holds a result (ranks > 0 of a
// multi-node Job wait for rank 0's, then end their pod).
func (s *ConfigMapSink) WaitResult(ctx context.Context, poll time.Duration) error {
	return wait.PollUntilContextCancel(ctx, poll, true, func(ctx context.Context) (bool, error) {
		cm, err := s.Client.CoreV1().ConfigMaps(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			_, ok := cm.Data[workerproto.ResultKey]
			return ok, nil
		case apierrors.IsNotFound(err):
			return false, nil
		default:
			return false, fmt.Errorf("reading ConfigMap %s/%s: %w", s.Namespace, s.Name, err)
		}
	})
}
