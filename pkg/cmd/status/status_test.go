package status

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var created = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func dgdr(name, state string) v1alpha1.DynamoGraphDeploymentRequest {
	d := v1alpha1.DynamoGraphDeploymentRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", CreationTimestamp: metav1.NewTime(created)},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{Model: "Qwen/Qwen3-0.6B", Backend: "vllm",
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{ProfilerImage: "img",
				Config: &apiextensionsv1.JSON{Raw: []byte(`{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20}}`)}}},
		Status: v1alpha1.DynamoGraphDeploymentRequestStatus{State: v1alpha1.State(state)},
	}
	if state == "Ready" {
		d.Status.ProfilingResults = "configmap/" + cluster.OutputConfigMapName(name)
	}
	return d
}

// A profiled DGDR: its output ConfigMap holds results.json with a selection.
func fixture(t *testing.T) (*fake.ClientBuilder, []v1alpha1.DynamoGraphDeploymentRequest) {
	tp := func(n int) results.Mapping { return results.Mapping{Kind: "TP", N: n, TP: n, EP: 1, AttnDP: 1} }
	r := results.Results{
		Prefill: []results.PrefillPoint{{Mapping: tp(1), ISL: 3000, TTFTMs: 250, ThptPerGPU: 12000}, {Mapping: tp(2), ISL: 3000, TTFTMs: 150, ThptPerGPU: 10000}},
		Decode:  []results.DecodePoint{{Mapping: tp(1), Concurrency: 8, ITLMs: 12, ThptPerGPU: 660}},
		Selection: results.Selection{
			Prefill: &results.Choice{Mapping: tp(2), LatencyMs: 150, ThptPerGPU: 10000, MeetsSLA: true},
			Decode:  &results.Choice{Mapping: tp(1), LatencyMs: 12, ThptPerGPU: 660, MeetsSLA: true, Concurrency: 8},
			Rule:    results.RuleFrontier,
		},
		Frontier: &results.Frontier{
			Prefill: []results.PrefillFrontier{{Mapping: tp(2), MaxISL: 3500, TTFTMs: 199.5, Bound: results.BoundSLA, Exact: true}},
			Decode: []results.DecodeFrontier{{Mapping: tp(1), Concurrency: 14, ITLMs: 19.9, ThptPerGPU: 703.5, Bound: results.BoundSLA,
				Exact: true, CoarseConcurrency: 8, CoarseThptPerGPU: 660}},
		},
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.OutputConfigMapName("ready"), Namespace: "team",
			Labels: map[string]string{v1alpha1.LabelDGDRName: "ready"}},
		Data: map[string]string{cluster.KeyResults: string(raw)},
	}
	s, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	items := []v1alpha1.DynamoGraphDeploymentRequest{dgdr("ready", "Ready"), dgdr("fresh", "")}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(cm), items
}

// The list is kubectl's table: Prefill and Decode come from results.json,
// a DGDR never profiled shows dashes, and ages use the injected time.
func TestTable(t *testing.T) {
	b, items := fixture(t)
	c := b.Build()
	rows, errs := Summaries(context.Background(), c, items, "team")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	var out strings.Builder
	p := printers.NewTablePrinter(printers.PrintOptions{})
	if err := p.PrintObj(Table(rows, created.Add(90*time.Minute)), &out); err != nil {
		t.Fatal(err)
	}
	want := "NAME    MODEL             BACKEND   STATE          PREFILL   DECODE   AGE\n" +
		"ready   Qwen/Qwen3-0.6B   vllm      Ready          TP=2      TP=1     90m\n" +
		"fresh   Qwen/Qwen3-0.6B   vllm      Initializing   -         -        90m\n"
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

// The detail view has its sections, marks the chosen points and names the
// next step; colour only when asked.
func TestView(t *testing.T) {
	b, items := fixture(t)
	c := b.Build()
	v := Gather(context.Background(), c, &items[0])
	if len(v.Errors) != 0 {
		t.Fatal(v.Errors)
	}
	var plain, colour strings.Builder
	if err := PrintView(&plain, v, created.Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamoGraphDeploymentRequest team/ready", "SLA and workload", "ISL / OSL:", "3000 / 150 tokens",
		"TTFT target:", "200 ms", "Sweep (* = chosen)", "Hardware found", "kubectl dgdr apply ready -n team",
		"SLA frontier", "ISL 3500", "concurrency 14", "703.5", "660.0"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("view lacks %q:\n%s", want, plain.String())
		}
	}
	chosen := 0
	for _, l := range strings.Split(plain.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "*") {
			chosen++
		}
	}
	if chosen != 4 || strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("want the 2 chosen sweep points and the 2 chosen frontiers marked and no escape codes:\n%s", plain.String())
	}
	if err := PrintView(&colour, v, created.Add(time.Hour), true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colour.String(), "\x1b[") {
		t.Error("--color=always printed no colour")
	}
}

// status -w prints one line per change and ends non-zero on Failed. The
// redraw interval is an hour, so only the watch can bring the changes in.
func TestWatchFollowsTheDGDR(t *testing.T) {
	b, _ := fixture(t)
	d := dgdr("qwen", "Pending")
	c := b.WithObjects(&d).WithStatusSubresource(&d).Build()
	out := &syncBuffer{}
	o := &Options{Name: "qwen", Watch: true, Interval: time.Hour, Timeout: 30 * time.Second,
		namespace: "team", clock: clocktesting.NewFakeClock(created), client: c,
		IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: out}}
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()

	ctx := context.Background()
	waitFor(t, out, "Pending")
	for i, step := range []struct{ state, reason, msg string }{
		{"Profiling", "ProfilingStarted", "prefill sweep 2/4"},
		{"Failed", "ProfilingFailed", "the engine crashed"},
	} {
		var cur v1alpha1.DynamoGraphDeploymentRequest
		if err := c.Get(ctx, client.ObjectKeyFromObject(&d), &cur); err != nil {
			t.Fatal(err)
		}
		cur.Status.State = v1alpha1.State(step.state)
		cur.Status.Conditions = []metav1.Condition{{Type: "Profiling", Status: metav1.ConditionTrue, Reason: step.reason, Message: step.msg,
			LastTransitionTime: metav1.NewTime(created.Add(time.Duration(i+1) * time.Minute))}}
		if err := c.Status().Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
		waitFor(t, out, step.state+" - "+step.msg)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "DynamoGraphDeploymentRequest team/qwen failed: the engine crashed") {
			t.Errorf("Run = %v, want the failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("status -w did not stop on Failed")
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 3 || strings.Contains(out.String(), "Warning") {
		t.Errorf("want one line per state, got:\n%s", out.String())
	}
}

// Without the watch verb the view still follows the DGDR, at the interval.
func TestWatchFallsBackToPolling(t *testing.T) {
	b, _ := fixture(t)
	d := dgdr("qwen", "Pending")
	c := b.WithObjects(&d).WithStatusSubresource(&d).WithInterceptorFuncs(interceptor.Funcs{
		Watch: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
			return nil, apierrors.NewForbidden(schema.GroupResource{Group: "nvidia.com", Resource: "dynamographdeploymentrequests"}, "", nil)
		}}).Build()
	out := &syncBuffer{}
	o := &Options{Name: "qwen", Watch: true, Interval: 20 * time.Millisecond, Timeout: 30 * time.Second,
		namespace: "team", clock: clocktesting.NewFakeClock(created), client: c,
		IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: out}}
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	waitFor(t, out, "Pending")
	var cur v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(&d), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.State = v1alpha1.StateFailed
	if err := c.Status().Update(context.Background(), &cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "Failed")
	if err := <-done; err == nil {
		t.Error("want a non-zero exit on Failed")
	}
	if !strings.Contains(out.String(), "Warning: cannot watch DynamoGraphDeploymentRequest team/qwen") {
		t.Errorf("no warning about the watch:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the watch goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return strings.Contains(out.String(), want), nil
	}); err != nil {
		t.Fatalf("no %q in the output:\n%s", want, out.String())
	}
}

// TestViewEscapesControlCharacters: a model, reason or message holding a
// terminal escape (stored before the webhook refused them, or written by
// another client) is printed escaped, never raw, by the detail view.
func TestViewEscapesControlCharacters(t *testing.T) {
	b, items := fixture(t)
	c := b.Build()
	v := Gather(context.Background(), c, &items[0])
	const evil = "\x1b]0;PWNED\x07\x1b[2J\x00"
	v.Model, v.Backend = "Qwen/Qwen3-0.6B"+evil, "vllm"+evil
	v.Conditions = append(v.Conditions, metav1.Condition{Type: "T" + evil, Status: metav1.ConditionTrue, Reason: "R" + evil, Message: "M" + evil})
	v.Next = "next" + evil
	var out strings.Builder
	if err := PrintView(&out, v, created.Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07\x00") {
		t.Fatalf("raw control characters printed:\n%q", out.String())
	}
	if !strings.Contains(out.String(), `Qwen/Qwen3-0.6B^[]0;PWNED^G^[[2J^@`) {
		t.Errorf("model not shown escaped:\n%s", out.String())
	}
}

// -o yaml|json|name|jsonpath print the object as kubectl get does; the
// view's data is behind -o view-json; -o wide adds the SLA to the list.
func TestOutputFormats(t *testing.T) {
	b, items := fixture(t)
	c := b.WithObjects(&items[0], &items[1]).Build()
	run := func(name, output string) (string, error) {
		out := &bytes.Buffer{}
		o := &Options{Name: name, namespace: "team", clock: clocktesting.NewFakeClock(created), client: c, Interval: time.Second,
			PrintFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(scheme(t)), IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: out}}
		*o.PrintFlags.OutputFormat = output
		switch output {
		case "", outputWide, outputViewJSON, outputViewYAML:
		default:
			p, err := o.PrintFlags.ToPrinter()
			if err != nil {
				return "", err
			}
			o.printer = p
		}
		if err := o.Validate(); err != nil {
			return "", err
		}
		err := o.Run(context.Background())
		return out.String(), err
	}
	for _, c := range []struct{ name, output, want string }{
		{"ready", "yaml", "kind: DynamoGraphDeploymentRequest\n"},
		{"ready", "json", `"apiVersion": "nvidia.com/v1alpha1"`},
		{"ready", "name", "dynamographdeploymentrequest.nvidia.com/ready\n"},
		{"ready", "jsonpath={.status.state}", "Ready"},
		{"ready", outputViewJSON, `"recommendation": {`},
		{"ready", outputViewYAML, "sweep:\n"},
		{"ready", "", "Sweep (* = chosen)"},
		{"", "yaml", "kind: DynamoGraphDeploymentRequestList"},
		{"", outputWide, "SLA (TTFT/ITL)"},
	} {
		out, err := run(c.name, c.output)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("status %s -o %s (%v) lacks %q:\n%s", c.name, c.output, err, c.want, out)
		}
	}
	if out, _ := run("", outputWide); !strings.Contains(out, "200/20 ms") || !strings.Contains(out, "yes") {
		t.Errorf("-o wide lacks the SLA and whether it is met:\n%s", out)
	}
	if _, err := run("", outputViewJSON); err == nil || !strings.Contains(err.Error(), "-o view-json prints one DGDR's detail view: pass a NAME") {
		t.Errorf("view-json without a name: %v", err)
	}
}

func scheme(t *testing.T) *runtime.Scheme {
	s, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
