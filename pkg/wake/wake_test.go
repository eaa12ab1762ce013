package wake

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

func pod(name string) *corev1.Pod { return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}} }

func expect(t *testing.T, ch <-chan struct{}, want bool, what string) {
	t.Helper()
	select {
	case <-ch:
		if !want {
			t.Fatalf("%s: unexpected wake-up", what)
		}
	case <-time.After(300 * time.Millisecond):
		if want {
			t.Fatalf("%s: no wake-up", what)
		}
	}
}

// Kept events wake, others do not, bursts merge into one pending wake-up,
// and a watch the server closes is opened again.
func TestOn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchers := make(chan *watch.FakeWatcher, 2)
	var opens atomic.Int32
	open := func(context.Context) (watch.Interface, error) {
		opens.Add(1)
		w := watch.NewFake()
		watchers <- w
		return w, nil
	}
	ch := On(ctx, open, func(o runtime.Object) bool { return o.(*corev1.Pod).Name == "mine" }, nil)

	w := <-watchers
	w.Modify(pod("other"))
	expect(t, ch, false, "another object")
	w.Modify(pod("mine"))
	expect(t, ch, true, "the object")
	for range 5 {
		w.Modify(pod("mine"))
	}
	// The fake watch is unbuffered and On reads it in one loop: this ignored
	// event is taken only after the burst's last one has been handled.
	w.Modify(pod("other"))
	expect(t, ch, true, "a burst")
	expect(t, ch, false, "the burst again")

	w.Stop() // the server closes the watch
	w2 := <-watchers
	w2.Add(pod("mine"))
	expect(t, ch, true, "after the re-open")
	if opens.Load() != 2 {
		t.Errorf("opened %d times, want 2", opens.Load())
	}
}

func TestOnCannotOpen(t *testing.T) {
	got := make(chan error, 2)
	ch := On(context.Background(), func(context.Context) (watch.Interface, error) {
		return nil, errors.New("forbidden")
	}, nil, func(err error) { got <- err })
	expect(t, ch, false, "a failed watch")
	if err := <-got; err.Error() != "forbidden" || len(got) != 0 {
		t.Errorf("cannot got %v (and %d more calls)", err, len(got))
	}
}
