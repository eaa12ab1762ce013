package worker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/worker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// WaitReady keeps polling until both endpoints answer 200, and its timeout
// error names the last answer.
func TestWaitReady(t *testing.T) {
	var modelsCalls atomic.Int32
	var readyAfter atomic.Int32
	readyAfter.Store(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" && modelsCalls.Add(1) < readyAfter.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	r := &worker.Runner{Poll: time.Millisecond}
	task := workerproto.Task{EngineURL: srv.URL, ReadyTimeout: 30 * time.Second}
	if err := r.WaitReady(context.Background(), task); err != nil || modelsCalls.Load() != readyAfter.Load() {
		t.Fatalf("WaitReady = %v after %d calls, want nil after %d", err, modelsCalls.Load(), readyAfter.Load())
	}

	modelsCalls.Store(0)
	readyAfter.Store(1 << 30)
	task.ReadyTimeout = 50 * time.Millisecond
	err := r.WaitReady(context.Background(), task)
	if err == nil || !strings.Contains(err.Error(), "not ready within 50ms") || !strings.Contains(err.Error(), "GET /v1/models: HTTP 503") {
		t.Fatalf("want a timeout naming the last answer, got %v", err)
	}
}
