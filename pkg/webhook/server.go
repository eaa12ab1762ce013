package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
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
	// SelfManaged, when set, issues and rotates the serving certificate in
	// a Secret, writes it to CertDir and patches caBundle (no cert-manager).
	SelfManaged *CertRotator
	// RotateEvery is how often the self-managed certificate is checked.
	RotateEvery time.Duration
	Log         logr.Logger
}

// TLSOpts returns the server's TLS settings: the minimum version and,
// unless enabled, HTTP/2 turned off.
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
	opts := []func(*tls.Config){func(c *tls.Config) { c.MinVersion = v }}
	if !enableHTTP2 {
		opts = append(opts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	return opts, nil
}

// NewServer builds the webhook server with both handlers registered. It
// needs no API server: the certificate comes from CertDir and is reloaded
// when the files change.
func NewServer(o Options) (crwebhook.Server, error) {
	tlsOpts, err := TLSOpts(o.TLSMinVersion, o.EnableHTTP2)
	if err != nil {
		return nil, err
	}
	srv := crwebhook.NewServer(crwebhook.Options{Host: o.Host, Port: o.Port, CertDir: o.CertDir, TLSOpts: tlsOpts})
	Register(srv, NewScheme())
	return srv, nil
}

// Run serves until ctx ends. With SelfManaged it first makes sure a valid
// certificate is in CertDir and in both webhook configurations.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	srv, err := NewServer(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)

	if o.HealthProbeBindAddress != "" && o.HealthProbeBindAddress != "0" {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		ready := srv.StartedChecker()
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
			if err := ready(r); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
		go func() { errc <- serveHTTP(ctx, o.HealthProbeBindAddress, mux, "health probes") }()
	}
	if o.MetricsBindAddress != "" && o.MetricsBindAddress != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
		go func() { errc <- serveHTTP(ctx, o.MetricsBindAddress, mux, "metrics") }()
	}

	if r := o.SelfManaged; r != nil {
		if r.CertDir == "" {
			r.CertDir = o.CertDir
		}
		if err := r.EnsureWithRetry(ctx, log); err != nil {
			return err
		}
		every := o.RotateEvery
		if every <= 0 {
			every = time.Hour
		}
		go r.Loop(ctx, every, log)
	}

	go func() { errc <- srv.Start(ctx) }()
	log.Info("serving", "port", o.Port, "certDir", o.CertDir, "tlsMinVersion", o.TLSMinVersion, "http2", o.EnableHTTP2)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
}

func serveHTTP(ctx context.Context, addr string, h http.Handler, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", what, addr, err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
	}()
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
