package cluster

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Changes signals on the returned channel whenever the API server reports
// an event for the object key (list is an empty list of its kind). It
// re-opens the watch when the server closes it. When the client cannot
// watch, or the watch cannot be opened (no watch verb, say), it calls
// cannot once (if not nil) and stops; callers keep a timer as well, so
// they follow the object either way, only less promptly without it.
func Changes(ctx context.Context, c client.Client, list client.ObjectList, key types.NamespacedName, cannot func(error)) <-chan struct{} {
	changed := make(chan struct{}, 1)
	wc, ok := c.(client.WithWatch)
	if !ok {
		return changed
	}
	go func() {
		for ctx.Err() == nil {
			w, err := wc.Watch(ctx, list, client.InNamespace(key.Namespace), client.MatchingFields{"metadata.name": key.Name})
			if err != nil {
				if ctx.Err() == nil && cannot != nil {
					cannot(err)
				}
				return
			}
			for ev := range w.ResultChan() {
				if obj, ok := ev.Object.(client.Object); ok && obj.GetName() != key.Name {
					continue // a server (or fake) that ignores the field selector
				}
				select {
				case changed <- struct{}{}:
				default: // a wake-up is already pending
				}
			}
			w.Stop()
			select { // the server closed it: reopen, but never in a tight loop
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return changed
}
