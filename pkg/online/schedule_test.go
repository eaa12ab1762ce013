package online

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

func gpuNode(name string, gpus int64, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pool": "gpu"}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func gpuPod(node string, phase corev1.PodPhase, sidecar, regular int64) corev1.Pod {
	// As the API server stores them: an extended resource's request
	// defaults to its limit.
	q := func(n int64) corev1.ResourceRequirements {
		l := corev1.ResourceList{GPUResource: *resource.NewQuantity(n, resource.DecimalSI)}
		return corev1.ResourceRequirements{Limits: l, Requests: l}
	}
	return corev1.Pod{
		Spec: corev1.PodSpec{NodeName: node,
			InitContainers: []corev1.Container{{Name: "engine", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), Resources: q(sidecar)}},
			Containers:     []corev1.Container{{Name: "measure", Resources: q(regular)}}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func TestFreeGPUs(t *testing.T) {
	taint := corev1.Taint{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}
	nodes := []corev1.Node{gpuNode("a", 8), gpuNode("b", 8), gpuNode("tainted", 8, taint)}
	pods := []corev1.Pod{
		gpuPod("a", corev1.PodRunning, 2, 1), // sidecar + regular: 3
		gpuPod("a", corev1.PodSucceeded, 4, 0),
		gpuPod("b", corev1.PodPending, 8, 0),
		gpuPod("", corev1.PodPending, 8, 0), // not bound: holds nothing yet
	}
	free := FreeGPUs(nodes, pods, nil, nil)
	if free["a"] != 5 || free["b"] != 0 || len(free) != 2 {
		t.Fatalf("free = %v, want a:5 b:0 and no tainted node", free)
	}
	tol := []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	if free := FreeGPUs(nodes, nil, map[string]string{"pool": "gpu"}, tol); free["tainted"] != 8 {
		t.Fatalf("a tolerated taint leaves the node usable: %v", free)
	}
	if free := FreeGPUs(nodes, nil, map[string]string{"pool": "cpu"}, nil); len(free) != 0 {
		t.Fatalf("nodeSelector must exclude nodes: %v", free)
	}
	soft := gpuNode("soft", 4, corev1.Taint{Key: "busy", Effect: corev1.TaintEffectPreferNoSchedule})
	if free := FreeGPUs([]corev1.Node{soft}, nil, nil, nil); free["soft"] != 4 {
		t.Fatalf("a PreferNoSchedule taint keeps no pod off: %v", free)
	}
	all := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	if free := FreeGPUs(nodes, nil, nil, all); free["tainted"] != 8 {
		t.Fatalf("an empty-key Exists toleration tolerates every taint: %v", free)
	}
	// A plain init container needing more than the rest sets the request.
	big := gpuPod("a", corev1.PodRunning, 1, 1)
	big.Spec.InitContainers = append(big.Spec.InitContainers, corev1.Container{Name: "warmup",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{GPUResource: *resource.NewQuantity(6, resource.DecimalSI)}}})
	if got := PodGPUs(&big); got != 7 {
		t.Fatalf("PodGPUs = %d, want 7 (the sidecar started before the 6-GPU init container)", got)
	}
}

func TestFitBestFitAndMultiNode(t *testing.T) {
	free := map[string]int64{"a": 3, "b": 8, "c": 2}
	if got := fit(free, 1, 2); len(got) != 1 || got[0] != "c" {
		t.Fatalf("best fit for 2 GPUs = %v, want [c]", got)
	}
	if got := fit(free, 2, 8); got != nil {
		t.Fatalf("two 8-GPU pods fit on %v, only one node has 8 free", got)
	}
	if got := fit(map[string]int64{"a": 8, "b": 8}, 2, 8); len(got) != 2 {
		t.Fatalf("a 16-GPU engine on 2 × 8 = %v", got)
	}
}

func TestOptionsErrorsNameTheField(t *testing.T) {
	_, err := New(Options{})
	if err == nil || !strings.Contains(err.Error(), "Client") {
		t.Fatalf("want an error naming Client, got %v", err)
	}
}

func TestTaskHashIgnoresPort(t *testing.T) {
	m := &Measurer{opts: Options{Template: mockerTemplate()}}
	m.opts.DGDR = createFakeDGDR()
	cfg, _ := smallCase.config(t)
	a := m.newTask("prefill", results.Mapping{Kind: "TP", N: 2}, []int{1000}, 0, 0, cfg)
	m.opts.EnginePort = func(string) int { return 9999 }
	b := m.newTask("prefill", results.Mapping{Kind: "TP", N: 2}, []int{1000}, 0, 0, cfg)
	c := m.newTask("prefill", results.Mapping{Kind: "TP", N: 2}, []int{2000}, 0, 0, cfg)
	if a.hash != b.hash || a.hash == c.hash {
		t.Fatalf("hash must ignore the port and follow the ISLs: %s %s %s", a.hash, b.hash, c.hash)
	}
}

func createFakeDGDR() *v1alpha1.DynamoGraphDeploymentRequest {
	return &v1alpha1.DynamoGraphDeploymentRequest{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", UID: "u"}}
}

// The mocker at --time-scale 0.25 runs 4× fast: the measurer reports its
// TTFT and ITL 4× longer and its throughput 4× lower, in the simulated
// engine's clock. The fidelity e2e runs in real time (scale 1), where a
// measurer that forgot the scale would pass; this test holds the rule.
func TestMeasurerUndoesTheTimeScale(t *testing.T) {
	m := &Measurer{opts: Options{Template: mockerTemplate(), DGDR: createFakeDGDR()}, tasks: map[string]*task{}}
	cfg, _ := smallCase.config(t)
	tp1 := results.Mapping{Kind: "TP", N: 1}
	pf := m.newTask(jobs.PhasePrefill, tp1, []int{1000}, 0, 0, cfg)
	pf.result = &workerproto.Result{Prefill: []workerproto.PrefillPoint{{ISL: 1000, TTFTMs: 2}}}
	dc := m.newTask(jobs.PhaseDecode, tp1, []int{1000}, 100, 2, cfg)
	dc.result = &workerproto.Result{MaxKVTokens: 7000, Decode: []workerproto.DecodePoint{{ISL: 1000, OSL: 100, Concurrency: 8, ITLMs: 1, ThptPerGPU: 8000}}}
	m.tasks[pf.name], m.tasks[dc.name] = pf, dc
	ctx := context.Background()
	if ttft, err := m.PrefillTTFT(ctx, tp1, 1000); err != nil || ttft != 8 {
		t.Errorf("TTFT %v (%v), want 2 ms × 4 = 8", ttft, err)
	}
	if d, err := m.Decode(ctx, tp1, 1000, 100, 8); err != nil || d.ITLMs != 4 || d.ThptPerGPU != 2000 {
		t.Errorf("decode %+v (%v), want ITL 1 ms × 4 = 4 and 8000 tokens/s ÷ 4 = 2000", d, err)
	}
	tmpl := mockerTemplate()
	tmpl.Mocker.TimeScale = 1
	m.opts.Template = tmpl
	if ttft, _ := m.PrefillTTFT(ctx, tp1, 1000); ttft != 2 {
		t.Errorf("TTFT %v at scale 1, want the measured 2 ms", ttft)
	}
}
