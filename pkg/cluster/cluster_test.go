package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

func gpuNode(name, product string, mem, count int) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if product != "" {
		n.Labels[LabelGPUProduct] = product
	}
	if mem > 0 {
		n.Labels[LabelGPUMemory] = itoa(mem)
	}
	n.Status.Allocatable = corev1.ResourceList{ResourceGPU: *resource.NewQuantity(int64(count), resource.DecimalSI)}
	return n
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestPickGPUs(t *testing.T) {
	cases := map[string]struct {
		nodes []corev1.Node
		want  Hardware
	}{
		"highest count then memory wins": {
			nodes: []corev1.Node{*gpuNode("a", "NVIDIA-A100-SXM4-80GB", 81920, 4), *gpuNode("b", "NVIDIA-H100-80GB-HBM3", 81559, 8),
				*gpuNode("c", "NVIDIA-H200", 143771, 8), *gpuNode("cpu", "", 0, 0)},
			want: Hardware{Product: "NVIDIA-H200", MemoryMiB: 143771, GPUsPerNode: 8, System: "h200_sxm", Nodes: 1, TotalGPUs: 8, NodesChecked: 4},
		},
		"MIG skipped, group counted": {
			nodes: []corev1.Node{*gpuNode("m", "NVIDIA-A100-MIG-1g.10gb", 10000, 16), *gpuNode("h0", "NVIDIA-H100-80GB-HBM3", 81559, 8), *gpuNode("h1", "NVIDIA-H100-80GB-HBM3", 81559, 8)},
			want:  Hardware{Product: "NVIDIA-H100-80GB-HBM3", MemoryMiB: 81559, GPUsPerNode: 8, System: "h100_sxm", Nodes: 2, TotalGPUs: 16, NodesChecked: 3},
		},
		"none": {nodes: []corev1.Node{*gpuNode("cpu", "", 0, 0)}, want: Hardware{NodesChecked: 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := PickGPUs(tc.nodes); got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// The count label wins over allocatable, read leniently.
	n := gpuNode("x", "NVIDIA-H100-PCIe", 81559, 2)
	n.Labels[LabelGPUCount] = "4 GPUs"
	if h := PickGPUs([]corev1.Node{*n}); h.GPUsPerNode != 4 || h.System != "h100_pcie" {
		t.Fatalf("count label or PCIe id not honoured: %+v", h)
	}
	if got := SystemForProduct("NVIDIA-A100-SXM4-40GB", 40960); got != "a100_sxm_40gb" {
		t.Fatalf("A100 40GB = %q", got)
	}
}

func loadExample(t *testing.T, file string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	d.Namespace = "team"
	d.UID = types.UID("uid-" + d.Name)
	d.Generation = 1
	return &d
}

func newFake(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) (client.WithWatch, *Clients) {
	t.Helper()
	s, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&v1alpha1.DynamoGraphDeploymentRequest{})
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	c := b.Build()
	return c, &Clients{Client: c, Clock: clocktesting.NewFakePassiveClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
}

// A status write that meets a Conflict is retried on a fresh read and
// succeeds; the profile ends Ready with every write-back in place.
func TestProfileRetriesConflictAndWritesBack(t *testing.T) {
	d := loadExample(t, "vllm-dense-online.yaml")
	d.Spec.AutoApply = false
	conflicts := 0
	funcs := &interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
		if sub == "status" && conflicts == 0 {
			conflicts++
			return apierrors.NewConflict(schema.GroupResource{Group: "nvidia.com", Resource: v1alpha1.DGDRResource}, obj.GetName(), nil)
		}
		return c.SubResource(sub).Update(ctx, obj, opts...)
	}}
	c, cl := newFake(t, funcs, d, gpuNode("h100-0", "NVIDIA-H100-80GB-HBM3", 81559, 8))
	var out bytes.Buffer
	ctx := context.Background()
	if err := Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{Out: &out, Simulate: true}); err != nil {
		t.Fatalf("profile: %v\n%s", err, out.String())
	}
	if conflicts != 1 {
		t.Fatalf("want exactly one injected conflict, got %d", conflicts)
	}
	var got v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.State != v1alpha1.StateReady || st.ObservedGeneration != 1 || st.Backend != "vllm" ||
		st.ProfilingResults != "configmap/dgdr-output-vllm-dense-online" || st.GeneratedDeployment == nil {
		t.Fatalf("status not written back: %+v", st)
	}
	for typ, reason := range map[string]string{v1alpha1.ConditionValidation: ReasonValidated,
		v1alpha1.ConditionProfiling: ReasonProfilingCompleted, v1alpha1.ConditionSpecGenerated: ReasonSpecGenerated} {
		cond := meta.FindStatusCondition(st.Conditions, typ)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != reason || cond.ObservedGeneration != 1 {
			t.Errorf("condition %s = %+v, want True/%s", typ, cond, reason)
		}
	}
	if !strings.Contains(out.String(), "GPU discovery: found 1 GPU node(s) of 1 checked: 1 × 8 NVIDIA-H100-80GB-HBM3 (81559 MiB); profiling for system h100_sxm") {
		t.Errorf("no found summary in output:\n%s", out.String())
	}
	var cm corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: "team", Name: "dgdr-output-vllm-dense-online"}, &cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != d.UID || cm.Labels[v1alpha1.LabelDGDRName] != d.Name {
		t.Fatalf("output ConfigMap not owned/labelled: %+v", cm.ObjectMeta)
	}
	var r results.Results
	if err := json.Unmarshal([]byte(cm.Data[KeyResults]), &r); err != nil || r.Selection.Prefill == nil {
		t.Fatalf("results.json unreadable: %v", err)
	}
	docs, err := splitConfigWithPlanner([]byte(cm.Data[KeyConfigWithPlanner]))
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := json.Marshal(docs.dgd)
	if !jsonEqual(t, gen, st.GeneratedDeployment.Raw) {
		t.Fatalf("generatedDeployment differs from config_with_planner.yaml's DGD")
	}
	var ppd corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: "team", Name: PlannerProfileData}, &ppd); err != nil {
		t.Fatalf("planner-profile-data: %v", err)
	}
	if len(ppd.OwnerReferences) != 1 || ppd.Data["prefill_raw_data.json"] == "" {
		t.Fatalf("planner-profile-data not owned or empty: %+v", ppd.ObjectMeta)
	}
	var evs corev1.EventList
	if err := c.List(ctx, &evs, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range evs.Items {
		reasons = append(reasons, e.Reason)
	}
	sort.Strings(reasons)
	if strings.Join(reasons, ",") != "Initialized,ProfilingJobCreated,SpecGenerated" {
		t.Errorf("events = %v", reasons)
	}
	if got.Annotations[v1alpha1.AnnotationProfiledHash] == "" {
		t.Errorf("no %s annotation", v1alpha1.AnnotationProfiledHash)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// A planner-profile-data owned by another DGDR is left alone: ours gets a
// per-DGDR name and the Planner volume follows it (D5, D6).
func TestPlannerConfigMapRenamedOnConflict(t *testing.T) {
	d := loadExample(t, "vllm-dense-online.yaml")
	d.Spec.AutoApply = false
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: PlannerProfileData, Namespace: "team",
		Labels: map[string]string{v1alpha1.LabelDGDRName: "someone-else", v1alpha1.LabelDGDRNamespace: "team"}}, Data: map[string]string{"x": "y"}}
	c, cl := newFake(t, nil, d, other, gpuNode("h100-0", "NVIDIA-H100-80GB-HBM3", 81559, 8))
	ctx := context.Background()
	if err := Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{Simulate: true}); err != nil {
		t.Fatal(err)
	}
	var kept corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKeyFromObject(other), &kept); err != nil || kept.Data["x"] != "y" {
		t.Fatalf("other DGDR's ConfigMap was touched: %v %+v", err, kept.Data)
	}
	var ours corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: "team", Name: PlannerProfileData + "-" + d.Name}, &ours); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.DynamoGraphDeploymentRequest
	_ = c.Get(ctx, client.ObjectKeyFromObject(d), &got)
	if !strings.Contains(string(got.Status.GeneratedDeployment.Raw), `"name":"planner-profile-data-vllm-dense-online"`) {
		t.Fatalf("Planner volume not renamed: %s", got.Status.GeneratedDeployment.Raw)
	}
}

// Invalid specs and clusters without GPUs end Failed with Validation=False.
func TestProfileFailsValidation(t *testing.T) {
	d := loadExample(t, "vllm-dense-online.yaml")
	c, cl := newFake(t, nil, d) // no nodes, no hardware.system
	ctx := context.Background()
	err := Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{})
	if err == nil || !strings.Contains(err.Error(), "no nodes with NVIDIA GPU Feature Discovery labels found (checked 0 nodes)") {
		t.Fatalf("err = %v", err)
	}
	var got v1alpha1.DynamoGraphDeploymentRequest
	_ = c.Get(ctx, client.ObjectKeyFromObject(d), &got)
	cond := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionValidation)
	if got.Status.State != v1alpha1.StateFailed || cond == nil || cond.Reason != ReasonValidationFailed {
		t.Fatalf("status = %+v", got.Status)
	}
	// Failed is terminal for profile, and apply refuses with the state.
	err = Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{})
	var ws *WrongStateError
	if !asWrongState(err, &ws) || ws.State != v1alpha1.StateFailed {
		t.Fatalf("re-profile of a Failed DGDR: %v", err)
	}
	_, err = Apply(ctx, cl, d.Name, d.Namespace, ApplyOptions{})
	if !asWrongState(err, &ws) || !strings.Contains(err.Error(), `it is in state "Failed"`) {
		t.Fatalf("apply of a Failed DGDR: %v", err)
	}
}

func asWrongState(err error, out **WrongStateError) bool {
	w, ok := err.(*WrongStateError)
	*out = w
	return ok
}

// BuildDGD applies the overrides and keeps the managed labels on top.
func TestBuildDGD(t *testing.T) {
	d := loadExample(t, "vllm-dense-online.yaml")
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

// The DGDR's mode picks the profiler: AI Configurator mode and --simulate use
// the estimator; otherwise online Jobs, refused without a clientset.
func TestPickProfiler(t *testing.T) {
	c := &Clients{}
	on := &Online{MaxParallel: 3}
	cases := []struct {
		name     string
		opts     ProfileOptions
		aic      bool
		wantMode string
		wantNil  bool
		wantTime time.Duration
	}{
		{"aic mode", ProfileOptions{Online: on}, true, "simulation", false, DefaultSimulationTimeout},
		{"--simulate", ProfileOptions{Online: on, Simulate: true}, false, "simulation", false, DefaultSimulationTimeout},
		{"online", ProfileOptions{Online: on}, false, "online", false, DefaultOnlineTimeout},
		{"online, own timeout", ProfileOptions{Online: on, Timeout: time.Minute}, false, "online", false, time.Minute},
		{"online without a clientset", ProfileOptions{}, false, "online", true, 0},
	}
	for _, tc := range cases {
		p, mode, timeout := tc.opts.pick(c, profileconfig.Settings{UseAIC: tc.aic})
		if mode != tc.wantMode || (p == nil) != tc.wantNil || timeout != tc.wantTime {
			t.Errorf("%s: got %T %q %s", tc.name, p, mode, timeout)
		}
		if o, ok := p.(*Online); ok && (o.MaxParallel != 3 || o == on) {
			t.Errorf("%s: the online profiler must be a configured copy", tc.name)
		}
	}
}

// apply --wait wakes on the DGD's watch events: with an hour between polls
// it still sees the DGD turn successful and marks the DGDR Ready.
func TestWaitDGDFollowsWatchEvents(t *testing.T) {
	d := loadExample(t, "vllm-dense-online.yaml")
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
