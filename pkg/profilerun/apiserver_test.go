package profilerun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/online"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// apiServer is a real kube-apiserver with the DGDR CRD (v1beta1 stored,
// converting through testenv's webhook) and the plugin's clients on it:
// DGDRs read and written as v1beta1, as `kubectl dgdr` does.
type apiServer struct {
	env   *testenv.Env
	admin client.Client
	c     *cluster.Clients
}

func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	env, err := testenv.Start(context.Background(), testenv.Options{})
	if err != nil {
		t.Fatalf("%v (run `make testbin` if binaries are missing)", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	sch, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: sch})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cluster.ServedDGDRVersion(c.RESTMapper())
	if err != nil || v != "v1beta1" {
		t.Fatalf("served DGDR version %q (%v), want v1beta1", v, err)
	}
	return &apiServer{env: env, admin: c, c: &cluster.Clients{Client: cluster.WithServedVersion(c, v)}}
}

func (s *apiServer) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := s.admin.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %s %s: %v", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
}

// gpuNodes creates Ready nodes labelled as GPU Feature Discovery does.
func (s *apiServer) gpuNodes(t *testing.T, product string, memMiB, gpus, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: strings.ToLower(product) + "-" + itoa(i), Labels: map[string]string{
			"nvidia.com/gpu.product": product, "nvidia.com/gpu.memory": itoa(memMiB), "nvidia.com/gpu.count": itoa(gpus)}}}
		s.create(t, node)
		node.Status.Capacity = corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(int64(gpus), resource.DecimalSI),
			corev1.ResourcePods: resource.MustParse("110")}
		node.Status.Allocatable = node.Status.Capacity
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if err := s.admin.Status().Update(ctx, node); err != nil {
			t.Fatal(err)
		}
		// The API server taints new nodes not-ready; no node controller here lifts it.
		node.Spec.Taints = nil
		if err := s.admin.Update(ctx, node); err != nil {
			t.Fatal(err)
		}
	}
}

// createFile creates the object of a YAML file, in namespace ns.
func (s *apiServer) createFile(t *testing.T, path, ns string, edit func(*unstructured.Unstructured)) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	if edit != nil {
		edit(u)
	}
	s.create(t, u)
	return u
}

func (s *apiServer) namespace(t *testing.T, name string) string {
	t.Helper()
	s.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

const examples = "../../examples/"

// The profile's results.json, from the output ConfigMap.
func (s *apiServer) results(t *testing.T, ns, name string) *results.Results {
	t.Helper()
	var cm corev1.ConfigMap
	if err := s.admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: cluster.OutputConfigMapName(name)}, &cm); err != nil {
		t.Fatal(err)
	}
	r := &results.Results{}
	if err := json.Unmarshal([]byte(cm.Data[cluster.KeyResults]), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOnTheAPIServer(t *testing.T) {
	s := startAPIServer(t)
	// Nodes of 4 GPUs: not the 8 profiling assumes without a cluster.
	s.gpuNodes(t, "NVIDIA-H200", 143771, 4, 4)

	// The MoE case in the cluster: DeepSeek-R1 without GPUs per node (v1beta1)
	// is sized by the GPU nodes, 4 GPUs each, and nothing is assumed.
	t.Run("MoE GPUs per node discovered from the nodes", func(t *testing.T) {
		ns := s.namespace(t, "moe")
		s.createFile(t, examples+"v1beta1/deepseek-r1-sglang-moe.yaml", ns, nil)
		var out bytes.Buffer
		if err := Profile(context.Background(), s.c, "deepseek-r1-sglang-moe", ns, ProfileOptions{Out: &out, Simulate: true}); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "GPU discovery:") || strings.Contains(out.String(), "assuming 8 GPUs per node") {
			t.Errorf("profile output:\n%s", out.String())
		}
		r := s.results(t, ns, "deepseek-r1-sglang-moe")
		if r.Input.GPUsPerNode != 4 {
			t.Errorf("profiled with %d GPUs per node, want the nodes' 4", r.Input.GPUsPerNode)
		}
		// Engines larger than a node span nodes of 4 GPUs.
		var gen dgd.DynamoGraphDeployment
		if err := json.Unmarshal(s.v1alpha1(t, ns, "deepseek-r1-sglang-moe").Status.GeneratedDeployment.Raw, &gen); err != nil {
			t.Fatal(err)
		}
		for name, svc := range gen.Spec.Services {
			if svc.ComponentType == "worker" && (svc.Resources == nil || svc.Resources.Limits == nil || svc.Resources.Limits.GPU > "4" && len(svc.Resources.Limits.GPU) == 1) {
				t.Errorf("worker %s asks for more than a node's 4 GPUs per pod: %+v", name, svc.Resources)
			}
		}
	})

	// A configMapRef recipe: its --max-num-batched-tokens reaches the
	// generated DGD and the online Jobs' engine command.
	t.Run("configMapRef recipe flag in the DGD and the engine command", func(t *testing.T) {
		ns := s.namespace(t, "recipe")
		s.createFile(t, examples+"recipes/qwen-vllm-disagg.yaml", ns, nil)
		withRef := func(name string) func(*unstructured.Unstructured) {
			return func(u *unstructured.Unstructured) {
				u.SetName(name)
				_ = unstructured.SetNestedField(u.Object, map[string]any{"name": "qwen-vllm-disagg"}, "spec", "profilingConfig", "configMapRef")
				_ = unstructured.SetNestedField(u.Object, false, "spec", "autoApply")
			}
		}
		// Simulated: the generated DGD.
		s.createFile(t, examples+"vllm-dense-online.yaml", ns, withRef("simulated"))
		if err := Profile(context.Background(), s.c, "simulated", ns, ProfileOptions{Simulate: true}); err != nil {
			t.Fatal(err)
		}
		d := s.v1alpha1(t, ns, "simulated")
		if gen := string(d.Status.GeneratedDeployment.Raw); strings.Count(gen, `"--max-num-batched-tokens","8192"`) != 2 {
			t.Errorf("generated DGD lacks the recipe flag in both workers:\n%s", gen)
		}

		// Online: the Jobs are created (no scheduler here runs them).
		s.createFile(t, examples+"vllm-dense-online.yaml", ns, withRef("online"))
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		progress := logWriter{t}
		var runErr error
		on := &Online{Kube: s.env.Client, MaxParallel: 1, WorkerImage: "worker:test",
			OnJob: func(e online.JobEvent) { fmt.Fprintf(progress, "job %s %s %s\n", e.Job, e.State, e.Message) }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runErr = Profile(ctx, s.c, "online", ns, ProfileOptions{Out: progress, Online: on})
		}()
		defer func() { cancel(); wg.Wait() }()
		var job *batchv1.Job
		err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			var list batchv1.JobList
			if err := s.admin.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return false, err
			}
			if len(list.Items) > 0 {
				job = &list.Items[0]
			}
			return job != nil, nil
		})
		if err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("no profiling Job: %v (profile: %v)", err, runErr)
		}
		var engine *corev1.Container
		for i, c := range job.Spec.Template.Spec.InitContainers {
			if c.Name == jobs.EngineContainer {
				engine = &job.Spec.Template.Spec.InitContainers[i]
			}
		}
		if engine == nil {
			t.Fatalf("Job %s has no engine container", job.Name)
		}
		cmd := strings.Join(engine.Command, " ")
		recipeAt := strings.Index(cmd, "--max-num-batched-tokens 8192")
		if recipeAt < 0 || recipeAt < strings.Index(cmd, "--max-num-batched-tokens=") || strings.Contains(cmd, "--is-prefill-worker") {
			t.Errorf("engine command %q: want the recipe's flag after the profiler's own (it wins) and no Dynamo wrapper flag", cmd)
		}
		// deploymentOverrides.workersImage runs the engine (the profiler image would not).
		if engine.Image != "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1" {
			t.Errorf("engine image %s, want workersImage", engine.Image)
		}
	})
}

func (s *apiServer) v1alpha1(t *testing.T, ns, name string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	d := &v1alpha1.DynamoGraphDeploymentRequest{}
	if err := s.c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// logWriter sends progress lines to the test log (safe from goroutines
// that end before the test does).
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
