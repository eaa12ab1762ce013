// Package wake turns a Kubernetes watch into wake-up signals for loops that
// also run on a timer: the loop reacts as soon as the API server reports a
// change, and the timer keeps it going when the watch is not allowed or not
// possible.
package wake

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Reopen is the pause before a watch the server closed is opened again.
const Reopen = time.Second

// On signals on the returned channel for every event whose object keep
// accepts (every event when keep is nil); signals that arrive while one is
// pending are merged. It re-opens the watch when the server closes it, at
// most once per Reopen. When open fails it calls cannot (if not nil) once
// and stops signalling. It ends with ctx.
func On(ctx context.Context, open func(context.Context) (watch.Interface, error), keep func(runtime.Object) bool, cannot func(error)) <-chan struct{} {
	changed := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			w, err := open(ctx)
			if err != nil {
				if ctx.Err() == nil && cannot != nil {
					cannot(err)
				}
				return
			}
			for ev := range w.ResultChan() {
				if keep != nil && !keep(ev.Object) {
					continue
				}
				select {
				case changed <- struct{}{}:
				default: // a wake-up is already pending
				}
			}
			w.Stop()
			select { // never re-open in a tight loop
			case <-ctx.Done():
			case <-time.After(Reopen):
			}
		}
	}()
	return changed
}
