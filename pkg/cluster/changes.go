package cluster

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/wake"
)

// Changes signals whenever the API server reports an event for the object
// key (list is an empty list of its kind), through a watch with a
// metadata.name field selector. A client that cannot watch never signals;
// a watch that cannot be opened calls cannot (see wake.On). Callers keep a
// timer as well.
func Changes(ctx context.Context, c client.Client, list client.ObjectList, key types.NamespacedName, cannot func(error)) <-chan struct{} {
	wc, ok := c.(client.WithWatch)
	if !ok {
		return make(chan struct{})
	}
	open := func(ctx context.Context) (watch.Interface, error) {
		return wc.Watch(ctx, list, client.InNamespace(key.Namespace), client.MatchingFields{"metadata.name": key.Name})
	}
	// A server (or fake) that ignores the field selector sends others too.
	keep := func(o runtime.Object) bool {
		obj, ok := o.(client.Object)
		return !ok || obj.GetName() == key.Name
	}
	return wake.On(ctx, open, keep, cannot)
}
