package webhook

// IssueForTest returns a fresh CA and serving certificate for
// <service>.default.svc as Secret data (tls.crt, tls.key, ca.crt, ca.key),
// for tests and local runs that need a certificate directory.
func IssueForTest(service string) (map[string][]byte, error) {
	return (&CertRotator{Namespace: "default", ServiceName: service}).issue(nil)
}
