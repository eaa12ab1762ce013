package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/webhook"
)

// suite is the one control plane of this package, started in TestMain.
type suite struct {
	env    *testenv.Env
	bin    string // the built kubectl-dgdr
	root   string
	client client.Client
}

var s suite // the only package variable: TestMain's shared fixture

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root, err := testenv.RepoRoot()
	if err != nil {
		return 1, err
	}
	s.root = root
	tmp, err := os.MkdirTemp("", "dgdr-e2e-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)

	// Build the plugin once, as users get it.
	s.bin = filepath.Join(tmp, "kubectl-dgdr")
	build := exec.Command("go", "build", "-o", s.bin, "./cmd/kubectl-dgdr")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("go build ./cmd/kubectl-dgdr: %v\n%s", err, out)
	}

	ctrllog.SetLogger(logr.Discard())
	env, err := testenv.Start(ctx, testenv.Options{Full: true, Nodes: testenv.H100Nodes(2), WebhookInstall: webhookInstall()})
	if env != nil {
		defer func() { _ = env.Stop() }()
	}
	if err != nil {
		return 1, err
	}
	s.env = env
	if err := serveWebhook(ctx, env.Environment.WebhookInstallOptions); err != nil {
		return 1, err
	}
	if err := waitDiscovery(ctx, env); err != nil {
		return 1, err
	}
	sch, err := api.NewScheme()
	if err != nil {
		return 1, err
	}
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return 1, err
	}
	if s.client, err = client.New(env.Config, client.Options{Scheme: sch}); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// waitDiscovery waits until both CRDs are served.
func waitDiscovery(ctx context.Context, env *testenv.Env) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		rl, err := env.Client.Discovery().ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
		if err != nil {
			return false, nil
		}
		n := 0
		for _, r := range rl.APIResources {
			if r.Name == v1alpha1.DGDRResource || r.Name == v1alpha1.DGDResource {
				n++
			}
		}
		return n == 2, nil
	})
}

// webhookInstall registers this project's mutating and validating webhooks
// for DGDR CREATE and UPDATE; envtest points them at the local TLS server.
func webhookInstall() *envtest.WebhookInstallOptions {
	rulesFor := func(version string) []admissionv1.RuleWithOperations {
		return []admissionv1.RuleWithOperations{{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule: admissionv1.Rule{APIGroups: []string{"nvidia.com"}, APIVersions: []string{version},
				Resources: []string{v1alpha1.DGDRResource}, Scope: ptr.To(admissionv1.NamespacedScope)},
		}}
	}
	rules := rulesFor("v1alpha1")
	svc := func(path string) admissionv1.WebhookClientConfig {
		return admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Name: "dgdr-webhook", Namespace: "dgdr-system", Path: ptr.To(path)}}
	}
	none := admissionv1.SideEffectClassNone
	fail := admissionv1.Fail
	eq := admissionv1.Exact // each version has its own handler, as in manifests/webhook
	return &envtest.WebhookInstallOptions{
		MutatingWebhooks: []*admissionv1.MutatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "kubectl-dgdr-mutating"},
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
			Webhooks: []admissionv1.MutatingWebhook{{Name: "mdynamographdeploymentrequest.kubectl-dgdr.io", ClientConfig: svc(admission.MutatePath),
				Rules: rules, SideEffects: &none, FailurePolicy: &fail, MatchPolicy: &eq, TimeoutSeconds: ptr.To[int32](5),
				AdmissionReviewVersions: []string{"v1"}}},
		}},
		ValidatingWebhooks: []*admissionv1.ValidatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "kubectl-dgdr-validating"},
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
			Webhooks: []admissionv1.ValidatingWebhook{{Name: "vdynamographdeploymentrequest.kubectl-dgdr.io", ClientConfig: svc(admission.ValidatePath),
				Rules: rules, SideEffects: &none, FailurePolicy: &fail, MatchPolicy: &eq, TimeoutSeconds: ptr.To[int32](5),
				AdmissionReviewVersions: []string{"v1"}},
				{Name: "vdynamographdeploymentrequest-v1beta1.kubectl-dgdr.io", ClientConfig: svc(admission.ValidatePathV1beta1),
					Rules: rulesFor("v1beta1"), SideEffects: &none, FailurePolicy: &fail, MatchPolicy: &eq, TimeoutSeconds: ptr.To[int32](5),
					AdmissionReviewVersions: []string{"v1"}}},
		}},
	}
}

// serveWebhook runs pkg/webhook's handlers on envtest's TLS address and
// waits until the port accepts connections.
func serveWebhook(ctx context.Context, o envtest.WebhookInstallOptions) error {
	// The same Manager the binary runs (webhook.Run), on envtest's port.
	go func() {
		_ = webhook.Run(ctx, webhook.Options{Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
			TLSMinVersion: "1.2", Log: logr.Discard()})
	}()
	addr := net.JoinHostPort(o.LocalServingHost, fmt.Sprint(o.LocalServingPort))
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil, nil
	})
	if err != nil {
		return errors.New("the webhook server did not start listening on " + addr)
	}
	return nil
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// kdgdr runs the built plugin with the admin kubeconfig.
func kdgdr(t *testing.T, args ...string) result {
	t.Helper()
	return kdgdrAs(t, s.env.Kubeconfig, args...)
}

func kdgdrAs(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	return kdgdrLive(t, kubeconfig, nil, args...)
}

// kdgdrLive is kdgdrAs that also copies stdout to live as it is written,
// for tests that act on what the plugin has printed so far.
func kdgdrLive(t *testing.T, kubeconfig string, live io.Writer, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if live != nil {
		cmd.Stdout = io.MultiWriter(&out, live)
	}
	err := cmd.Run()
	return finish(t, args, out.String(), errb.String(), err)
}

// finish is the result of a finished run: its exit code, or the test
// fails when the binary could not run at all.
func finish(t *testing.T, args []string, stdout, stderr string, err error) result {
	t.Helper()
	r := result{stdout: stdout, stderr: stderr}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running kubectl-dgdr %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun fails the test unless the plugin exits 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := kdgdr(t, args...)
	if r.code != 0 {
		t.Fatalf("kubectl-dgdr %s: %s", strings.Join(args, " "), r)
	}
	return r
}
