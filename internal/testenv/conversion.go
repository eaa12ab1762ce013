package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/conversion"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
)

// ConvertPath is where the API server sends ConversionReviews; envtest
// points every CRD with convertible types at it.
const ConvertPath = "/convert"

// conversionScheme holds both DGDR versions. Given to envtest, it makes the
// installed DGDR CRD convert through a webhook on envtest's serving address
// (the CRD's own strategy names the in-cluster Service).
func conversionScheme() (*runtime.Scheme, error) {
	return api.NewScheme()
}

// startConversion serves the DGDR conversion webhook over TLS on envtest's
// address, for tests that do not run this project's webhook server (which
// serves /convert itself). It returns when the port accepts TLS.
func startConversion(ctx context.Context, o envtest.WebhookInstallOptions, s *runtime.Scheme) error {
	srv := crwebhook.NewServer(crwebhook.Options{Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir})
	srv.Register(ConvertPath, conversion.NewWebhookHandler(s, conversion.NewRegistry()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Start(ctx) }()
	addr := net.JoinHostPort(o.LocalServingHost, strconv.Itoa(o.LocalServingPort))
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		select {
		case err := <-errc:
			return false, fmt.Errorf("the conversion webhook stopped: %w", err)
		default:
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a readiness probe of our own server
		if err != nil {
			return false, nil
		}
		_ = conn.Close()
		return true, nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serving the DGDR conversion webhook on %s: %w", addr, err)
	}
	return err
}
