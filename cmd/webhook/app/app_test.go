package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/webhook"
)

func TestHelpListsFlags(t *testing.T) {
	var out bytes.Buffer
	err := Main(context.Background(), []string{"--help"}, &out, &out)
	if err != ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"--port", "--cert-dir", "--health-probe-bind-address", "--metrics-bind-address", "--tls-min-version",
		"--enable-http2", "--self-managed-certs", "(default 9443)", `(default "1.2")`} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help lacks %s:\n%s", f, out.String())
		}
	}
}

func TestParseRejects(t *testing.T) {
	for args, want := range map[string]string{
		"--tls-min-version=1.1": `--tls-min-version "1.1" is not supported: use 1.2 or 1.3`,
		"--port=0":              "--port 0 is out of range",
		"serve":                 "unexpected arguments",
	} {
		_, err := Parse(strings.Fields(args), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", args, err, want)
		}
	}
	c, err := Parse(nil, io.Discard)
	if err != nil || c.Port != 9443 || c.TLSMinVersion != "1.2" || c.EnableHTTP2 || c.SelfManagedCerts {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeCert(t *testing.T, dir, service string) *x509.Certificate {
	t.Helper()
	data, err := webhook.IssueForTest(service)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tls.key", "tls.crt"} {
		tmp := filepath.Join(dir, "."+k)
		if err := os.WriteFile(tmp, data[k], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := pem.Decode(data["tls.crt"])
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The binary serves from --cert-dir alone (no API server anywhere), keeps
// HTTP/2 and TLS < 1.2 off, answers probes, and reloads rotated files.
func TestServesFromCertDirAlone(t *testing.T) {
	dir := t.TempDir()
	first := writeCert(t, dir, "one")
	port, probe := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{fmt.Sprintf("--port=%d", port), "--host=127.0.0.1", "--cert-dir=" + dir,
			fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe)}, io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Main: %v", err)
		}
	}()
	probeURL := fmt.Sprintf("http://127.0.0.1:%d", probe)
	var lastErr error
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get(probeURL + "/readyz")
		if lastErr = err; err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		t.Fatalf("never ready: %v (last: %v)", err, lastErr)
	}
	if resp, err := http.Get(probeURL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	served := func(cfg *tls.Config) (*x509.Certificate, string, error) {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, "", err
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return st.PeerCertificates[0], st.NegotiatedProtocol, nil
	}
	cert, proto, err := served(&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil || cert.SerialNumber.Cmp(first.SerialNumber) != 0 || proto == "h2" {
		t.Fatalf("served %v proto %q err %v; want the first certificate over HTTP/1.1", cert, proto, err)
	}
	if _, _, err := served(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// An admission review over HTTPS.
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE",` +
		`"kind":{"group":"nvidia.com","version":"v1alpha1","kind":"DynamoGraphDeploymentRequest"},` +
		`"resource":{"group":"nvidia.com","version":"v1alpha1","resource":"dynamographdeploymentrequests"},` +
		`"object":{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeploymentRequest","metadata":{"name":"x"},"spec":{"model":"","backend":"vllm","profilingConfig":{"profilerImage":"i"}}}}}`)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post("https://"+addr+admission.ValidatePath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ar struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Status  struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ar)
	resp.Body.Close()
	if ar.Response.UID != "1" || ar.Response.Allowed || !strings.Contains(ar.Response.Status.Message, "spec.model: Required value: model is required") {
		t.Errorf("review response: %+v", ar.Response)
	}
	// Rotated files are picked up without a restart.
	second := writeCert(t, dir, "two")
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		cert, _, lastErr = served(&tls.Config{InsecureSkipVerify: true})
		return lastErr == nil && cert.SerialNumber.Cmp(second.SerialNumber) == 0, nil
	}); err != nil {
		var subject any
		if cert != nil {
			subject = cert.Subject
		}
		t.Fatalf("the rotated certificate was never served (still %v, err %v)", subject, lastErr)
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, gomem string
		want         int64
		ok           bool
	}{
		{"134217728", "", 120795948, true}, // 128Mi -> 90 %
		{"134217728", "100MiB", 0, false},  // an explicit GOMEMLIMIT wins
		{"", "", 0, false},
		{"lots", "", 0, false},
		{"-1", "", 0, false},
	} {
		if got, ok := memoryLimit(tc.limit, tc.gomem); got != tc.want || ok != tc.ok {
			t.Errorf("memoryLimit(%q, %q) = %d, %v; want %d, %v", tc.limit, tc.gomem, got, ok, tc.want, tc.ok)
		}
	}
}
