package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	"sigs.k8s.io/kwok/kustomize/stage/node/heartbeat"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// GPUNode describes a fake node that kwok keeps Ready.
type GPUNode struct {
	Name      string
	Product   string // nvidia.com/gpu.product, e.g. NVIDIA-H100-80GB-HBM3
	MemoryMiB int    // nvidia.com/gpu.memory
	GPUs      int    // nvidia.com/gpu.count and allocatable nvidia.com/gpu
}

// H100Nodes returns n nodes of 8 × H100 80GB.
func H100Nodes(n int) []GPUNode {
	nodes := make([]GPUNode, n)
	for i := range nodes {
		nodes[i] = GPUNode{Name: fmt.Sprintf("h100-%d", i), Product: "NVIDIA-H100-80GB-HBM3", MemoryMiB: 81559, GPUs: 8}
	}
	return nodes
}

// MixedNodes is a cluster of one 8 × H200 node, one 8 × H100 node and one
// 4 × A100 node.
func MixedNodes() []GPUNode {
	return []GPUNode{
		{Name: "h200-0", Product: "NVIDIA-H200", MemoryMiB: 143771, GPUs: 8},
		{Name: "h100-0", Product: "NVIDIA-H100-80GB-HBM3", MemoryMiB: 81559, GPUs: 8},
		{Name: "a100-0", Product: "NVIDIA-A100-SXM4-80GB", MemoryMiB: 81920, GPUs: 4},
	}
}

// DefaultKwokStages are kwok's own fast stages: nodes become Ready and stay
// so; pods become Running, Job-owned pods complete, deleted pods go away.
func DefaultKwokStages() string {
	return strings.Join([]string{
		nodefast.DefaultNodeInit, heartbeat.DefaultNodeHeartbeat,
		podfast.DefaultPodReady, podfast.DefaultPodComplete, podfast.DefaultPodDelete,
	}, "\n---\n")
}

func (e *Env) startFullSet(ctx context.Context, bin string, opts Options, timeout time.Duration) error {
	k := e.Kubeconfig
	kcmPort, err := freePort()
	if err != nil {
		return err
	}
	kcm, err := startProcess("kube-controller-manager", filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+k, "--authentication-kubeconfig="+k, "--authorization-kubeconfig="+k,
		// job: creates pods; garbage-collector: ownerReferences cascade;
		// node-lifecycle: removes the not-ready taint every new Node gets.
		"--controllers=job-controller,garbage-collector-controller,node-lifecycle-controller",
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--node-monitor-grace-period=40s", "--concurrent-gc-syncs=5")
	if err != nil {
		return err
	}
	e.procs = append(e.procs, kcm)

	schedPort, err := freePort()
	if err != nil {
		return err
	}
	sched, err := startProcess("kube-scheduler", filepath.Join(bin, "kube-scheduler"),
		"--kubeconfig="+k, "--authentication-kubeconfig="+k, "--authorization-kubeconfig="+k,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort))
	if err != nil {
		return err
	}
	e.procs = append(e.procs, sched)

	stages := opts.KwokStages
	if stages == "" {
		stages = DefaultKwokStages()
	}
	stagePath := filepath.Join(e.dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagePath, []byte(stages), 0o600); err != nil {
		return err
	}
	kwok, err := startProcess("kwok", filepath.Join(bin, "kwok"),
		"--kubeconfig="+k, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-port=0", "--server-address=", "--cidr=10.0.0.0/24", "--node-ip=10.0.0.1",
		"--config="+stagePath)
	if err != nil {
		return err
	}
	e.procs = append(e.procs, kwok)

	if err := e.CreateNodes(ctx, opts.Nodes...); err != nil {
		return err
	}
	return e.waitNodesReady(ctx, opts.Nodes, timeout)
}

// CreateNodes creates fake GPU nodes managed by kwok.
func (e *Env) CreateNodes(ctx context.Context, nodes ...GPUNode) error {
	for _, n := range nodes {
		res := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("128"),
			corev1.ResourceMemory: resource.MustParse("1Ti"),
			// Without pods, the scheduler says "Too many pods".
			corev1.ResourcePods:                   resource.MustParse("110"),
			corev1.ResourceName("nvidia.com/gpu"): *resource.NewQuantity(int64(n.GPUs), resource.DecimalSI),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        n.Name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
				Labels: map[string]string{
					"type":                   "kwok",
					"kubernetes.io/hostname": n.Name,
					"nvidia.com/gpu.product": n.Product,
					"nvidia.com/gpu.memory":  strconv.Itoa(n.MemoryMiB),
					"nvidia.com/gpu.count":   strconv.Itoa(n.GPUs),
				},
			},
			Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
		}
		if _, err := e.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating fake node %s: %w", n.Name, err)
		}
	}
	return nil
}

// waitNodesReady waits until every node is Ready and untainted, so pods can
// be scheduled.
func (e *Env) waitNodesReady(ctx context.Context, nodes []GPUNode, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range e.procs {
			if p.exited() {
				return false, fmt.Errorf("%s exited early: %s", p.name, p.tail())
			}
		}
		for _, n := range nodes {
			node, err := e.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if len(node.Spec.Taints) > 0 || !nodeReady(node) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for fake nodes to become Ready: %w", err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
