package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextv1client "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	admissionregv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// Secret keys of the self-managed certificate.
const (
	CACertKey = "ca.crt"
	CAKeyKey  = "ca.key"
	CertKey   = corev1.TLSCertKey       // tls.crt
	KeyKey    = corev1.TLSPrivateKeyKey // tls.key
)

// CertRotator issues a CA and a serving certificate into one Secret, renews
// them ahead of expiry, writes the serving pair to CertDir (the server's
// certwatcher reloads it) and puts the CA into caBundle of both webhook
// configurations and of the DGDR CRD's conversion webhook. It touches only
// those four objects, by name (GET and
// UPDATE), so its RBAC can be limited with resourceNames. The Secret is the
// source of truth; with two replicas its resourceVersion is the lock: on a
// conflict the loser re-reads and adopts the winner's certificate.
type CertRotator struct {
	Secrets  corev1client.SecretsGetter
	Webhooks admissionregv1client.AdmissionregistrationV1Interface
	CRDs     apiextv1client.CustomResourceDefinitionsGetter

	Namespace      string
	SecretName     string
	ServiceName    string // DNS names are <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local
	MutatingName   string
	ValidatingName string
	// CRDName is the CRD whose conversion webhook gets the CA too (the DGDR
	// CRD converts between its versions through this server); "" for none.
	CRDName string
	CertDir string

	CAValidity   time.Duration // default 10 years
	CertValidity time.Duration // default 1 year
	RenewBefore  time.Duration // default 30 days
	Now          func() time.Time
}

// NewCertRotator builds a rotator with clients from cfg.
func NewCertRotator(cfg *rest.Config, r CertRotator) (*CertRotator, error) {
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	adm, err := admissionregv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ext, err := apiextv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	r.Secrets, r.Webhooks, r.CRDs = core, adm, ext
	return &r, nil
}

func (r *CertRotator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *CertRotator) durations() (ca, leaf, renew time.Duration) {
	ca, leaf, renew = r.CAValidity, r.CertValidity, r.RenewBefore
	if ca <= 0 {
		ca = 10 * 365 * 24 * time.Hour
	}
	if leaf <= 0 {
		leaf = 365 * 24 * time.Hour
	}
	if renew <= 0 {
		renew = 30 * 24 * time.Hour
	}
	return
}

// DNSNames are the names the serving certificate covers.
func (r *CertRotator) DNSNames() []string {
	base := fmt.Sprintf("%s.%s.svc", r.ServiceName, r.Namespace)
	return []string{base, base + ".cluster.local"}
}

// EnsureWithRetry runs Ensure with backoff until it succeeds or ctx ends.
func (r *CertRotator) EnsureWithRetry(ctx context.Context, log logr.Logger) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 8, Cap: 30 * time.Second},
		func(ctx context.Context) (bool, error) {
			if last = r.Ensure(ctx); last != nil {
				log.Error(last, "self-managed certificate not ready; retrying")
				return false, nil
			}
			return true, nil
		})
	if err != nil && last != nil {
		return fmt.Errorf("self-managed certificate: %w", last)
	}
	return err
}

// Loop re-checks the certificate every interval until ctx ends.
func (r *CertRotator) Loop(ctx context.Context, every time.Duration, log logr.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Ensure(ctx); err != nil {
				log.Error(err, "certificate rotation failed; will retry")
			}
		}
	}
}

// Ensure makes the Secret hold a valid CA and serving certificate, writes
// the pair to CertDir and injects the CA into both configurations.
func (r *CertRotator) Ensure(ctx context.Context) error {
	sec, err := r.Secrets.Secrets(r.Namespace).Get(ctx, r.SecretName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get Secret %s/%s (it ships empty with the self-managed manifests): %w", r.Namespace, r.SecretName, err)
	}
	if reason := r.needsRenewal(sec.Data); reason != "" {
		data, err := r.issue(sec.Data)
		if err != nil {
			return err
		}
		upd := sec.DeepCopy()
		upd.Data = data
		if upd.Type == "" {
			upd.Type = corev1.SecretTypeOpaque
		}
		got, err := r.Secrets.Secrets(r.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
		switch {
		case apierrors.IsConflict(err):
			// Another replica won the race; adopt its certificate.
			if sec, err = r.Secrets.Secrets(r.Namespace).Get(ctx, r.SecretName, metav1.GetOptions{}); err != nil {
				return err
			}
			if reason := r.needsRenewal(sec.Data); reason != "" {
				return fmt.Errorf("secret %s/%s changed concurrently and is still not usable: %s", r.Namespace, r.SecretName, reason)
			}
		case err != nil:
			return fmt.Errorf("update Secret %s/%s: %w", r.Namespace, r.SecretName, err)
		default:
			sec = got
		}
	}
	if err := r.writeFiles(sec.Data); err != nil {
		return err
	}
	return r.injectCABundle(ctx, sec.Data[CACertKey])
}

// needsRenewal says why the Secret's certificates cannot be used as they
// are, or "" when they can.
func (r *CertRotator) needsRenewal(data map[string][]byte) string {
	ca, _, err := parsePair(data[CACertKey], data[CAKeyKey])
	if err != nil {
		return "no usable CA: " + err.Error()
	}
	_, _, renew := r.durations()
	now := r.now()
	if now.Add(renew).After(ca.NotAfter) {
		return "CA expires soon"
	}
	leaf, _, err := parsePair(data[CertKey], data[KeyKey])
	if err != nil {
		return "no usable serving certificate: " + err.Error()
	}
	if now.Add(renew).After(leaf.NotAfter) {
		return "serving certificate expires soon"
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, n := range r.DNSNames() {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, CurrentTime: now}); err != nil {
			return "serving certificate does not verify for " + n + ": " + err.Error()
		}
	}
	return ""
}

// issue returns new Secret data: the existing CA when it is still good,
// else a new one, and a new serving certificate signed by it.
func (r *CertRotator) issue(old map[string][]byte) (map[string][]byte, error) {
	caDur, leafDur, renew := r.durations()
	now := r.now()
	ca, caKey, err := parsePair(old[CACertKey], old[CAKeyKey])
	caPEM, caKeyPEM := old[CACertKey], old[CAKeyKey]
	if err != nil || now.Add(renew).After(ca.NotAfter) {
		caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "dgdr-webhook-ca", Organization: []string{"kubectl-dgdr"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(caDur),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		if ca, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if caKeyPEM, err = keyPEM(caKey); err != nil {
			return nil, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(leafDur)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: r.DNSNames()[0]},
		DNSNames:     r.DNSNames(),
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		CACertKey: caPEM, CAKeyKey: caKeyPEM,
		CertKey: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyKey: kp,
	}, nil
}

// writeFiles writes tls.crt and tls.key atomically (rename), key first so
// the watcher never pairs a new certificate with an old key for long.
func (r *CertRotator) writeFiles(data map[string][]byte) error {
	if err := os.MkdirAll(r.CertDir, 0o700); err != nil {
		return err
	}
	for _, k := range []string{KeyKey, CertKey, CACertKey} {
		p := filepath.Join(r.CertDir, k)
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, data[k]) {
			continue
		}
		tmp, err := os.CreateTemp(r.CertDir, "."+k+"-*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(data[k])
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(tmp.Name())
			return err
		}
		if err := os.Rename(tmp.Name(), p); err != nil {
			return err
		}
	}
	return nil
}

// injectCABundle sets caBundle on every webhook of both configurations and
// on the CRD's conversion webhook.
func (r *CertRotator) injectCABundle(ctx context.Context, ca []byte) error {
	if r.MutatingName != "" {
		m, err := r.Webhooks.MutatingWebhookConfigurations().Get(ctx, r.MutatingName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get MutatingWebhookConfiguration %s: %w", r.MutatingName, err)
		}
		changed := false
		for i := range m.Webhooks {
			if !bytes.Equal(m.Webhooks[i].ClientConfig.CABundle, ca) {
				m.Webhooks[i].ClientConfig.CABundle, changed = ca, true
			}
		}
		if changed {
			if _, err := r.Webhooks.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update MutatingWebhookConfiguration %s: %w", r.MutatingName, err)
			}
		}
	}
	if r.CRDName != "" {
		crd, err := r.CRDs.CustomResourceDefinitions().Get(ctx, r.CRDName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get CustomResourceDefinition %s: %w", r.CRDName, err)
		}
		if c := crd.Spec.Conversion; c != nil && c.Webhook != nil && c.Webhook.ClientConfig != nil && !bytes.Equal(c.Webhook.ClientConfig.CABundle, ca) {
			c.Webhook.ClientConfig.CABundle = ca
			if _, err := r.CRDs.CustomResourceDefinitions().Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update CustomResourceDefinition %s: %w", r.CRDName, err)
			}
		}
	}
	if r.ValidatingName != "" {
		v, err := r.Webhooks.ValidatingWebhookConfigurations().Get(ctx, r.ValidatingName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get ValidatingWebhookConfiguration %s: %w", r.ValidatingName, err)
		}
		changed := false
		for i := range v.Webhooks {
			if !bytes.Equal(v.Webhooks[i].ClientConfig.CABundle, ca) {
				v.Webhooks[i].ClientConfig.CABundle, changed = ca, true
			}
		}
		if changed {
			if _, err := r.Webhooks.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update ValidatingWebhookConfiguration %s: %w", r.ValidatingName, err)
			}
		}
	}
	return nil
}

func parsePair(certPEM, keyPEMBytes []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEMBytes)
	if kb == nil {
		return nil, nil, errors.New("no PEM key")
	}
	k, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	if !k.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("key does not match certificate")
	}
	return cert, k, nil
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
