package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
)

// Options configure the webhook binary.
type Options struct {
	Host    string
	Port    int
	CertDir string
	// TLSMinVersion is "1.2" or "1.3".
	TLSMinVersion string
	// EnableHTTP2 is off by default (CVE-2023-44487/39325 rapid reset).
	EnableHTTP2 bool
	// HealthProbeBindAddress serves /healthz and /readyz; "" or "0" disables.
	HealthProbeBindAddress string
	// MetricsBindAddress serves Prometheus metrics at /metrics; "" or "0" disables.
	MetricsBindAddress string
	// ReadTimeout bounds reading one request, body included, and
	// WriteTimeout the time from the end of the headers to the answer: a
	// client that sends slowly is cut off. Zero takes the defaults.
	ReadTimeout, WriteTimeout time.Duration
	// ShutdownTimeout is how long in-flight reviews get to finish after
	// the stop signal; the pod's terminationGracePeriodSeconds is longer.
	ShutdownTimeout time.Duration
	// SelfManaged, when set, issues and rotates the serving certificate in
	// a Secret, writes it to CertDir and patches caBundle (no cert-manager).
	SelfManaged *CertRotator
	// RotateEvery is how often the self-managed certificate is checked.
	RotateEvery time.Duration
	Log         logr.Logger
}

// The server's defaults. The API server waits at most 30 s for a webhook
// (10 s by default), so a review that needs longer is already lost.
const (
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	readHeaderTimeout      = 5 * time.Second
	idleTimeout            = 90 * time.Second // the API server's keep-alive
)

// tls12Suites are the TLS 1.2 suites offered: ECDHE with an AEAD cipher
// only, so no CBC suite (ECDHE-RSA-AES128-SHA and the like) is negotiated.
// TLS 1.3 suites are not configurable and are all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSOpts returns the server's TLS settings: the minimum version, AEAD
// suites only and, unless enabled, HTTP/2 turned off.
func TLSOpts(minVersion string, enableHTTP2 bool) ([]func(*tls.Config), error) {
	var v uint16
	switch minVersion {
	case "", "1.2":
		v = tls.VersionTLS12
	case "1.3":
		v = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("--tls-min-version %q is not supported: use 1.2 or 1.3", minVersion)
	}
	opts := []func(*tls.Config){func(c *tls.Config) { c.MinVersion, c.CipherSuites = v, tls12Suites }}
	if !enableHTTP2 {
		opts = append(opts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	return opts, nil
}

// Server is a controller-runtime webhook.Server with the limits its
// DefaultServer leaves open: read, write and header timeouts, a body cap
// and the AdmissionReview envelope check (guard.go). Hooks are registered
// through a DefaultServer, so controller-runtime's per-path metrics stay;
// this type serves that mux itself.
type Server struct {
	inner  crwebhook.Server // Register and metrics only; never started
	mux    *http.ServeMux
	o      Options
	budget *rate.Limiter // for large reviews, shared by the hooks

	mu      sync.Mutex
	serving bool // listening and not shutting down
}

var _ crwebhook.Server = (*Server)(nil)

// NewServer builds the server. It needs no API server: the certificate
// comes from CertDir and is reloaded when the files change.
func NewServer(o Options) (*Server, error) {
	if _, err := TLSOpts(o.TLSMinVersion, o.EnableHTTP2); err != nil {
		return nil, err
	}
	o.ReadTimeout = cmpOr(o.ReadTimeout, DefaultReadTimeout)
	o.WriteTimeout = cmpOr(o.WriteTimeout, DefaultWriteTimeout)
	o.ShutdownTimeout = cmpOr(o.ShutdownTimeout, DefaultShutdownTimeout)
	mux := http.NewServeMux()
	return &Server{inner: crwebhook.NewServer(crwebhook.Options{WebhookMux: mux}), mux: mux, o: o, budget: NewLargeReviewBudget()}, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Register serves hook at path; admission hooks get the envelope guard.
func (s *Server) Register(path string, hook http.Handler) {
	s.inner.Register(path, guard(hook, s.budget))
}

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// WebhookMux is the mux the hooks are registered in.
func (s *Server) WebhookMux() *http.ServeMux { return s.mux }

// Start serves until ctx ends, then stops taking connections and gives
// in-flight reviews ShutdownTimeout to finish.
func (s *Server) Start(ctx context.Context) error {
	cfg := &tls.Config{}
	opts, _ := TLSOpts(s.o.TLSMinVersion, s.o.EnableHTTP2) // checked in NewServer
	for _, op := range opts {
		op(cfg)
	}
	w, err := certwatcher.New(certPath(s.o.CertDir, "tls.crt"), certPath(s.o.CertDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("serving certificate in --cert-dir %s: %w", s.o.CertDir, err)
	}
	cfg.GetCertificate = w.GetCertificate
	go func() {
		if err := w.Start(ctx); err != nil {
			s.o.Log.Error(err, "certificate watcher")
		}
	}()
	ln, err := tls.Listen("tcp", net.JoinHostPort(s.o.Host, strconv.Itoa(s.o.Port)), cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.mux,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		WriteTimeout:      s.o.WriteTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		s.setServing(false) // readiness fails first, so no new reviews are routed here
		sctx, cancel := context.WithTimeout(context.Background(), s.o.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.o.Log.Error(err, "shutting down the webhook server")
		}
	}()
	s.setServing(true)
	s.o.Log.Info("serving webhooks", "addr", ln.Addr().String(), "readTimeout", s.o.ReadTimeout, "writeTimeout", s.o.WriteTimeout)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}

func (s *Server) setServing(v bool) {
	s.mu.Lock()
	s.serving = v
	s.mu.Unlock()
}

// StartedChecker is ready while the server listens and completes a TLS
// handshake; it fails from the stop signal on.
func (s *Server) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		s.mu.Lock()
		serving := s.serving
		s.mu.Unlock()
		if !serving {
			return errors.New("webhook server is not serving")
		}
		host := s.o.Host
		if host == "" {
			host = "127.0.0.1"
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(host, strconv.Itoa(s.o.Port)), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a liveness dial to ourselves
		if err != nil {
			return fmt.Errorf("webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}

func certPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// NewManager builds the controller-runtime Manager that runs the webhook:
// the Server above, health and readiness probes, Prometheus metrics and a
// graceful shutdown. It does not contact the API server.
func NewManager(o Options) (manager.Manager, error) {
	srv, err := NewServer(o)
	if err != nil {
		return nil, err
	}
	// The manager wants a config for its client and cache. The webhook uses
	// neither (the certificate rotator has its own clients), so nothing ever
	// dials this address and the binary starts with no API server at all.
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	grace := o.ShutdownTimeout + 5*time.Second
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                  NewScheme(),
		WebhookServer:           srv,
		HealthProbeBindAddress:  disabled(o.HealthProbeBindAddress),
		Metrics:                 metricsserver.Options{BindAddress: disabled(o.MetricsBindAddress)},
		GracefulShutdownTimeout: &grace,
		Logger:                  o.Log,
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return nil, err
	}
	if err := Setup(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}

// disabled maps "" to "0", the manager's word for off.
func disabled(addr string) string {
	if addr == "" {
		return "0"
	}
	return addr
}

// Setup registers the DGDR webhooks with the manager through
// controller-runtime's builder: v1alpha1's validator, v1beta1's validator
// at its own path, and /convert (the builder adds it because v1beta1 is the
// Hub and v1alpha1 Convertible). The mutating handler is registered first
// at the path the builder would use, because it answers with a one-op
// config patch instead of the builder's whole-object diff (handlers.go):
// the builder sees the path taken and leaves it alone.
func Setup(mgr manager.Manager) error {
	mgr.GetWebhookServer().Register(admission.MutatePath, NewMutatingWebhook(mgr.GetScheme()))
	if err := builder.WebhookManagedBy(mgr, &DGDR{}).
		WithValidator(Validator()).
		WithValidatorCustomPath(admission.ValidatePath).
		Complete(); err != nil {
		return err
	}
	return builder.WebhookManagedBy(mgr, &DGDRV1beta1{}).
		WithValidator(ValidatorV1beta1()).
		WithValidatorCustomPath(admission.ValidatePathV1beta1).
		Complete()
}

// Run serves until ctx ends. With SelfManaged it first makes sure a valid
// certificate is in CertDir and in both webhook configurations, then keeps
// rotating it alongside the server.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if r := o.SelfManaged; r != nil {
		if r.CertDir == "" {
			r.CertDir = o.CertDir
		}
		if err := r.EnsureWithRetry(ctx, log); err != nil {
			return err
		}
	}
	mgr, err := NewManager(o)
	if err != nil {
		return err
	}
	if r := o.SelfManaged; r != nil {
		every := o.RotateEvery
		if every <= 0 {
			every = time.Hour
		}
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			r.Loop(ctx, every, log)
			return nil
		})); err != nil {
			return err
		}
	}
	log.Info("starting", "port", o.Port, "certDir", o.CertDir, "tlsMinVersion", o.TLSMinVersion, "http2", o.EnableHTTP2)
	return mgr.Start(ctx)
}
