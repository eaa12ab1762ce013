package cluster

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/clustertest"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

func TestPickGPUs(t *testing.T) {
	cases := map[string]struct {
		nodes []corev1.Node
		want  Hardware
	}{
		"highest count then memory wins": {
			nodes: []corev1.Node{*clustertest.GPUNode("a", "NVIDIA-A100-SXM4-80GB", 81920, 4), *clustertest.GPUNode("b", "NVIDIA-H100-80GB-HBM3", 81559, 8),
				*clustertest.GPUNode("c", "NVIDIA-H200", 143771, 8), *clustertest.GPUNode("cpu", "", 0, 0)},
			want: Hardware{Product: "NVIDIA-H200", MemoryMiB: 143771, GPUsPerNode: 8, System: "h200_sxm", Nodes: 1, TotalGPUs: 8, NodesChecked: 4},
		},
		"MIG skipped, group counted": {
			nodes: []corev1.Node{*clustertest.GPUNode("m", "NVIDIA-A100-MIG-1g.10gb", 10000, 16), *clustertest.GPUNode("h0", "NVIDIA-H100-80GB-HBM3", 81559, 8), *clustertest.GPUNode("h1", "NVIDIA-H100-80GB-HBM3", 81559, 8)},
			want:  Hardware{Product: "NVIDIA-H100-80GB-HBM3", MemoryMiB: 81559, GPUsPerNode: 8, System: "h100_sxm", Nodes: 2, TotalGPUs: 16, NodesChecked: 3},
		},
		"none": {nodes: []corev1.Node{*clustertest.GPUNode("cpu", "", 0, 0)}, want: Hardware{NodesChecked: 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := PickGPUs(tc.nodes); got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// The count label wins over allocatable, read leniently.
	n := clustertest.GPUNode("x", "NVIDIA-H100-PCIe", 81559, 2)
	n.Labels[LabelGPUCount] = "4 GPUs"
	if h := PickGPUs([]corev1.Node{*n}); h.GPUsPerNode != 4 || h.System != "h100_pcie" {
		t.Fatalf("count label or PCIe id not honoured: %+v", h)
	}
	if got := SystemForProduct("NVIDIA-A100-SXM4-40GB", 40960); got != "a100_sxm_40gb" {
		t.Fatalf("A100 40GB = %q", got)
	}
}

func newFake(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) (client.WithWatch, *Clients) {
	c := clustertest.Client(t, funcs, objs...)
	return c, &Clients{Client: c, Clock: clocktesting.NewFakePassiveClock(clustertest.Now)}
}

// BuildDGD applies the overrides and keeps the managed labels on top.
func TestBuildDGD(t *testing.T) {
	d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
	d.Status.State = v1alpha1.StateReady
	d.Status.GeneratedDeployment = rawDGD(t)
	d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{Name: "serve", Namespace: "prod",
		Labels: map[string]string{"team": "a", v1alpha1.LabelDGDRName: "hijack"}, Annotations: map[string]string{"note": "x"}, WorkersImage: "img:2"}
	u, err := BuildDGD(d)
	if err != nil {
		t.Fatal(err)
	}
	if u.GetName() != "serve" || u.GetNamespace() != "prod" || u.GetLabels()["team"] != "a" ||
		u.GetLabels()[v1alpha1.LabelDGDRName] != d.Name || u.GetLabels()[v1alpha1.LabelDGDRNamespace] != "team" || u.GetAnnotations()["note"] != "x" {
		t.Fatalf("metadata = %+v", u.Object["metadata"])
	}
	img, _, _ := nestedString(u.Object, "spec", "services", "VllmDecodeWorker", "extraPodSpec", "mainContainer", "image")
	if img != "img:2" {
		t.Fatalf("workersImage not applied: %q", img)
	}
	if _, ok := u.Object["status"]; ok {
		t.Fatal("status must not be applied")
	}
}

func rawDGD(t *testing.T) *runtimeRaw {
	t.Helper()
	return &runtimeRaw{Raw: []byte(`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeployment","metadata":{"name":"gen","labels":{"g":"1"},"resourceVersion":"5"},
"spec":{"services":{"VllmDecodeWorker":{"replicas":1,"extraPodSpec":{"mainContainer":{"image":"img:1"}}}}},"status":{"state":"x"}}`)}
}

// apply --wait wakes on the DGD's watch events: with an hour between polls
// it still sees the DGD turn successful and marks the DGDR Ready.
func TestWaitDGDFollowsWatchEvents(t *testing.T) {
	d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
	d.Status.State = v1alpha1.StateDeploying
	g := newDGD()
	g.SetName("gen")
	g.SetNamespace(d.Namespace)
	if err := unstructured.SetNestedField(g.Object, "pending", "status", "state"); err != nil {
		t.Fatal(err)
	}
	c, cl := newFake(t, nil, d, g)
	ctx := context.Background()
	go func() {
		time.Sleep(200 * time.Millisecond)
		cur := newDGD()
		if err := c.Get(ctx, client.ObjectKeyFromObject(g), cur); err != nil {
			t.Error(err)
			return
		}
		_ = unstructured.SetNestedField(cur.Object, "successful", "status", "state")
		if err := c.Update(ctx, cur); err != nil {
			t.Error(err)
		}
	}()
	var out bytes.Buffer
	res := &ApplyResult{DGDState: "pending"}
	err := cl.waitDGD(ctx, client.ObjectKeyFromObject(d), g, ApplyOptions{Out: &out, Timeout: 20 * time.Second, PollInterval: time.Hour}, res)
	if err != nil || !res.Ready || !strings.Contains(out.String(), "state successful") {
		t.Fatalf("waitDGD = %v, ready %v\n%s", err, res.Ready, out.String())
	}
	var got v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil || got.Status.State != v1alpha1.StateReady {
		t.Fatalf("DGDR state %q (%v), want Ready", got.Status.State, err)
	}
}
