package profilerun

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/clustertest"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/output"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

func newFake(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) (client.WithWatch, *cluster.Clients) {
	c := clustertest.Client(t, funcs, objs...)
	return c, &cluster.Clients{Client: c, Clock: clocktesting.NewFakePassiveClock(clustertest.Now)}
}

// A status write that meets a Conflict is retried on a fresh read and
// succeeds; the profile ends Ready with every write-back in place.
func TestProfileRetriesConflictAndWritesBack(t *testing.T) {
	d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
	d.Spec.AutoApply = false
	conflicts := 0
	funcs := &interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
		if sub == "status" && conflicts == 0 {
			conflicts++
			return apierrors.NewConflict(schema.GroupResource{Group: "nvidia.com", Resource: v1alpha1.DGDRResource}, obj.GetName(), nil)
		}
		return c.SubResource(sub).Update(ctx, obj, opts...)
	}}
	c, cl := newFake(t, funcs, d, clustertest.GPUNode("h100-0", "NVIDIA-H100-80GB-HBM3", 81559, 8))
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
	for typ, reason := range map[string]string{v1alpha1.ConditionValidation: cluster.ReasonValidated,
		v1alpha1.ConditionProfiling: cluster.ReasonProfilingCompleted, v1alpha1.ConditionSpecGenerated: cluster.ReasonSpecGenerated} {
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
	if err := json.Unmarshal([]byte(cm.Data[cluster.KeyResults]), &r); err != nil || r.Selection.Prefill == nil {
		t.Fatalf("results.json unreadable: %v", err)
	}
	gen := dgdOf(t, cm.Data[cluster.KeyConfigWithPlanner])
	if !jsonEqual(t, gen, st.GeneratedDeployment.Raw) {
		t.Fatalf("generatedDeployment differs from config_with_planner.yaml's DGD")
	}
	var ppd corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: "team", Name: cluster.PlannerProfileData}, &ppd); err != nil {
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
	d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
	d.Spec.AutoApply = false
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cluster.PlannerProfileData, Namespace: "team",
		Labels: map[string]string{v1alpha1.LabelDGDRName: "someone-else", v1alpha1.LabelDGDRNamespace: "team"}}, Data: map[string]string{"x": "y"}}
	c, cl := newFake(t, nil, d, other, clustertest.GPUNode("h100-0", "NVIDIA-H100-80GB-HBM3", 81559, 8))
	ctx := context.Background()
	if err := Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{Simulate: true}); err != nil {
		t.Fatal(err)
	}
	var kept corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKeyFromObject(other), &kept); err != nil || kept.Data["x"] != "y" {
		t.Fatalf("other DGDR's ConfigMap was touched: %v %+v", err, kept.Data)
	}
	var ours corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: "team", Name: cluster.PlannerProfileData + "-" + d.Name}, &ours); err != nil {
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
	d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
	c, cl := newFake(t, nil, d) // no nodes, no hardware.system
	ctx := context.Background()
	err := Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{})
	if err == nil || !strings.Contains(err.Error(), "no nodes with NVIDIA GPU Feature Discovery labels found (checked 0 nodes)") {
		t.Fatalf("err = %v", err)
	}
	var got v1alpha1.DynamoGraphDeploymentRequest
	_ = c.Get(ctx, client.ObjectKeyFromObject(d), &got)
	cond := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionValidation)
	if got.Status.State != v1alpha1.StateFailed || cond == nil || cond.Reason != cluster.ReasonValidationFailed {
		t.Fatalf("status = %+v", got.Status)
	}
	// Failed is terminal for profile, and apply refuses with the state.
	err = Profile(ctx, cl, d.Name, d.Namespace, ProfileOptions{})
	var ws *cluster.WrongStateError
	if !asWrongState(err, &ws) || ws.State != v1alpha1.StateFailed {
		t.Fatalf("re-profile of a Failed DGDR: %v", err)
	}
	_, err = cluster.Apply(ctx, cl, d.Name, d.Namespace, cluster.ApplyOptions{})
	if !asWrongState(err, &ws) || !strings.Contains(err.Error(), `it is in state "Failed"`) {
		t.Fatalf("apply of a Failed DGDR: %v", err)
	}
}

func asWrongState(err error, out **cluster.WrongStateError) bool {
	w, ok := err.(*cluster.WrongStateError)
	*out = w
	return ok
}

// The DGDR's mode picks the profiler: AI Configurator mode and --simulate use
// the estimator; otherwise online Jobs, refused without a clientset.
func TestPickProfiler(t *testing.T) {
	c := &cluster.Clients{}
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

// dgdOf is the DynamoGraphDeployment document of config_with_planner.yaml,
// as JSON.
func dgdOf(t *testing.T, configWithPlanner string) []byte {
	t.Helper()
	for _, doc := range strings.Split(configWithPlanner, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if m["kind"] == v1alpha1.DGDKind {
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no %s in config_with_planner.yaml:\n%s", v1alpha1.DGDKind, configWithPlanner)
	return nil
}

// A cluster profile's --output-dir follows profile --local's rules, checked
// before the DGDR moves: a symbolic link is refused unless FollowSymlinks, a
// directory with the user's files is refused with the list, and a refusal
// leaves the DGDR and the files as they were.
func TestProfileOutputDirSafety(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	proj := filepath.Join(root, "proj")
	if err := os.MkdirAll(filepath.Join(proj, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "src", "main.c"), []byte("int main;"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	profile := func(opts ProfileOptions) (v1alpha1.DynamoGraphDeploymentRequest, error) {
		d := clustertest.LoadExample(t, "vllm-dense-online.yaml")
		d.Spec.AutoApply = false
		c, cl := newFake(t, nil, d, clustertest.GPUNode("h100-0", "NVIDIA-H100-80GB-HBM3", 81559, 8))
		opts.Simulate = true
		err := Profile(ctx, cl, d.Name, d.Namespace, opts)
		var got v1alpha1.DynamoGraphDeploymentRequest
		if gerr := c.Get(ctx, client.ObjectKeyFromObject(d), &got); gerr != nil {
			t.Fatal(gerr)
		}
		return got, err
	}
	for _, c := range []struct {
		dir, want string
	}{
		{link, `is a symbolic link to "` + victim + `"; pass the directory itself, or --follow-symlinks`},
		{proj, "holds no previous profile (no .kubectl-dgdr-output); replacing it would delete: src;"},
	} {
		got, err := profile(ProfileOptions{OutputDir: c.dir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--output-dir %s: %v, want %q", c.dir, err, c.want)
		}
		if got.Status.State != "" || len(got.Status.Conditions) != 0 {
			t.Errorf("--output-dir %s: the DGDR moved on a refused directory: %+v", c.dir, got.Status)
		}
	}
	if entries, _ := os.ReadDir(victim); len(entries) != 0 {
		t.Errorf("the link's target was written: %v", entries)
	}
	if b, err := os.ReadFile(filepath.Join(proj, "src", "main.c")); err != nil || string(b) != "int main;" {
		t.Errorf("the user's file: %q, %v", b, err)
	}

	got, err := profile(ProfileOptions{OutputDir: link, FollowSymlinks: true})
	if err != nil || got.Status.State != v1alpha1.StateReady {
		t.Fatalf("with FollowSymlinks: %v (state %s)", err, got.Status.State)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	for _, f := range []string{output.MarkerFile, output.FileStatus} {
		if _, err := os.Stat(filepath.Join(victim, f)); err != nil {
			t.Errorf("%s not written where the link points: %v", f, err)
		}
	}
}
