package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	statuscmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/status"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

func namespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := s.client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

func getDGDR(t *testing.T, ns, name string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := s.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func example(name string) string { return filepath.Join(s.root, "examples", name) }

// Each example and a flags-built DGDR: client dry run (no cluster at all),
// server dry run (schema + webhook, nothing stored), then a real create
// whose stored object carries the webhook's injection.
func TestCreate(t *testing.T) {
	ns := namespace(t, "create")
	ctx := context.Background()
	for _, f := range []string{"sglang-moe.yaml", "trtllm-aic-offline.yaml", "vllm-dense-online.yaml"} {
		name := strings.TrimSuffix(f, ".yaml")
		t.Run(name, func(t *testing.T) {
			// An unreachable server proves --dry-run=client sends nothing.
			r := kdgdr(t, "create", "-f", example(f), "-n", ns, "--dry-run=client", "-o", "yaml", "--server", "https://127.0.0.1:1")
			if r.code != 0 || !strings.Contains(r.stdout, "kind: DynamoGraphDeploymentRequest") || !strings.Contains(r.stdout, "namespace: "+ns) {
				t.Fatalf("client dry run: %s", r)
			}
			r = mustRun(t, "create", "-f", example(f), "-n", ns, "--dry-run=server")
			if want := fmt.Sprintf("dynamographdeploymentrequest.nvidia.com/%s created (server dry run)\n", name); r.stdout != want {
				t.Fatalf("server dry run stdout = %q, want %q", r.stdout, want)
			}
			var d v1alpha1.DynamoGraphDeploymentRequest
			if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &d); !apierrors.IsNotFound(err) {
				t.Fatalf("a server dry run stored the object: %v", err)
			}
			r = mustRun(t, "create", "-f", example(f), "-n", ns)
			if r.stdout != fmt.Sprintf("dynamographdeploymentrequest.nvidia.com/%s created\n", name) {
				t.Fatalf("create stdout: %s", r)
			}
			got := getDGDR(t, ns, name)
			if !strings.Contains(string(got.Spec.ProfilingConfig.Config.Raw), `"namespace":"`+ns+`"`) {
				t.Fatalf("deployment.namespace not injected: %s", got.Spec.ProfilingConfig.Config.Raw)
			}
		})
	}
	// Admission warnings reach stderr (engine.is_moe_model is documentation only).
	r := mustRun(t, "create", "-f", example("sglang-moe.yaml"), "-n", "default", "--dry-run=server")
	if !strings.Contains(r.stderr, "Warning: spec.profilingConfig.config.engine.is_moe_model is not read by the profiler") {
		t.Fatalf("no admission warning on stderr: %s", r)
	}

	flags := []string{"create", "qwen", "-n", ns, "--model", "Qwen/Qwen3-0.6B", "--backend", "vllm", "--isl", "3000", "--osl", "150",
		"--ttft", "200", "--itl", "20", "--simulate", "--system", "h100_sxm", "--max-gpus", "4", "--workers-image", "img:1"}
	r = kdgdr(t, append(flags, "--dry-run=client", "-o", "yaml", "--server", "https://127.0.0.1:1")...)
	if r.code != 0 || !strings.Contains(r.stdout, "aicSystem: h100_sxm") || !strings.Contains(r.stdout, "workersImage: img:1") {
		t.Fatalf("flags client dry run: %s", r)
	}
	r = mustRun(t, append(flags, "--dry-run=server", "-o", "name")...)
	if r.stdout != "dynamographdeploymentrequest.nvidia.com/qwen\n" {
		t.Fatalf("flags server dry run: %s", r)
	}
	mustRun(t, flags...)
	if d := getDGDR(t, ns, "qwen"); d.Spec.Model != "Qwen/Qwen3-0.6B" || d.Spec.DeploymentOverrides.WorkersImage != "img:1" {
		t.Fatalf("flags DGDR = %+v", d.Spec)
	}

	// Invalid input is refused on the client with the webhook's wording,
	// naming the flag the value came from.
	r = kdgdr(t, "create", "bad", "-n", ns, "--model", "m", "--isl", "3000", "--osl", "150", "--ttft", "-1", "--itl", "20", "--server", "https://127.0.0.1:1")
	if r.code == 0 || !strings.Contains(r.stderr, "invalid flags: --ttft: Invalid value: -1: --ttft must be positive") {
		t.Fatalf("invalid flags: %s", r)
	}
}

// profile runs `kubectl-dgdr profile NAME --simulate` as a user would: the
// estimator, whatever the DGDR's mode (online profiling has its own e2e in
// pkg/online).
func profile(t *testing.T, ns, name string) {
	t.Helper()
	r := kdgdr(t, "profile", name, "-n", ns, "--simulate")
	if r.code != 0 || !strings.Contains(r.stdout, "dynamographdeploymentrequest.nvidia.com/"+name+" profiled") {
		t.Fatalf("profile: %s", r)
	}
}

// create → profile → status → apply → DGD successful → Ready → delete (GC).
func TestFlow(t *testing.T) {
	ns := namespace(t, "flow")
	ctx := context.Background()
	b, err := os.ReadFile(example("vllm-dense-online.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	d.Name, d.Spec.AutoApply = "qwen", false
	d.Spec.DeploymentOverrides.Name = "qwen-serve"
	d.Spec.DeploymentOverrides.Labels = map[string]string{"team": "llm"}
	d.Spec.DeploymentOverrides.Annotations = map[string]string{"owner": "alice"}
	file := filepath.Join(t.TempDir(), "qwen.yaml")
	y, _ := yaml.Marshal(&d)
	if err := os.WriteFile(file, y, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "create", "-f", file, "-n", ns)

	// Apply before profiling is refused with the state and the next command.
	r := kdgdr(t, "apply", "qwen", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, `it is in state "Initializing"`) || !strings.Contains(r.stderr, "next: kubectl dgdr profile qwen -n flow") {
		t.Fatalf("apply before profile: %s", r)
	}

	profile(t, ns, "qwen")
	got := getDGDR(t, ns, "qwen")
	st := got.Status
	if st.State != v1alpha1.StateReady || st.ObservedGeneration != got.Generation || st.ProfilingResults != "configmap/dgdr-output-qwen" || st.GeneratedDeployment == nil {
		t.Fatalf("status after profile: %+v", st)
	}
	for _, typ := range []string{v1alpha1.ConditionValidation, v1alpha1.ConditionProfiling, v1alpha1.ConditionSpecGenerated} {
		if !meta.IsStatusConditionTrue(st.Conditions, typ) {
			t.Errorf("condition %s not True: %+v", typ, st.Conditions)
		}
	}
	var out corev1.ConfigMap
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "dgdr-output-qwen"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Data[cluster.KeyConfigWithPlanner] == "" || len(out.OwnerReferences) != 1 || out.OwnerReferences[0].UID != got.UID {
		t.Fatalf("output ConfigMap: %+v", out.ObjectMeta)
	}
	var res results.Results
	if err := json.Unmarshal([]byte(out.Data[cluster.KeyResults]), &res); err != nil {
		t.Fatal(err)
	}
	// generatedDeployment is the DGD of config_with_planner.yaml, and it runs
	// the engines results.json selected.
	gen := string(st.GeneratedDeployment.Raw)
	if !strings.Contains(out.Data[cluster.KeyConfigWithPlanner], "kind: DynamoGraphDeployment") || res.Selection.Prefill == nil ||
		!strings.Contains(gen, `"VllmPrefillWorker"`) {
		t.Fatalf("results and generatedDeployment disagree:\n%s", gen)
	}
	var ppd corev1.ConfigMap
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: cluster.PlannerProfileData}, &ppd); err != nil {
		t.Fatal(err)
	}
	var events corev1.EventList
	if err := s.client.List(ctx, &events, client.InNamespace(ns)); err != nil || len(events.Items) < 3 {
		t.Fatalf("events: %v %d", err, len(events.Items))
	}

	// status: table, detail, json.
	r = mustRun(t, "status", "-n", ns, "--color=never")
	pre, dec := res.Selection.Prefill.Mapping.Label(), res.Selection.Decode.Mapping.Label()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME MODEL BACKEND STATE PREFILL DECODE AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "qwen Qwen/Qwen3-0.6B vllm Ready "+pre+" "+dec+" ") {
		t.Fatalf("status table:\n%s", r.stdout)
	}
	r = mustRun(t, "status", "-A", "--no-headers")
	if !strings.Contains(r.stdout, "flow") || strings.Contains(r.stdout, "NAME") {
		t.Fatalf("status -A --no-headers:\n%s", r.stdout)
	}
	r = mustRun(t, "status", "qwen", "-n", ns)
	for _, want := range []string{"SLA and workload", "ISL / OSL:", "Hardware found", "NVIDIA-H100-80GB-HBM3", "Sweep (* = chosen)",
		"Recommendation", "Conditions", "ProfilingCompleted", "Generated DynamoGraphDeployment", "flow/qwen-serve", "not applied",
		"Next step", "kubectl dgdr apply qwen -n flow"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status detail lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour without a terminal")
	}
	r = mustRun(t, "status", "qwen", "-n", ns, "-o", "yaml")
	if !strings.Contains(r.stdout, "kind: DynamoGraphDeploymentRequest\n") || !strings.Contains(r.stdout, "state: Ready") {
		t.Fatalf("status -o yaml must print the object:\n%s", r.stdout)
	}
	r = mustRun(t, "status", "qwen", "-n", ns, "-o", "view-json")
	var v statuscmd.View
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("status -o view-json: %v\n%s", err, r.stdout)
	}
	chosen := map[string]string{}
	for _, row := range v.Sweep {
		if row.Chosen {
			chosen[row.Phase] = row.Mapping
		}
	}
	if v.State != "Ready" || chosen["prefill"] != pre || chosen["decode"] != dec || v.Hardware == nil || v.Hardware.System != "h100_sxm" {
		t.Fatalf("status json: state %s chosen %v hardware %+v", v.State, chosen, v.Hardware)
	}

	// apply: dry run prints, then the DGD exists with overrides and labels.
	r = mustRun(t, "apply", "qwen", "-n", ns, "--dry-run=client", "-o", "yaml")
	if !strings.Contains(r.stdout, "name: qwen-serve") || !strings.Contains(r.stdout, "team: llm") {
		t.Fatalf("apply --dry-run=client:\n%s", r)
	}
	r = mustRun(t, "apply", "qwen", "-n", ns)
	if r.stdout != "dynamographdeployment.nvidia.com/qwen-serve created\n" {
		t.Fatalf("apply: %s", r)
	}
	dgdObj := &unstructured.Unstructured{}
	dgdObj.SetGroupVersionKind(dgd.GroupVersion.WithKind(v1alpha1.DGDKind))
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "qwen-serve"}, dgdObj); err != nil {
		t.Fatal(err)
	}
	l := dgdObj.GetLabels()
	if l["team"] != "llm" || l[v1alpha1.LabelDGDRName] != "qwen" || l[v1alpha1.LabelDGDRNamespace] != ns || dgdObj.GetAnnotations()["owner"] != "alice" {
		t.Fatalf("DGD metadata: labels %v annotations %v", l, dgdObj.GetAnnotations())
	}
	img, _, _ := unstructured.NestedString(dgdObj.Object, "spec", "services", "VllmDecodeWorker", "extraPodSpec", "mainContainer", "image")
	if img != d.Spec.DeploymentOverrides.WorkersImage {
		t.Fatalf("workers image = %q", img)
	}
	if got := getDGDR(t, ns, "qwen"); got.Status.State != v1alpha1.StateDeploying || got.Status.Deployment == nil || !got.Status.Deployment.Created {
		t.Fatalf("after apply: %+v", got.Status)
	}
	rv := dgdObj.GetResourceVersion()
	r = mustRun(t, "apply", "qwen", "-n", ns)
	if r.stdout != "dynamographdeployment.nvidia.com/qwen-serve unchanged\n" {
		t.Fatalf("re-apply: %s", r)
	}
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "qwen-serve"}, dgdObj); err != nil || dgdObj.GetResourceVersion() != rv {
		t.Fatalf("re-apply changed the DGD: rv %s → %s (%v)", rv, dgdObj.GetResourceVersion(), err)
	}

	// The DGD reports successful; apply --wait sees it and the DGDR is Ready.
	if err := unstructured.SetNestedField(dgdObj.Object, dgd.StateSuccessful, "status", "state"); err != nil {
		t.Fatal(err)
	}
	if err := s.client.Status().Update(ctx, dgdObj); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "apply", "qwen", "-n", ns, "--wait", "--timeout", "30s")
	got = getDGDR(t, ns, "qwen")
	if got.Status.State != v1alpha1.StateReady || !meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionDeploymentReady) ||
		got.Status.Deployment.State != dgd.StateSuccessful {
		t.Fatalf("after successful DGD: %+v", got.Status)
	}

	// Deleting the DGDR garbage-collects its ConfigMaps; the DGD stays (§8.6).
	if err := s.client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var cms corev1.ConfigMapList
		if err := s.client.List(ctx, &cms, client.InNamespace(ns), client.HasLabels{v1alpha1.LabelDGDRName}); err != nil {
			return false, err
		}
		return len(cms.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("ConfigMaps not garbage-collected: %v", err)
	}
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "qwen-serve"}, dgdObj); err != nil {
		t.Fatalf("the DGD must survive its DGDR: %v", err)
	}
}

// autoApply: profile goes on into apply; the example's own hardware
// (aic.system h200_sxm) wins over the discovered H100 nodes.
func TestAutoApply(t *testing.T) {
	ns := namespace(t, "auto")
	mustRun(t, "create", "-f", example("trtllm-aic-offline.yaml"), "-n", ns)
	profile(t, ns, "trtllm-aic-offline")
	got := getDGDR(t, ns, "trtllm-aic-offline")
	if got.Status.State != v1alpha1.StateDeploying || got.Status.Deployment == nil || got.Status.Deployment.Name != "trtllm-aic-offline" {
		t.Fatalf("autoApply did not deploy: %+v", got.Status)
	}
	out, err := cluster.ReadOutput(context.Background(), s.client, ns, "trtllm-aic-offline")
	if err != nil || out.Hardware == nil || out.Hardware.System != "h200_sxm" || out.Hardware.Product != "NVIDIA-H100-80GB-HBM3" {
		t.Fatalf("hardware: %v %+v", err, out)
	}
}

func TestNotFound(t *testing.T) {
	for _, args := range [][]string{{"status", "nope", "-n", "default"}, {"apply", "nope", "-n", "default"}} {
		r := kdgdr(t, args...)
		if r.code != 1 || r.stderr != "error: dynamographdeploymentrequests.nvidia.com \"nope\" not found in namespace \"default\"; list them with: kubectl dgdr status -A\n" {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// A ServiceAccount token without the plugin's role is refused with the verb
// and the ClusterRole to bind; bound to the shipped role, the same calls work.
func TestForbidden(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "rbac")
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited", Namespace: ns}}
	if err := s.client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tok, err := s.env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "limited",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptrInt64(3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: s.env.Config.Host, CertificateAuthorityData: s.env.Config.CAData}
	kc.AuthInfos["limited"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "limited", Namespace: ns}
	kc.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), "limited.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	r := kdgdrAs(t, path, "status")
	if r.code != 1 || !strings.Contains(r.stderr, `cannot list resource "dynamographdeploymentrequests"`) ||
		!strings.Contains(r.stderr, "kubectl dgdr status needs more permissions") || !strings.Contains(r.stderr, "manifests/rbac/plugin-user") {
		t.Fatalf("forbidden status: %s", r)
	}
	r = kdgdrAs(t, path, "create", "-f", example("vllm-dense-online.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, `cannot create resource "dynamographdeploymentrequests"`) || !strings.Contains(r.stderr, "kubectl dgdr create needs") {
		t.Fatalf("forbidden create: %s", r)
	}

	// Bound as docs/rbac.md says: the namespaced role with a RoleBinding,
	// the read-only cluster role (nodes, pods) with a ClusterRoleBinding.
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "limited", Namespace: ns}}
	for _, f := range []string{"clusterrole.yaml", "clusterrole-cluster.yaml"} {
		b, err := os.ReadFile(filepath.Join(s.root, "manifests", "rbac", "plugin-user", f))
		if err != nil {
			t.Fatal(err)
		}
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal(b, &role); err != nil {
			t.Fatal(err)
		}
		if err := s.client.Create(ctx, &role); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		ref := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name}
		var binding client.Object = &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited-dgdr", Namespace: ns}, RoleRef: ref, Subjects: subject}
		if f == "clusterrole-cluster.yaml" {
			binding = &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited-dgdr-cluster"}, RoleRef: ref, Subjects: subject}
		}
		if err := s.client.Create(ctx, binding); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.client.Delete(ctx, binding) })
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return kdgdrAs(t, path, "status").code == 0, nil
	})
	if err != nil {
		t.Fatalf("status with the plugin-user role: %s", kdgdrAs(t, path, "status"))
	}
	// Every verb works with the role alone: create, profile, status, apply.
	if r := kdgdrAs(t, path, "create", "-f", example("vllm-dense-online.yaml")); r.code != 0 {
		t.Fatalf("create with the role: %s", r)
	}
	if r := kdgdrAs(t, path, "profile", "vllm-dense-online", "--simulate"); r.code != 0 {
		t.Fatalf("profile (with autoApply) with the role: %s", r)
	}
	if r := kdgdrAs(t, path, "status", "vllm-dense-online"); r.code != 0 || !strings.Contains(r.stdout, "Deploying") {
		t.Fatalf("status with the role: %s", r)
	}
	if r := kdgdrAs(t, path, "apply", "vllm-dense-online"); r.code != 0 || r.stdout != "dynamographdeployment.nvidia.com/vllm-dense-online unchanged\n" {
		t.Fatalf("apply with the role: %s", r)
	}
}

func ptrInt64(v int64) *int64 { return &v }

// A cluster without the DGDR CRD says so, with the install command.
func TestNoCRD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bare, err := testenv.Start(ctx, testenv.Options{CRDs: []*apiextensionsv1.CustomResourceDefinition{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Stop() }()
	for _, args := range [][]string{{"status"}, {"status", "x"}, {"apply", "x"}, {"create", "-f", example("vllm-dense-online.yaml")}} {
		r := kdgdrAs(t, bare.Kubeconfig, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "the DynamoGraphDeploymentRequest CRD (nvidia.com, v1beta1 and v1alpha1) is not installed in this cluster") ||
			!strings.Contains(r.stderr, "kubectl apply -k manifests/install/self-managed") {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// status -w against the real API server: the watch opens (no warning), each
// state change is one line, and Failed ends it non-zero.
func TestStatusWatch(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "watch")
	d := &v1alpha1.DynamoGraphDeploymentRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "qwen", Namespace: ns},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{Model: "Qwen/Qwen3-0.6B", Backend: "vllm",
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{ProfilerImage: "img",
				Config: &apiextensionsv1.JSON{Raw: []byte(`{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20}}`)}}},
	}
	if err := s.client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	var live testenv.SyncBuffer
	done := make(chan result, 1)
	go func() {
		done <- kdgdrLive(t, s.env.Kubeconfig, &live, "status", "qwen", "-n", ns, "-w", "--timeout", "60s")
	}()
	printed := "\n" // the plugin has started and shown the first state
	for _, step := range []struct {
		state v1alpha1.State
		msg   string
	}{{v1alpha1.StateProfiling, "prefill sweep 1/3"}, {v1alpha1.StateFailed, "the engine crashed"}} {
		// Each change only once the previous one is on screen, so that
		// none is merged away.
		if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return strings.Contains(live.String(), printed), nil
		}); err != nil {
			t.Fatalf("status -w never printed %q; stdout so far:\n%s", printed, live.String())
		}
		printed = step.msg
		cur := getDGDR(t, ns, "qwen")
		cur.Status.State = step.state
		cur.Status.Conditions = []metav1.Condition{{Type: "Profiling", Status: metav1.ConditionTrue, Reason: "Test", Message: step.msg,
			LastTransitionTime: metav1.Now()}}
		if err := s.client.Status().Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	want := "Profiling - prefill sweep 1/3\nFailed - the engine crashed\n"
	if r.code != 1 || !strings.HasSuffix(r.stdout, want) || strings.Contains(r.stderr, "cannot watch") ||
		!strings.Contains(r.stderr, "failed: the engine crashed") {
		t.Errorf("want the two states, then exit 1 with the failure and no watch warning; got %s", r)
	}
}
