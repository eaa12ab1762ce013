package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkHostileReview is the server's in-process cost of each hostile
// review through the guard and both handlers: what a single attacker can
// make one CPU spend per request.
func BenchmarkHostileReview(b *testing.B) {
	m, v := handlers()
	hs := map[string]http.Handler{"mutate": guard(m, nil), "validate": guard(v, nil)}
	for name, body := range hostileBodies(b) {
		for hn, h := range hs {
			b.Run(name+"/"+hn, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					h.ServeHTTP(rec, req)
				}
			})
		}
	}
}
