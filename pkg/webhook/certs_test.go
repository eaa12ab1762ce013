package webhook

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestIssueAndRenew(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC)
	r := &CertRotator{Namespace: "dgdr-system", ServiceName: "dgdr-webhook", Now: func() time.Time { return now }}
	if reason := r.needsRenewal(nil); reason == "" {
		t.Fatal("an empty Secret must need a certificate")
	}
	data, err := r.issue(nil)
	if err != nil {
		t.Fatal(err)
	}
	if reason := r.needsRenewal(data); reason != "" {
		b, _ := pem.Decode(data[CertKey])
		c, _ := x509.ParseCertificate(b.Bytes)
		t.Fatalf("fresh certificate needs renewal: %s (NotAfter %v)", reason, c.NotAfter)
	}
	for _, n := range []string{"dgdr-webhook.dgdr-system.svc", "dgdr-webhook.dgdr-system.svc.cluster.local"} {
		b, _ := pem.Decode(data[CertKey])
		c, _ := x509.ParseCertificate(b.Bytes)
		if err := c.VerifyHostname(n); err != nil {
			t.Errorf("certificate does not cover %s: %v", n, err)
		}
	}
	now = now.Add(300 * 24 * time.Hour)
	if reason := r.needsRenewal(data); reason != "" {
		t.Errorf("after 300 days (renewal is 30 days ahead of a 1-year leaf): %q", reason)
	}
	now = now.Add(40 * 24 * time.Hour)
	if reason := r.needsRenewal(data); reason != "serving certificate expires soon" {
		t.Errorf("after 340 days: %q", reason)
	}
	renewed, err := r.issue(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(renewed[CACertKey]) != string(data[CACertKey]) || string(renewed[CertKey]) == string(data[CertKey]) {
		t.Error("renewal must keep the CA and replace the leaf")
	}
	r.ServiceName = "renamed"
	if reason := r.needsRenewal(renewed); reason == "" {
		t.Error("a certificate for another Service name must be replaced")
	}
	bad := map[string][]byte{CACertKey: data[CACertKey], CAKeyKey: data[CAKeyKey], CertKey: data[CertKey], KeyKey: renewed[KeyKey]}
	if reason := r.needsRenewal(bad); reason == "" {
		t.Error("a key that does not match its certificate must be replaced")
	}
}
