package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

func gpuJob(name string, gpus int64) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "work", Image: "busybox",
					Resources: corev1.ResourceRequirements{
						Limits: corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(gpus, resource.DecimalSI)},
					},
				}},
			}},
		},
	}
}

// The full set schedules GPU Jobs on fake nodes: 2 GPUs fit an 8-GPU node and
// the Job completes; 16 GPUs fit nowhere and the pod stays Pending with the
// scheduler's reason. Afterwards no process is left.
func TestFullSetSchedulesGPUJobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Full: true, Nodes: H100Nodes(2)})
	if err != nil {
		t.Fatal(err)
	}
	pids := env.PIDs()
	t.Cleanup(func() { assertStopped(t, env, pids) })
	if len(pids) < 5 {
		t.Fatalf("want at least 5 processes (etcd, apiserver, KCM, scheduler, kwok), got %v", pids)
	}

	node, err := env.Client.CoreV1().Nodes().Get(ctx, "h100-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Labels["nvidia.com/gpu.product"] != "NVIDIA-H100-80GB-HBM3" || node.Status.Allocatable.Name("nvidia.com/gpu", resource.DecimalSI).Value() != 8 {
		t.Fatalf("fake node lacks GPU labels or capacity: %v %v", node.Labels, node.Status.Allocatable)
	}

	// A mixed cluster joins the same way, each node with its own product.
	mixed := MixedNodes()
	if err := env.CreateNodes(ctx, mixed...); err != nil {
		t.Fatal(err)
	}
	if err := env.waitNodesReady(ctx, mixed, time.Minute); err != nil {
		t.Fatal(err)
	}
	a100, err := env.Client.CoreV1().Nodes().Get(ctx, "a100-0", metav1.GetOptions{})
	if err != nil || a100.Labels["nvidia.com/gpu.product"] != "NVIDIA-A100-SXM4-80GB" || a100.Labels["nvidia.com/gpu.count"] != "4" {
		t.Fatalf("mixed-cluster node: %v %v", err, a100.Labels)
	}

	jobs := env.Client.BatchV1().Jobs("default")
	// The mixed nodes also have room for 2 GPUs: select the product, as a
	// profiling Job does, so the H100 placement is the scheduler's doing.
	fits := gpuJob("fits", 2)
	fits.Spec.Template.Spec.NodeSelector = map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
	if _, err := jobs.Create(ctx, fits, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Create(ctx, gpuJob("too-big", 16), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		j, err := jobs.Get(ctx, "fits", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 1, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("2-GPU Job did not complete: %v", err)
	}
	pods, err := env.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=fits"})
	if err != nil || len(pods.Items) != 1 || !strings.HasPrefix(pods.Items[0].Spec.NodeName, "h100-") {
		t.Fatalf("2-GPU pod not bound to a fake H100 node: %v %+v", err, pods)
	}

	var reason string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=too-big"})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		p := pods.Items[0]
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				reason = c.Message
				return p.Status.Phase == corev1.PodPending && p.Spec.NodeName == "", nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("16-GPU pod not reported unschedulable: %v", err)
	}
	if !strings.Contains(reason, "Insufficient nvidia.com/gpu") {
		t.Fatalf("scheduler reason = %q, want Insufficient nvidia.com/gpu", reason)
	}
	if !strings.Contains(reason, "0/4 nodes are available") { // h100-0 is in both sets
		t.Fatalf("scheduler reason = %q, want all 4 nodes considered", reason)
	}
}

// A start that fails halfway (a bad CRD after the apiserver is up) returns an
// error and leaves no process behind.
func TestFailedStartLeavesNothing(t *testing.T) {
	before := childPIDs(pidSelf())
	bad := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "broken.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com", Scope: "Namespaced",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "other", Kind: "Broken"}, // plural does not match the name
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}}},
		},
	}
	env, err := Start(context.Background(), Options{CRDs: []*apiextensionsv1.CustomResourceDefinition{bad}})
	if err == nil {
		_ = env.Stop()
		t.Fatal("want an error for an invalid CRD")
	}
	if env != nil {
		t.Fatal("a failed Start must not return an Env")
	}
	waitGone(t, before)
}

func assertStopped(t *testing.T, env *Env, pids []int) {
	t.Helper()
	if err := env.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if Alive(pid) {
			t.Errorf("process %d is still running after Stop", pid)
		}
	}
}

// waitGone checks that no child beyond those in before is alive.
func waitGone(t *testing.T, before []int) {
	t.Helper()
	old := map[int]bool{}
	for _, p := range before {
		old[p] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []int
		for _, p := range childPIDs(pidSelf()) {
			if !old[p] {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
