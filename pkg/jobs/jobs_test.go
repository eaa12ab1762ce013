package jobs

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var update = flag.Bool("update", false, "rewrite testdata/*.yaml from the builders")

func dgdr(backend string) *v1alpha1.DynamoGraphDeploymentRequest {
	return &v1alpha1.DynamoGraphDeploymentRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "qwen", Namespace: "team-a", UID: "6b0b7a43-7a7e-4d7c-9a51-0c1f0b1e2f3a"},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{
			Model: "Qwen/Qwen3-32B", Backend: backend,
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{
				ProfilerImage: "nvcr.io/nvidia/ai-dynamo/" + backend + "-runtime:0.7.1",
				Resources: &corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("64Gi")},
				},
				Tolerations:  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
				NodeSelector: map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
			},
		},
	}
}

func tp(n int) results.Mapping  { return results.Mapping{Kind: "TP", N: n, TP: n, EP: 1, AttnDP: 1} }
func tep(n int) results.Mapping { return results.Mapping{Kind: "TEP", N: n, TP: n, EP: n, AttnDP: 1} }

const workerImage = "ghcr.io/kubectl-dgdr/dgdr-worker:v0.1.0"

func goldenSpecs() map[string]Spec {
	cache := profileconfig.ModelCache{PVCName: "model-cache", PVCPath: "hub", MountPath: "/opt/model-cache"}
	base := func(backend, phase string, m results.Mapping) Spec {
		s := Spec{DGDR: dgdr(backend), Phase: phase, Mapping: m, WorkerImage: workerImage, GPUsPerNode: 8,
			ModelCache: cache, ShmSize: "16Gi", ISLs: []int{3000}, OSL: 150}
		return s
	}
	sg := base("sglang", PhaseDecode, tep(16))
	sg.Model = "deepseek-ai/DeepSeek-R1"
	mock := base("vllm", PhaseDecode, tp(4))
	mock.Backend = BackendMocker
	mock.ModelCache = profileconfig.ModelCache{}
	return map[string]Spec{
		"vllm-prefill-tp4":    base("vllm", PhasePrefill, tp(4)),
		"sglang-decode-tp4":   base("sglang", PhaseDecode, tp(4)),
		"trtllm-prefill-tp4":  base("trtllm", PhasePrefill, tp(4)),
		"sglang-decode-tep16": sg,
		"mocker-decode-tp4":   mock,
	}
}

func render(t *testing.T, o *Objects) []byte {
	t.Helper()
	var b bytes.Buffer
	w := o.Worker
	for _, obj := range []any{w.ServiceAccount, w.Role, w.RoleBinding, w.Result, o.Service, o.Job} {
		if obj == (*corev1.Service)(nil) {
			continue
		}
		y, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

// TestJobs checks the golden specs and has the real apiserver accept each
// one with a server-side dry run.
func TestJobs(t *testing.T) {
	built := map[string]*Objects{}
	for name, s := range goldenSpecs() {
		o, err := Build(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		built[name] = o
		got := render(t, o)
		path := filepath.Join("testdata", name+".yaml")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./pkg/jobs -update)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (run go test ./pkg/jobs -update and review the diff):\n%s", name, path, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	}()
	c := env.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for name, o := range built {
		if o.Service != nil {
			if _, err := c.CoreV1().Services("team-a").Create(ctx, o.Service, dry); err != nil {
				t.Errorf("%s: the apiserver rejected the Service: %v", name, err)
			}
		}
		j, err := c.BatchV1().Jobs("team-a").Create(ctx, o.Job, dry)
		if err != nil {
			t.Errorf("%s: the apiserver rejected the Job: %v", name, err)
			continue
		}
		if j.Spec.Template.Spec.InitContainers[0].RestartPolicy == nil {
			t.Errorf("%s: the apiserver dropped the sidecar's restartPolicy", name)
		}
	}
	// The worker's identity and its result, as the plugin creates them
	// before the Job (dry run: the Role's namespace must exist, not its
	// ServiceAccount).
	w := built["mocker-decode-tp4"].Worker
	if _, err := c.CoreV1().ServiceAccounts("team-a").Create(ctx, w.ServiceAccount, dry); err != nil {
		t.Errorf("ServiceAccount: %v", err)
	}
	if _, err := c.RbacV1().Roles("team-a").Create(ctx, w.Role, dry); err != nil {
		t.Errorf("Role: %v", err)
	}
	if _, err := c.RbacV1().RoleBindings("team-a").Create(ctx, w.RoleBinding, dry); err != nil {
		t.Errorf("RoleBinding: %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps("team-a").Create(ctx, w.Result, dry); err != nil {
		t.Errorf("result ConfigMap: %v", err)
	}
}

func TestJobShape(t *testing.T) {
	specs := goldenSpecs()
	o, err := Build(specs["vllm-prefill-tp4"])
	if err != nil {
		t.Fatal(err)
	}
	j := o.Job
	if o.Service != nil || j.Spec.CompletionMode != nil {
		t.Fatal("a one-node engine must be a plain Job without a Service")
	}
	if j.Name != "qwen-prefill-tp4" || j.Labels[LabelPhase] != "prefill" || j.Labels[LabelMapping] != "TP4" || j.Labels[v1alpha1.LabelDGDRName] != "qwen" {
		t.Fatalf("name/labels: %s %v", j.Name, j.Labels)
	}
	if or := j.OwnerReferences; len(or) != 1 || or[0].UID != "6b0b7a43-7a7e-4d7c-9a51-0c1f0b1e2f3a" || or[0].Kind != "DynamoGraphDeploymentRequest" {
		t.Fatalf("owner: %+v", or)
	}
	eng := j.Spec.Template.Spec.InitContainers[0]
	if eng.RestartPolicy == nil || *eng.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatal("the engine must be a native sidecar")
	}
	if g := eng.Resources.Limits["nvidia.com/gpu"]; g.Value() != 4 {
		t.Fatalf("GPU limit %v, want 4", g.String())
	}
	if cpu := eng.Resources.Requests[corev1.ResourceCPU]; cpu.String() != "8" {
		t.Fatalf("profilingConfig.resources not applied: %v", eng.Resources)
	}
	cmd := strings.Join(eng.Command, " ")
	for _, want := range []string{"vllm serve Qwen/Qwen3-32B", "--tensor-parallel-size=4", "--no-enable-prefix-caching", "--max-num-seqs=1", "--max-num-batched-tokens=32768"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("engine command lacks %q: %s", want, cmd)
		}
	}
	meas := strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"measure", "--phase=prefill", "--isl=3000", "--configmap=qwen-prefill-tp4", "--label=dgdr.nvidia.com/phase=prefill"} {
		if !strings.Contains(meas, want) {
			t.Errorf("measure args lack %q: %s", want, meas)
		}
	}
	if strings.Contains(meas, "--osl") {
		t.Errorf("prefill measure must not get --osl: %s", meas)
	}
	var hf *corev1.EnvVar
	for i, e := range eng.Env {
		if e.Name == "HF_TOKEN" {
			hf = &eng.Env[i]
		}
	}
	if hf == nil || hf.ValueFrom.SecretKeyRef.Optional == nil || !*hf.ValueFrom.SecretKeyRef.Optional {
		t.Fatal("HF token must come from an optional Secret")
	}

	o, err = Build(specs["sglang-decode-tep16"])
	if err != nil {
		t.Fatal(err)
	}
	j = o.Job
	if j.Spec.Completions == nil || *j.Spec.Completions != 2 || j.Spec.CompletionMode == nil || o.Service == nil {
		t.Fatal("TEP16 on 8-GPU nodes must be a 2-pod Indexed Job with a Service")
	}
	if o.Service.Spec.ClusterIP != corev1.ClusterIPNone || j.Spec.Template.Spec.Subdomain != o.Service.Name {
		t.Fatal("the Service must be headless and the pods' subdomain")
	}
	eng = j.Spec.Template.Spec.InitContainers[0]
	cmd = strings.Join(eng.Command, " ")
	for _, want := range []string{"--tp=16", "--ep=16", "--nnodes=2", "--dist-init-addr=qwen-decode-tep16-0.qwen-decode-tep16.team-a.svc:29500", "--load-balance-method=round_robin"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("engine command lacks %q: %s", want, cmd)
		}
	}
	if g := eng.Resources.Limits["nvidia.com/gpu"]; g.Value() != 8 {
		t.Fatalf("GPUs per pod %v, want 8", g.String())
	}
	if !slices.ContainsFunc(j.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "NODE_RANK" }) {
		t.Fatal("the measure container needs NODE_RANK in a multi-node Job")
	}
}

func TestBuildErrors(t *testing.T) {
	s := goldenSpecs()["trtllm-prefill-tp4"]
	s.Mapping = tep(16)
	if _, err := Build(s); err == nil || !strings.Contains(err.Error(), "TRT-LLM") {
		t.Fatalf("multi-node TRT-LLM: %v", err)
	}
	s = goldenSpecs()["vllm-prefill-tp4"]
	s.Mapping = tep(12)
	if _, err := Build(s); err == nil || !strings.Contains(err.Error(), "multiple of 8") {
		t.Fatalf("12 GPUs on 8-GPU nodes: %v", err)
	}
	s = goldenSpecs()["vllm-prefill-tp4"]
	s.Phase = "warmup"
	if _, err := Build(s); err == nil || !strings.Contains(err.Error(), "warmup") {
		t.Fatalf("bad phase: %v", err)
	}
	s = goldenSpecs()["vllm-prefill-tp4"]
	s.DGDR = nil
	if _, err := Build(s); err == nil {
		t.Fatal("nil DGDR accepted")
	}
}

func TestName(t *testing.T) {
	long := strings.Repeat("a", 70)
	n := Name(long, PhaseDecodeGrid, tep(16))
	if len(n) > 52 || !strings.HasSuffix(n[:len(n)-7], "-decode-grid-tep16") {
		t.Fatalf("long name %q (%d chars)", n, len(n))
	}
	if Name(long, PhaseDecodeGrid, tep(16)) != n || Name(long+"b", PhaseDecodeGrid, tep(16)) == n {
		t.Fatal("names must be stable and distinct")
	}
}

// Each Job runs as its own ServiceAccount, whose Role allows get and
// update on the Job's result ConfigMap alone; all are the DGDR's.
func TestWorkerIdentity(t *testing.T) {
	o, err := Build(goldenSpecs()["sglang-decode-tep16"])
	if err != nil {
		t.Fatal(err)
	}
	name, w := o.Job.Name, o.Worker
	if got := o.Job.Spec.Template.Spec.ServiceAccountName; got != name {
		t.Fatalf("the pod runs as %q, want the Job's own ServiceAccount %q", got, name)
	}
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}, Verbs: []string{"get", "update"}}}
	if !reflect.DeepEqual(w.Role.Rules, want) {
		t.Fatalf("rules %+v, want only get/update on configmaps/%s", w.Role.Rules, name)
	}
	if b := w.RoleBinding; b.RoleRef.Name != name || len(b.Subjects) != 1 || b.Subjects[0].Name != name || b.Subjects[0].Namespace != o.Job.Namespace {
		t.Fatalf("binding %+v: want Role %s bound to ServiceAccount %s alone", b, name, name)
	}
	for _, m := range []metav1.ObjectMeta{w.ServiceAccount.ObjectMeta, w.Role.ObjectMeta, w.RoleBinding.ObjectMeta, w.Result.ObjectMeta} {
		if m.Name != name || m.Namespace != o.Job.Namespace || !reflect.DeepEqual(m.OwnerReferences, o.Job.OwnerReferences) ||
			!reflect.DeepEqual(m.Labels, o.Job.Labels) {
			t.Errorf("%+v: want the Job's name, namespace, labels and owner", m)
		}
	}
	if len(w.Result.Data) != 0 || w.ServiceAccount.AutomountServiceAccountToken == nil || *w.ServiceAccount.AutomountServiceAccountToken {
		t.Error("the result starts empty and the ServiceAccount mounts no token by default")
	}
}

func TestEnginePort(t *testing.T) {
	s := goldenSpecs()["mocker-decode-tp4"]
	s.EnginePort = 18001
	o, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	pod := o.Job.Spec.Template.Spec
	if !slices.Contains(pod.InitContainers[0].Command, "--port=18001") || !slices.Contains(pod.Containers[0].Args, "--engine-url=http://127.0.0.1:18001") {
		t.Fatalf("engine %v / measure %v do not use port 18001", pod.InitContainers[0].Command, pod.Containers[0].Args)
	}
	s.EnginePort = DistInitPort
	if _, err := Build(s); err == nil {
		t.Fatal("the dist-init port must be refused as engine port")
	}
}

// TestOnlyMeasureGetsToken: the pod mounts no ServiceAccount token by
// default; the measure container alone mounts a projected one, so the
// engine (any image the user names) cannot act as the worker.
func TestOnlyMeasureGetsToken(t *testing.T) {
	for name, s := range goldenSpecs() {
		o, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		pod := o.Job.Spec.Template.Spec
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken is not false", name)
		}
		for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
			mounted := false
			for _, m := range c.VolumeMounts {
				if m.MountPath == serviceAccountDir {
					mounted = m.Name == workerTokenVolumeName && m.ReadOnly
				}
			}
			if mounted != (c.Name == MeasureContainer) {
				t.Errorf("%s: container %s token mounted %v", name, c.Name, mounted)
			}
		}
	}
}
