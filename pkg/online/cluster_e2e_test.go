package online_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/online"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profilerun"
)

// A small online profile: TP1/TP2, a 4k context, small grids.
const smallConfig = `{"sla":{"isl":1000,"osl":100,"ttft":50,"itl":10},
 "hardware":{"min_num_gpus_per_engine":1,"max_num_gpus_per_engine":2},
 "engine":{"max_context_length":4096},
 "sweep":{"use_ai_configurator":false,"prefill_interpolation_granularity":4,"decode_interpolation_granularity":2}}`

func clusterClients(t *testing.T) (*cluster.Clients, client.Client) {
	env := online.E2EEnv(t)
	ctrllog.SetLogger(logr.Discard())
	s, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return &cluster.Clients{Client: c}, c
}

func createSmallDGDR(t *testing.T, c client.Client, name string) {
	d := &v1alpha1.DynamoGraphDeploymentRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{
			Model: "Qwen/Qwen3-0.6B", Backend: "vllm", UseMocker: true,
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{ProfilerImage: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1",
				Config: &apiextensionsv1.JSON{Raw: []byte(smallConfig)}},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), d) })
}

// tune makes the Jobs fit the harness: a port per engine, a 4× faster
// simulator with a small KV cache, quick polling; crash adds a flag the engine refuses.
func tune(crash bool) func(*online.Options) {
	return func(o *online.Options) {
		o.EnginePort = online.FreePort
		o.Poll = 200 * time.Millisecond
		o.EngineRestartLimit = 1
		o.Template.WorkerImage = "ghcr.io/kubectl-dgdr/dgdr-worker:test"
		o.Template.Mocker.TimeScale = 0.25
		o.Template.Mocker.NumGPUBlocks = online.TestKVBlocks
		o.Template.ReadyTimeout = time.Minute
		if crash {
			o.Template.EngineArgs = []string{"--no-such-flag"}
		}
	}
}

// `kubectl dgdr profile NAME` in online mode, as the plugin runs it: Jobs on
// the fake GPU nodes, then the same write-back as the simulation mode.
func TestClusterProfileOnline(t *testing.T) {
	cl, c := clusterClients(t)
	createSmallDGDR(t, c, "online-flow")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out strings.Builder
	var done int
	opts := profilerun.ProfileOptions{Out: &out, Online: &profilerun.Online{Kube: online.E2EEnv(t).Client, Tune: tune(false),
		OnJob: func(e online.JobEvent) {
			if e.State == online.StateDone {
				done++
			}
		}}}
	if err := profilerun.Profile(ctx, cl, "online-flow", "default", opts); err != nil {
		t.Fatalf("profile: %v\n%s", err, out.String())
	}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "online-flow"}, &d); err != nil {
		t.Fatal(err)
	}
	cond := meta.FindStatusCondition(d.Status.Conditions, v1alpha1.ConditionProfiling)
	if d.Status.State != v1alpha1.StateReady || cond == nil || cond.Message != "Profiling completed successfully (online)" ||
		d.Status.GeneratedDeployment == nil || d.Status.ProfilingResults != "configmap/dgdr-output-online-flow" {
		t.Fatalf("status after an online profile: %+v", d.Status)
	}
	if done < 4 || !strings.Contains(out.String(), "in online mode") {
		t.Fatalf("want at least 4 Jobs done (2 sweeps × 2 mappings) and the mode named; got %d\n%s", done, out.String())
	}
}

// A crashing engine fails the DGDR with the pod's reason in its condition.
func TestClusterProfileEngineCrash(t *testing.T) {
	cl, c := clusterClients(t)
	createSmallDGDR(t, c, "online-crash")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := profilerun.ProfileOptions{Online: &profilerun.Online{Kube: online.E2EEnv(t).Client, Tune: tune(true)}}
	err := profilerun.Profile(ctx, cl, "online-crash", "default", opts)
	if err == nil {
		t.Fatal("a crashing engine gave no error")
	}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "online-crash"}, &d); err != nil {
		t.Fatal(err)
	}
	cond := meta.FindStatusCondition(d.Status.Conditions, v1alpha1.ConditionProfiling)
	if d.Status.State != v1alpha1.StateFailed || cond == nil || cond.Reason != cluster.ReasonProfilingFailed ||
		!strings.Contains(cond.Message, "unknown flag: --no-such-flag") || !strings.Contains(cond.Message, "CrashLoopBackOff") {
		t.Fatalf("status after an engine crash: %+v", d.Status)
	}
	if _, err := online.Cancel(ctx, online.E2EEnv(t).Client, "default", "online-crash"); err != nil {
		t.Fatal(err)
	}
}
