package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/manifests"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// e2ePrefix renames the rendered configurations for envtest, so the
// self-managed certificate test can create the real names without
// interfering with the webhook these tests talk to.
const e2ePrefix = "e2e-"

// webhookConfigs returns the configurations rendered from manifests/webhook.
func webhookConfigs(t *testing.T) ([]*admissionregv1.MutatingWebhookConfiguration, []*admissionregv1.ValidatingWebhookConfiguration) {
	t.Helper()
	m, err := manifests.Build("webhook")
	if err != nil {
		t.Fatal(err)
	}
	var mw []*admissionregv1.MutatingWebhookConfiguration
	var vw []*admissionregv1.ValidatingWebhookConfiguration
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		switch r.GetKind() {
		case "MutatingWebhookConfiguration":
			c := &admissionregv1.MutatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict(b, c); err != nil {
				t.Fatal(err)
			}
			mw = append(mw, c)
		case "ValidatingWebhookConfiguration":
			c := &admissionregv1.ValidatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict(b, c); err != nil {
				t.Fatal(err)
			}
			vw = append(vw, c)
		}
	}
	if len(mw) != 1 || len(vw) != 1 {
		t.Fatalf("rendered %d mutating and %d validating configurations", len(mw), len(vw))
	}
	return mw, vw
}

// warnings collects the Warning headers the apiserver sends.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

type e2e struct {
	env   *testenv.Env
	c     client.Client
	warns *warnings
}

// startE2E runs the real kube-apiserver with our rendered configurations
// and our server on the TLS port and certificate envtest prepared.
func startE2E(t *testing.T) *e2e {
	t.Helper()
	mw, vw := webhookConfigs(t)
	mw[0].Name, vw[0].Name = e2ePrefix+mw[0].Name, e2ePrefix+vw[0].Name
	ctx, cancel := context.WithCancel(context.Background())
	env, err := testenv.Start(ctx, testenv.Options{WebhookInstall: &envtest.WebhookInstallOptions{
		MutatingWebhooks: mw, ValidatingWebhooks: vw,
	}})
	t.Cleanup(func() {
		cancel()
		if env != nil {
			if err := env.Stop(); err != nil {
				t.Errorf("stopping the control plane: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatalf("%v (run `make testbin` if binaries are missing)", err)
	}
	wio := &env.Environment.WebhookInstallOptions
	go func() {
		err := Run(ctx, Options{Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
			TLSMinVersion: "1.2", Log: logr.Discard()})
		if err != nil {
			t.Errorf("webhook server: %v", err)
		}
	}()
	addr := net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(wio.LocalServingPort))
	var proto string
	var dialErr error
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if dialErr = err; err != nil {
			return false, nil
		}
		proto = conn.ConnectionState().NegotiatedProtocol
		return true, conn.Close()
	}); err != nil {
		t.Fatalf("webhook server never accepted TLS on %s: %v (last: %v)", addr, err, dialErr)
	}
	if proto == "h2" {
		t.Fatalf("HTTP/2 negotiated, want it off by default")
	}
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &e2e{env: env, c: c, warns: w}
}

func (e *e2e) namespace(t *testing.T, name string) string {
	t.Helper()
	_, err := e.env.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func loadExampleDGDR(t *testing.T, name, ns string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	d := &v1alpha1.DynamoGraphDeploymentRequest{}
	if err := json.Unmarshal(exampleJSON(t, name, ns), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func cfgOf(t *testing.T, d *v1alpha1.DynamoGraphDeploymentRequest) map[string]map[string]any {
	t.Helper()
	var m map[string]map[string]any
	if err := json.Unmarshal(d.Spec.ProfilingConfig.Config.Raw, &m); err != nil {
		t.Fatalf("stored config: %v", err)
	}
	return m
}

func TestE2E(t *testing.T) {
	e := startE2E(t)
	ctx := context.Background()

	t.Run("examples get the injected fields", func(t *testing.T) {
		ns := e.namespace(t, "examples")
		// The API server must accept the one-op config patch, not only the
		// generic diff: count the answers.
		answers := newAnswerCounters()
		configBefore, genericBefore := testutil.ToFloat64(answers.config), testutil.ToFloat64(answers.generic)
		defer func() {
			if got := testutil.ToFloat64(answers.config) - configBefore; got != float64(len(exampleNames)) {
				t.Errorf("%v config-patch answers, want one per example (%d); generic answers: %v",
					got, len(exampleNames), testutil.ToFloat64(answers.generic)-genericBefore)
			}
		}()
		for _, n := range exampleNames {
			d := loadExampleDGDR(t, n, ns)
			e.warns.take()
			if err := e.c.Create(ctx, d); err != nil {
				t.Fatalf("%s refused: %v", n, err)
			}
			ws := e.warns.take()
			got := &v1alpha1.DynamoGraphDeploymentRequest{}
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(d), got); err != nil {
				t.Fatal(err)
			}
			c := cfgOf(t, got)
			if c["deployment"]["model"] != d.Spec.Model || c["engine"]["backend"] != d.Spec.Backend ||
				c["deployment"]["namespace"] != ns || c["deployment"]["dgd_image"] != d.Spec.DeploymentOverrides.WorkersImage {
				t.Errorf("%s: stored config lacks the injected fields: %v", n, c)
			}
			if n == "trtllm-aic-offline" {
				if c["hardware"]["max_num_gpus_per_engine"] != float64(8) {
					t.Errorf("AIC max not injected: %v", c["hardware"])
				}
				if !containsAll(ws, "max_num_gpus_per_engine was not set; set it to 8") {
					t.Errorf("the mutating warning did not reach the client: %q", ws)
				}
			}
			if n == "sglang-moe" && !containsAll(ws, "engine.is_moe_model is not read by the profiler") {
				t.Errorf("the validating warning did not reach the client: %q", ws)
			}
		}
	})

	t.Run("bad objects are refused with our message", func(t *testing.T) {
		ns := e.namespace(t, "refusals")
		for _, tc := range []struct{ config, want string }{
			{`{"sla":{"isl":3000,"osl":150,"ttft":"200","itl":20}}`,
				`spec.profilingConfig.config.sla.ttft: Invalid value: "200": sla.ttft must be a number, not a string; remove the quotes (ttft: 200)`},
			{`{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"sweep":{"use_ai_configurator":true,"aic_system":"h200_sxm"},"hardware":{"max_num_gpus_per_engine":8}}`,
				`spec.profilingConfig.config.hardware.max_num_gpus_per_engine: Invalid value: 8: num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4; set spec.profilingConfig.config.hardware.max_num_gpus_per_engine to 4`},
			{`{"sla":{"isl":3000,"osl":150,"tftt":200,"itl":20}}`, `did you mean ttft?`},
			{`{"deployment":"flat","sla":{"isl":3000,"osl":150,"ttft":200,"itl":20}}`, `profilingConfig.config.deployment must be an object, got string`},
		} {
			d := loadExampleDGDR(t, "vllm-dense-online", ns)
			d.Name = "bad"
			d.Spec.ProfilingConfig.Config.Raw = []byte(tc.config)
			err := e.c.Create(ctx, d)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `admission webhook "vdgdr.nvidia.com" denied the request`) {
				t.Errorf("config %s: err = %v\nwant our webhook's Invalid with %q", tc.config, err, tc.want)
			}
		}
	})

	t.Run("warnings reach the client", func(t *testing.T) {
		ns := e.namespace(t, "warnings")
		d := loadExampleDGDR(t, "vllm-dense-online", ns)
		d.Spec.ProfilingConfig.Config.Raw = []byte(`{"deployment":{"model":"someone/else"},"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"engine":{"maxNumGpusPerEngine":4}}`)
		e.warns.take()
		if err := e.c.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		ws := e.warns.take()
		if !containsAll(ws, "spec.profilingConfig.config.deployment.model (someone/else) will be overwritten by spec.model (Qwen/Qwen3-0.6B)",
			"spec.profilingConfig.config.engine.maxNumGpusPerEngine is not read by the profiler; use hardware.maxNumGpusPerEngine") {
			t.Errorf("warnings = %q", ws)
		}
	})

	t.Run("dry-run=server", func(t *testing.T) {
		ns := e.namespace(t, "dryrun")
		d := loadExampleDGDR(t, "trtllm-aic-offline", ns)
		if err := e.c.Create(ctx, d, client.DryRunAll); err != nil {
			t.Fatalf("dry-run create: %v", err)
		}
		if c := cfgOf(t, d); c["hardware"]["max_num_gpus_per_engine"] != float64(8) || c["deployment"]["model"] != "Qwen/Qwen3-32B" {
			t.Errorf("dry-run result lacks the injected fields: %v", c)
		}
		err := e.c.Get(ctx, client.ObjectKeyFromObject(d), &v1alpha1.DynamoGraphDeploymentRequest{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("dry-run persisted the object: %v", err)
		}
		bad := loadExampleDGDR(t, "vllm-dense-online", ns)
		bad.Spec.Model = ""
		if err := e.c.Create(ctx, bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "spec.model") {
			t.Errorf("dry-run of a bad object: %v", err)
		}
	})

	t.Run("spec edit during Profiling is refused", func(t *testing.T) {
		ns := e.namespace(t, "frozen")
		d := loadExampleDGDR(t, "vllm-dense-online", ns)
		if err := e.c.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		d.Status.State = v1alpha1.StateProfiling
		if err := e.c.Status().Update(ctx, d); err != nil {
			t.Fatalf("status update (the webhook must not see /status): %v", err)
		}
		edited := d.DeepCopy()
		edited.Spec.AutoApply = false
		err := e.c.Update(ctx, edited)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec: Forbidden: updates are forbidden while the resource is in state "Profiling"; delete and recreate the resource to change its spec`) {
			t.Errorf("spec edit in Profiling: %v", err)
		}
		labelled := d.DeepCopy()
		labelled.Labels = map[string]string{"team": "a"}
		if err := e.c.Update(ctx, labelled); err != nil {
			t.Errorf("label edit in Profiling refused: %v", err)
		}
		if err := e.c.Delete(ctx, labelled); err != nil {
			t.Errorf("delete in Profiling refused: %v", err)
		}
	})

	t.Run("hostile objects refused, a valid one admitted right after", func(t *testing.T) {
		ns := e.namespace(t, "hostile")
		keys := func(n int) []byte {
			var b strings.Builder
			b.WriteString(`{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20`)
			for i := range n {
				fmt.Fprintf(&b, `,"unknown_key_%d":1`, i)
			}
			b.WriteString(`}}`)
			return []byte(b.String())
		}
		for i, tc := range []struct {
			mod  func(d *v1alpha1.DynamoGraphDeploymentRequest)
			want string
		}{
			// 8,000 unknown keys (about 180 kB): refused by the size cap.
			{func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.ProfilingConfig.Config.Raw = keys(8000) },
				`spec.profilingConfig.config: Invalid value: "<`},
			// 252 unknown keys, under every cap: 20 listed, the rest counted.
			{func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.ProfilingConfig.Config.Raw = keys(252) },
				`and 232 more errors]`},
			// A terminal escape in spec.model.
			{func(d *v1alpha1.DynamoGraphDeploymentRequest) {
				d.Spec.Model = "Qwen/Qwen3-0.6B\x1b]0;PWNED\x07\x1b[2J"
			},
				`spec.model must not contain control or formatting characters (found U+001B)`},
			// 2,000 labels.
			{func(d *v1alpha1.DynamoGraphDeploymentRequest) {
				d.Spec.DeploymentOverrides.Labels = map[string]string{}
				for i := range 2000 {
					d.Spec.DeploymentOverrides.Labels[fmt.Sprintf("l%d", i)] = "x"
				}
			}, `spec.deploymentOverrides.labels: Too many: 2000: must have at most 64 items`},
		} {
			d := loadExampleDGDR(t, "vllm-dense-online", ns)
			d.Name = fmt.Sprintf("hostile-%d", i)
			tc.mod(d)
			err := e.c.Create(ctx, d)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("hostile object %d: %v\nwant Invalid with %q", i, err, tc.want)
			}
			if len(err.Error()) > 8<<10 {
				t.Errorf("hostile object %d: the refusal is %d bytes", i, len(err.Error()))
			}
			ok := loadExampleDGDR(t, "vllm-dense-online", ns)
			ok.Name = fmt.Sprintf("valid-after-%d", i)
			if err := e.c.Create(ctx, ok); err != nil {
				t.Fatalf("a valid DGDR right after hostile object %d was refused: %v", i, err)
			}
		}
	})

	t.Run("v1alpha1 and v1beta1 read as each other through our /convert over TLS", func(t *testing.T) {
		ns := e.namespace(t, "convert")
		for _, n := range exampleNames {
			d := loadExampleDGDR(t, n, ns)
			if err := e.c.Create(ctx, d); err != nil {
				t.Fatal(err)
			}
			b := &v1beta1.DynamoGraphDeploymentRequest{}
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(d), b); err != nil {
				t.Fatalf("%s read as v1beta1: %v", n, err)
			}
			c := cfgOf(t, d)
			if b.Spec.Model != d.Spec.Model || b.Spec.SLA == nil || b.Spec.Workload == nil ||
				fmt.Sprint(*b.Spec.SLA.TTFT) != fmt.Sprint(c["sla"]["ttft"]) || fmt.Sprint(*b.Spec.Workload.ISL) != fmt.Sprint(c["sla"]["isl"]) {
				t.Errorf("%s as v1beta1: %+v (config %v)", n, b.Spec, c)
			}
			back := &v1alpha1.DynamoGraphDeploymentRequest{}
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(d), back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfgOf(t, back), c) || !reflect.DeepEqual(back.Spec.DeploymentOverrides, d.Spec.DeploymentOverrides) {
				t.Errorf("%s: v1alpha1 → v1beta1 storage → v1alpha1 changed the spec:\n%v\n%v", n, cfgOf(t, back), c)
			}
		}
		b := &v1beta1.DynamoGraphDeploymentRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: ns},
			Spec: v1beta1.DynamoGraphDeploymentRequestSpec{Model: "Qwen/Qwen3-0.6B", Backend: "vllm", Image: "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0",
				Workload: &v1beta1.WorkloadSpec{ISL: ptr.To[int32](3000), OSL: ptr.To[int32](150)},
				SLA:      &v1beta1.SLASpec{TTFT: ptr.To(200.0), ITL: ptr.To(20.0)},
				Hardware: &v1beta1.HardwareSpec{GPUSKU: "h100_sxm"}},
		}
		if err := e.c.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
		a := &v1alpha1.DynamoGraphDeploymentRequest{}
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(b), a); err != nil {
			t.Fatalf("v1beta1 read as v1alpha1: %v", err)
		}
		c := cfgOf(t, a)
		if c["sla"]["ttft"] != float64(200) || c["sla"]["isl"] != float64(3000) || c["hardware"]["system"] != "h100_sxm" || c["sweep"]["useAiConfigurator"] != true {
			t.Errorf("v1beta1 as v1alpha1: config %v", c)
		}
	})

	t.Run("v1beta1 refusals name the v1beta1 fields", func(t *testing.T) {
		ns := e.namespace(t, "beta-refusals")
		b := &v1beta1.DynamoGraphDeploymentRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
			Spec: v1beta1.DynamoGraphDeploymentRequestSpec{Model: "Qwen/Qwen3-0.6B", Backend: "vllm",
				Workload: &v1beta1.WorkloadSpec{ISL: ptr.To[int32](0), OSL: ptr.To[int32](150), Concurrency: ptr.To(4.0), RequestRate: ptr.To(2.0)},
				SLA:      &v1beta1.SLASpec{TTFT: ptr.To(-1.0), ITL: ptr.To(20.0)}},
		}
		err := e.c.Create(ctx, b)
		for _, want := range []string{`admission webhook "vdgdr-v1beta1.nvidia.com" denied the request`, "spec.sla.ttft: Invalid value: -1: sla.ttft must be positive",
			"spec.workload.isl: Invalid value: 0: workload.isl must be positive", "spec.workload.requestRate"} {
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v\nwant %q", err, want)
			}
		}
		if err != nil && strings.Contains(err.Error(), "profilingConfig") {
			t.Errorf("a v1beta1 refusal names a v1alpha1 field: %v", err)
		}
		// A request without an SLA is admitted with a warning naming the defaults.
		ok := b.DeepCopy()
		ok.Name, ok.Spec.Workload, ok.Spec.SLA = "defaults", nil, nil
		e.warns.take()
		if err := e.c.Create(ctx, ok); err != nil {
			t.Fatal(err)
		}
		if ws := e.warns.take(); !containsAll(ws, "spec.sla is not set: profiling uses v1beta1's defaults (isl 4000, osl 1000, ttft 2000 ms, itl 30 ms)") {
			t.Errorf("warnings = %q", ws)
		}
	})

	t.Run("self-managed certificate with its RBAC only", func(t *testing.T) {
		testSelfManaged(t, e)
	})
}

func containsAll(list []string, subs ...string) bool {
	joined := strings.Join(list, "\n")
	for _, s := range subs {
		if !strings.Contains(joined, s) {
			return false
		}
	}
	return true
}

// testSelfManaged installs the self-managed variant's Namespace, Secret,
// RBAC and configurations (with rules that match nothing, so they never
// intercept the other tests), then runs the rotator as the webhook's
// ServiceAccount: the RBAC shipped must be enough.
func testSelfManaged(t *testing.T, e *e2e) {
	ctx := context.Background()
	m, err := manifests.Build("install/self-managed")
	if err != nil {
		t.Fatal(err)
	}
	admin := e.env.Client
	var secretName, ns, mwcName, vwcName, svcName string
	for _, r := range m.Resources() {
		b, _ := r.AsYAML()
		var err error
		switch r.GetKind() {
		case "Namespace":
			var o corev1.Namespace
			_ = yaml.Unmarshal(b, &o)
			ns = o.Name
			_, err = admin.CoreV1().Namespaces().Create(ctx, &o, metav1.CreateOptions{})
		case "Secret":
			var o corev1.Secret
			_ = yaml.Unmarshal(b, &o)
			secretName = o.Name
			_, err = admin.CoreV1().Secrets(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
		case "Service":
			svcName = r.GetName()
		case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			err = createRBAC(ctx, e, r.GetKind(), b)
		case "MutatingWebhookConfiguration":
			var o admissionregv1.MutatingWebhookConfiguration
			_ = yaml.Unmarshal(b, &o)
			mwcName = o.Name
			for i := range o.Webhooks {
				o.Webhooks[i].Rules[0].Resources = []string{"nothingatall"}
			}
			_, err = admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &o, metav1.CreateOptions{})
		case "ValidatingWebhookConfiguration":
			var o admissionregv1.ValidatingWebhookConfiguration
			_ = yaml.Unmarshal(b, &o)
			vwcName = o.Name
			for i := range o.Webhooks {
				o.Webhooks[i].Rules[0].Resources = []string{"nothingatall"}
			}
			_, err = admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("install %s %s: %v", r.GetKind(), r.GetName(), err)
		}
	}
	// A client certificate for system:serviceaccount:<ns>:dgdr-webhook is
	// subject to the RoleBinding and ClusterRoleBinding shipped.
	kc, err := e.env.AddUser(fmt.Sprintf("system:serviceaccount:%s:dgdr-webhook", ns), "system:serviceaccounts")
	if err != nil {
		t.Fatal(err)
	}
	saCfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	// The rotator also patches the real DGDR CRD's conversion caBundle; the
	// other tests convert through envtest's CA, so it is put back after.
	crds, err := apiextclient.NewForConfig(e.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	crdName := "dynamographdeploymentrequests.nvidia.com"
	crd, err := crds.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crdName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	envtestCA := crd.Spec.Conversion.Webhook.ClientConfig.CABundle
	t.Cleanup(func() {
		cur, err := crds.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crdName, metav1.GetOptions{})
		if err == nil {
			cur.Spec.Conversion.Webhook.ClientConfig.CABundle = envtestCA
			_, err = crds.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Errorf("restoring the CRD's caBundle: %v", err)
		}
	})
	now := time.Now()
	certDir := t.TempDir()
	r, err := NewCertRotator(saCfg, CertRotator{Namespace: ns, SecretName: secretName, ServiceName: svcName,
		MutatingName: mwcName, ValidatingName: vwcName, CRDName: crdName, CertDir: certDir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureWithRetry(ctx, logr.Discard()); err != nil {
		t.Fatalf("first issue as the ServiceAccount: %v", err)
	}
	sec, err := admin.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reason := r.needsRenewal(sec.Data); reason != "" {
		b, _ := pem.Decode(sec.Data["tls.crt"])
		c, _ := x509.ParseCertificate(b.Bytes)
		t.Fatalf("issued certificate unusable: %s (now %v, NotBefore %v NotAfter %v)", reason, now, c.NotBefore, c.NotAfter)
	}
	crt, _ := os.ReadFile(filepath.Join(certDir, "tls.crt"))
	if string(crt) != string(sec.Data["tls.crt"]) {
		t.Error("tls.crt in --cert-dir differs from the Secret")
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key")); err != nil {
		t.Errorf("files in --cert-dir do not form a key pair: %v", err)
	}
	checkBundle := func(want []byte) {
		t.Helper()
		mwc, err := admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, mwcName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vwc, err := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, vwcName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range vwc.Webhooks {
			if string(w.ClientConfig.CABundle) != string(want) {
				t.Errorf("caBundle of validating webhook %s is not the Secret's CA", w.Name)
			}
		}
		if string(mwc.Webhooks[0].ClientConfig.CABundle) != string(want) {
			t.Error("caBundle of the mutating configuration is not the Secret's CA")
		}
		c, err := crds.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crdName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(c.Spec.Conversion.Webhook.ClientConfig.CABundle) != string(want) {
			t.Error("caBundle of the CRD's conversion webhook is not the Secret's CA")
		}
	}
	checkBundle(sec.Data["ca.crt"])

	// A second run changes nothing.
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	again, _ := admin.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if again.ResourceVersion != sec.ResourceVersion {
		t.Error("Ensure rewrote a valid certificate")
	}
	// Eleven months later the leaf is renewed under the same CA.
	now = now.Add(335 * 24 * time.Hour)
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	renewed, _ := admin.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if string(renewed.Data["tls.crt"]) == string(sec.Data["tls.crt"]) || string(renewed.Data["ca.crt"]) != string(sec.Data["ca.crt"]) {
		t.Error("want a new serving certificate under the same CA")
	}
	checkBundle(sec.Data["ca.crt"])
	// The ServiceAccount cannot touch other Secrets.
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns}}
	if _, err := admin.CoreV1().Secrets(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r2 := *r
	r2.SecretName = "other"
	if err := r2.Ensure(ctx); !apierrors.IsForbidden(errors.Unwrap(err)) {
		t.Errorf("the ServiceAccount could read another Secret: %v", err)
	}
}

func createRBAC(ctx context.Context, e *e2e, kind string, b []byte) error {
	rb := e.env.Client.RbacV1()
	var err error
	switch kind {
	case "Role":
		var o rbacv1.Role
		if err = yaml.Unmarshal(b, &o); err == nil {
			_, err = rb.Roles(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
		}
	case "RoleBinding":
		var o rbacv1.RoleBinding
		if err = yaml.Unmarshal(b, &o); err == nil {
			_, err = rb.RoleBindings(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
		}
	case "ClusterRole":
		var o rbacv1.ClusterRole
		if err = yaml.Unmarshal(b, &o); err == nil {
			_, err = rb.ClusterRoles().Create(ctx, &o, metav1.CreateOptions{})
		}
	case "ClusterRoleBinding":
		var o rbacv1.ClusterRoleBinding
		if err = yaml.Unmarshal(b, &o); err == nil {
			_, err = rb.ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
		}
	}
	return err
}
