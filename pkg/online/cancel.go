package online

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// CancelResult is what Cancel removed.
type CancelResult struct {
	Jobs          []string
	FailedResults []string
}

// Cancel deletes the DGDR's profiling Jobs (their pods go with them) and
// Services, and the result ConfigMaps of failed measurements so that the
// next run retries them; finished results are kept and reused
// (`kubectl dgdr profile NAME --cancel`).
func Cancel(ctx context.Context, c kubernetes.Interface, namespace, dgdrName string) (CancelResult, error) {
	var out CancelResult
	sel := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{v1alpha1.LabelDGDRName: dgdrName}).String()}
	bg := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	jl, err := c.BatchV1().Jobs(namespace).List(ctx, sel)
	if err != nil {
		return out, fmt.Errorf("listing the profiling Jobs of %s/%s: %w", namespace, dgdrName, err)
	}
	for _, j := range jl.Items {
		if err := c.BatchV1().Jobs(namespace).Delete(ctx, j.Name, bg); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("deleting job/%s: %w", j.Name, err)
		}
		out.Jobs = append(out.Jobs, j.Name)
		if err := c.CoreV1().Services(namespace).Delete(ctx, j.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("deleting service/%s: %w", j.Name, err)
		}
	}
	cl, err := c.CoreV1().ConfigMaps(namespace).List(ctx, sel)
	if err != nil {
		return out, fmt.Errorf("listing the result ConfigMaps of %s/%s: %w", namespace, dgdrName, err)
	}
	for i := range cl.Items {
		cm := &cl.Items[i]
		if _, ok := cm.Data[workerproto.ResultKey]; !ok {
			continue
		}
		if r, err := workerproto.ReadResult(cm); err == nil && r.Error == "" {
			continue
		}
		if err := c.CoreV1().ConfigMaps(namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("deleting configmap/%s: %w", cm.Name, err)
		}
		out.FailedResults = append(out.FailedResults, cm.Name)
	}
	return out, nil
}
