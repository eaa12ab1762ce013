package cluster

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// The plugin's v1alpha1 code reads and writes a v1beta1-stored DGDR:
// what it writes lands in v1beta1 fields (status.v1alpha1 included), and
// only metadata patches pass.
func TestHubClient(t *testing.T) {
	sch, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	stored := &v1beta1.DynamoGraphDeploymentRequest{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"},
		Spec: v1beta1.DynamoGraphDeploymentRequestSpec{Model: "Qwen/Qwen3-0.6B", Backend: "auto"}}
	raw := fake.NewClientBuilder().WithScheme(sch).WithObjects(stored).WithStatusSubresource(stored).Build()
	if WithServedVersion(raw, "v1alpha1") != client.WithWatch(raw) {
		t.Error("a cluster serving only v1alpha1 must get the client as it is")
	}
	c := WithServedVersion(raw, "v1beta1")
	if !ServesV1beta1(c) {
		t.Fatal("ServesV1beta1 = false")
	}
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "team", Name: "q"}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Get(ctx, key, &d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Model != "Qwen/Qwen3-0.6B" || d.Spec.Backend != "auto" || d.APIVersion != "nvidia.com/v1alpha1" {
		t.Fatalf("read = %+v", d)
	}
	d.Status.State, d.Status.Backend = v1alpha1.StateReady, "vllm"
	d.Status.Deployment = &v1alpha1.DeploymentStatus{Name: "q", State: "successful", Created: true}
	if err := c.Status().Update(ctx, &d); err != nil {
		t.Fatal(err)
	}
	var b v1beta1.DynamoGraphDeploymentRequest
	if err := raw.Get(ctx, key, &b); err != nil {
		t.Fatal(err)
	}
	if b.Status.Phase != v1beta1.PhaseDeployed || b.Status.DGDName != "q" || b.Status.V1alpha1 == nil || b.Status.V1alpha1.Backend != "vllm" ||
		b.Status.V1alpha1.Deployment == nil || b.Status.V1alpha1.Deployment.State != "successful" {
		t.Errorf("stored status = %+v", b.Status)
	}
	var list v1alpha1.DynamoGraphDeploymentRequestList
	if err := c.List(ctx, &list, client.InNamespace("team")); err != nil || len(list.Items) != 1 || list.Items[0].Status.Backend != "vllm" {
		t.Errorf("list = %+v, %v", list.Items, err)
	}
	if err := c.Patch(ctx, &d, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"a":"b"}}}`))); err != nil {
		t.Errorf("metadata patch: %v", err)
	}
	err = c.Patch(ctx, &d, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"model":"x"}}`)))
	if err == nil || !strings.Contains(err.Error(), "only metadata means the same in both versions") {
		t.Errorf("spec patch: %v", err)
	}
}
