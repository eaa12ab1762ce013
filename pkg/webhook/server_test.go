package webhook

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
)

// startServer runs the webhook Manager on loopback with a fresh
// certificate and returns the HTTPS address and the probe address.
func startServer(t *testing.T, o Options) (addr, probe string) {
	t.Helper()
	data, err := IssueForTest("dgdr-webhook")
	if err != nil {
		t.Fatal(err)
	}
	return startServerWith(t, o, data)
}

// startServerWith serves the tls.crt and tls.key of data.
func startServerWith(t *testing.T, o Options, data map[string][]byte) (addr, probe string) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, k), data[k], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o.Host, o.Port, o.CertDir, o.Log = "127.0.0.1", freePort(t), dir, logr.Discard()
	o.HealthProbeBindAddress = "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	probe = "http://" + o.HealthProbeBindAddress
	waitFor(t, 20*time.Second, func() error {
		resp, err := http.Get(probe + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), probe
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it succeeds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, d, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("still failing after %s: %v", d, last)
	}
}

// TestSlowBodyCut: a client that sends its body one byte at a time is cut
// off at the read timeout, while the server keeps answering others.
func TestSlowBodyCut(t *testing.T) {
	const timeout = time.Second
	addr, _ := startServer(t, Options{ReadTimeout: timeout, WriteTimeout: timeout})
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /validate-nvidia-com-v1alpha1-dynamographdeploymentrequest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	// Keep trickling until the server hangs up; a write or a read fails then.
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case took := <-closed:
			// The bound is generous (10x) so a loaded host cannot fail it;
			// without the timeout the connection stays open for good.
			if took > 10*timeout {
				t.Fatalf("closed after %s, read timeout %s", took, timeout)
			}
			t.Logf("slow body cut after %s (read timeout %s)", took.Round(time.Millisecond), timeout)
			return
		case <-tick.C:
			if time.Since(start) > 10*timeout {
				t.Fatalf("slow connection still open after %s; read timeout %s", time.Since(start), timeout)
			}
			_, _ = conn.Write([]byte(" "))
		}
	}
}

// rsaPair is a self-signed RSA serving pair: cert-manager may issue RSA,
// and the RSA CBC suites are the ones a scanner names.
func rsaPair(t *testing.T) map[string][]byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dgdr-webhook"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
}

// TestTLSSuites: TLS 1.2 offers only ECDHE with AEAD ciphers; CBC suites
// such as ECDHE-RSA-AES128-SHA are refused, by Go's client and by openssl,
// with an RSA certificate and with our ECDSA one.
func TestTLSSuites(t *testing.T) {
	ecdsaData, err := IssueForTest("dgdr-webhook")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		data       map[string][]byte
		refused    []uint16
		ok         uint16
		sslRefused string
		sslOK      string
	}{
		{"rsa", rsaPair(t), []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256"},
		{"ecdsa", ecdsaData, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-GCM-SHA256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startServerWith(t, Options{TLSMinVersion: "1.2"}, tc.data)
			dial := func(suite uint16) error {
				c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}})
				if err == nil {
					c.Close()
				}
				return err
			}
			for _, s := range tc.refused {
				if dial(s) == nil {
					t.Errorf("TLS 1.2 suite %s accepted", tls.CipherSuiteName(s))
				}
			}
			if err := dial(tc.ok); err != nil {
				t.Errorf("%s refused: %v", tls.CipherSuiteName(tc.ok), err)
			}
			openssl, err := exec.LookPath("openssl")
			if err != nil {
				t.Log("openssl not installed: checked with Go's client only")
				return
			}
			sClient := func(cipher string) (string, error) {
				cmd := exec.Command(openssl, "s_client", "-connect", addr, "-tls1_2", "-cipher", cipher)
				cmd.Stdin = strings.NewReader("")
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := sClient(tc.sslRefused); err == nil || strings.Contains(out, "Cipher is "+tc.sslRefused) {
				t.Errorf("openssl s_client -cipher %s connected:\n%s", tc.sslRefused, out)
			}
			if out, err := sClient(tc.sslOK); err != nil || !strings.Contains(out, tc.sslOK) {
				t.Errorf("openssl s_client -cipher %s failed (%v):\n%s", tc.sslOK, err, out)
			}
		})
	}
}

// TestGracefulShutdown: after the stop signal readiness fails and the
// listener closes, and a review already being read still gets its answer.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	data, _ := IssueForTest("dgdr-webhook")
	for _, k := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, k), data[k], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{Host: "127.0.0.1", Port: freePort(t), CertDir: dir, Log: logr.Discard(), HealthProbeBindAddress: "0"}
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	srv.Register("/slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	waitFor(t, 10*time.Second, func() error { return srv.StartedChecker()(nil) })
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
	// The request is in flight (headers read, body half sent) when the stop comes.
	waitFor(t, 5*time.Second, func() error {
		if srv.StartedChecker()(nil) == nil {
			cancel()
			return errors.New("stopping")
		}
		return nil
	})
	waitFor(t, 5*time.Second, func() error {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return errors.New("still accepting connections")
		}
		return nil
	})
	fmt.Fprint(conn, "cd")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "abcd" {
		t.Fatalf("in-flight answer %d %q", resp.StatusCode, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Start: %v", err)
	}
}
