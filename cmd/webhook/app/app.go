// Package app is the webhook binary's flag parsing and start-up, kept out
// of main so tests can run it in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/webhook"
)

// ErrHelp is returned after --help printed the usage.
var ErrHelp = pflag.ErrHelp

// Config is the parsed command line.
type Config struct {
	webhook.Options
	SelfManagedCerts bool
	Namespace        string
	SecretName       string
	ServiceName      string
	MutatingName     string
	ValidatingName   string
	CRDName          string
	Kubeconfig       string
	Version          bool
}

// Parse reads the flags.
func Parse(args []string, out io.Writer) (*Config, error) {
	c := &Config{}
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&c.Port, "port", 9443, "HTTPS port of the admission endpoints")
	fs.StringVar(&c.Host, "host", "", "address to listen on (empty: all)")
	fs.StringVar(&c.CertDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory holding tls.crt and tls.key; changed files are reloaded without a restart")
	fs.StringVar(&c.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 disables); the Deployment binds it to the pod IP")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", "0", "address of the Prometheus /metrics endpoint, e.g. $(POD_IP):8080 (0 disables)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", webhook.DefaultReadTimeout, "longest time to read one request, body included; slower clients are cut off")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", webhook.DefaultWriteTimeout, "longest time from a request's headers to the end of its answer")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", webhook.DefaultShutdownTimeout, "time in-flight reviews get to finish after SIGTERM")
	fs.StringVar(&c.TLSMinVersion, "tls-min-version", "1.2", "minimum TLS version: 1.2 or 1.3")
	fs.BoolVar(&c.EnableHTTP2, "enable-http2", false, "serve HTTP/2 (off by default: HTTP/2 rapid-reset CVEs)")
	fs.BoolVar(&c.SelfManagedCerts, "self-managed-certs", false, "issue and rotate the serving certificate in --cert-secret-name and patch caBundle of both webhook configurations (no cert-manager needed)")
	fs.StringVar(&c.Namespace, "cert-namespace", "", "namespace of the Secret and Service for --self-managed-certs (default: the pod's namespace)")
	fs.StringVar(&c.SecretName, "cert-secret-name", "dgdr-webhook-cert", "Secret holding the self-managed CA and serving certificate")
	fs.StringVar(&c.ServiceName, "service-name", "dgdr-webhook", "Service in front of the webhook; the certificate covers <service>.<namespace>.svc")
	fs.StringVar(&c.MutatingName, "mutating-webhook-configuration", "dgdr-mutating-webhook", "MutatingWebhookConfiguration whose caBundle --self-managed-certs sets")
	fs.StringVar(&c.ValidatingName, "validating-webhook-configuration", "dgdr-validating-webhook", "ValidatingWebhookConfiguration whose caBundle --self-managed-certs sets")
	fs.StringVar(&c.CRDName, "crd-name", "dynamographdeploymentrequests.nvidia.com", "CRD whose conversion webhook caBundle --self-managed-certs sets (empty: none)")
	fs.DurationVar(&c.RotateEvery, "cert-check-interval", time.Hour, "how often --self-managed-certs checks the certificate for renewal")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig for --self-managed-certs outside a cluster (default: in-cluster)")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: webhook [flags]\n\nAdmission and conversion webhook for nvidia.com DynamoGraphDeploymentRequest (v1alpha1 and v1beta1).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: the webhook takes only flags (see --help)", fs.Args())
	}
	if c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("--port %d is out of range: use 1 to 65535", c.Port)
	}
	if _, err := webhook.TLSOpts(c.TLSMinVersion, c.EnableHTTP2); err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{"--read-timeout": c.ReadTimeout, "--write-timeout": c.WriteTimeout, "--shutdown-timeout": c.ShutdownTimeout} {
		if d <= 0 || d > 5*time.Minute {
			return nil, fmt.Errorf("%s %s is out of range: use a duration above 0 and at most 5m, e.g. 10s", name, d)
		}
	}
	return c, nil
}

// Main parses args and serves until ctx ends.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := Parse(args, stderr)
	if err != nil {
		return err
	}
	if c.Version {
		v := version.Get()
		fmt.Fprintf(stdout, "webhook %s (commit %s, %s, %s)\n", v.Version, v.Commit, v.GoVersion, v.Platform)
		return nil
	}
	log := funcr.New(func(prefix, args string) {
		fmt.Fprintf(stderr, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339), prefix, args)
	}, funcr.Options{})
	ctrllog.SetLogger(log)
	c.Log = log
	if n, ok := memoryLimit(os.Getenv("MEMORY_LIMIT"), os.Getenv("GOMEMLIMIT")); ok {
		debug.SetMemoryLimit(n)
		log.Info("Go memory limit set from the container's", "MEMORY_LIMIT", os.Getenv("MEMORY_LIMIT"), "GOMEMLIMIT", n)
	}
	if c.SelfManagedCerts {
		r, err := c.rotator()
		if err != nil {
			return err
		}
		c.SelfManaged = r
	}
	return webhook.Run(ctx, c.Options)
}

// memoryLimit is 90 % of the container's memory limit in bytes (the
// Deployment passes it from the downward API as MEMORY_LIMIT), the rest
// left for memory the Go runtime does not count. An explicit GOMEMLIMIT
// wins; no or a bad MEMORY_LIMIT leaves the runtime's default.
func memoryLimit(limit, gomemlimit string) (int64, bool) {
	if gomemlimit != "" || limit == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(limit, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n / 10 * 9, true
}

func (c *Config) rotator() (*webhook.CertRotator, error) {
	ns := c.Namespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	if ns == "" {
		if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	}
	if ns == "" {
		return nil, errors.New("--self-managed-certs needs the namespace: set --cert-namespace or POD_NAMESPACE")
	}
	var cfg *rest.Config
	var err error
	if c.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("--self-managed-certs needs the API server: %w", err)
	}
	return webhook.NewCertRotator(cfg, webhook.CertRotator{
		Namespace: ns, SecretName: c.SecretName, ServiceName: c.ServiceName,
		MutatingName: c.MutatingName, ValidatingName: c.ValidatingName, CRDName: c.CRDName, CertDir: c.CertDir,
	})
}
