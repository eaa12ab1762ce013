package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

// ServedDGDRVersion is the DGDR version the API server prefers: v1beta1
// on clusters with Dynamo 1.0's CRD (or ours), v1alpha1 on older ones.
func ServedDGDRVersion(m meta.RESTMapper) (string, error) {
	mapping, err := m.RESTMapping(schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: v1beta1.DGDRKind})
	if err != nil {
		return "", err
	}
	return mapping.GroupVersionKind.Version, nil
}

// WithServedVersion makes c read and write DGDRs in the version the server
// stores (v1beta1) when it serves it, converting to and from v1alpha1 here,
// so the plugin's code keeps its one v1alpha1 form. It needs no conversion
// webhook in the cluster, and nothing v1alpha1 holds is lost: the client-side
// conversion is the lossless one of pkg/api/v1alpha1, and the status fields
// v1beta1 lacks travel in status.v1alpha1. version is ServedDGDRVersion's.
func WithServedVersion(c client.WithWatch, version string) client.WithWatch {
	if version != v1beta1.GroupVersion.Version {
		return c
	}
	return &hubClient{WithWatch: c}
}

// ServesV1beta1 says whether c reads DGDRs as v1beta1 (WithServedVersion):
// the requests are then handled with v1beta1's defaults and field names.
func ServesV1beta1(c client.Client) bool {
	_, ok := c.(*hubClient)
	return ok
}

// hubClient converts DGDRs to v1beta1 on the way out and back on the way in.
type hubClient struct {
	client.WithWatch
}

func toHub(d *v1alpha1.DynamoGraphDeploymentRequest) (*v1beta1.DynamoGraphDeploymentRequest, error) {
	b := &v1beta1.DynamoGraphDeploymentRequest{}
	if err := d.DeepCopy().ConvertTo(b); err != nil {
		return nil, fmt.Errorf("converting DynamoGraphDeploymentRequest %s/%s to v1beta1: %w", d.Namespace, d.Name, err)
	}
	return b, nil
}

func fromHub(b *v1beta1.DynamoGraphDeploymentRequest, into *v1alpha1.DynamoGraphDeploymentRequest) error {
	a := &v1alpha1.DynamoGraphDeploymentRequest{}
	if err := a.ConvertFrom(b); err != nil {
		return fmt.Errorf("converting DynamoGraphDeploymentRequest %s/%s from v1beta1: %w", b.Namespace, b.Name, err)
	}
	*into = *a
	return nil
}

func (c *hubClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	d, ok := obj.(*v1alpha1.DynamoGraphDeploymentRequest)
	if !ok {
		return c.WithWatch.Get(ctx, key, obj, opts...)
	}
	b := &v1beta1.DynamoGraphDeploymentRequest{}
	if err := c.WithWatch.Get(ctx, key, b, opts...); err != nil {
		return err
	}
	return fromHub(b, d)
}

func (c *hubClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	l, ok := list.(*v1alpha1.DynamoGraphDeploymentRequestList)
	if !ok {
		return c.WithWatch.List(ctx, list, opts...)
	}
	bl := &v1beta1.DynamoGraphDeploymentRequestList{}
	if err := c.WithWatch.List(ctx, bl, opts...); err != nil {
		return err
	}
	l.ListMeta = bl.ListMeta
	l.Items = make([]v1alpha1.DynamoGraphDeploymentRequest, len(bl.Items))
	for i := range bl.Items {
		if err := fromHub(&bl.Items[i], &l.Items[i]); err != nil {
			return err
		}
	}
	return nil
}

// write converts obj, runs do on the v1beta1 object and converts the
// server's answer back into obj.
func (c *hubClient) write(obj client.Object, do func(client.Object) error) error {
	d, ok := obj.(*v1alpha1.DynamoGraphDeploymentRequest)
	if !ok {
		return do(obj)
	}
	b, err := toHub(d)
	if err != nil {
		return err
	}
	if err := do(b); err != nil {
		return err
	}
	return fromHub(b, d)
}

func (c *hubClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return c.write(obj, func(o client.Object) error { return c.WithWatch.Create(ctx, o, opts...) })
}

func (c *hubClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.write(obj, func(o client.Object) error { return c.WithWatch.Update(ctx, o, opts...) })
}

func (c *hubClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	return c.write(obj, func(o client.Object) error { return c.WithWatch.Delete(ctx, o, opts...) })
}

// Patch passes metadata patches through: they mean the same in every
// version. A patch of the spec or status is written in v1alpha1's shape and
// would land on the wrong fields, so it is refused.
func (c *hubClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if _, ok := obj.(*v1alpha1.DynamoGraphDeploymentRequest); !ok {
		return c.WithWatch.Patch(ctx, obj, patch, opts...)
	}
	if err := metadataOnly(obj, patch); err != nil {
		return err
	}
	return c.write(obj, func(o client.Object) error { return c.WithWatch.Patch(ctx, o, patch, opts...) })
}

func metadataOnly(obj client.Object, patch client.Patch) error {
	if patch.Type() != types.MergePatchType {
		return fmt.Errorf("patching DynamoGraphDeploymentRequest %s through v1beta1: only merge patches of metadata are supported, got %s", obj.GetName(), patch.Type())
	}
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	for k := range top {
		if k != "metadata" {
			return fmt.Errorf("patching DynamoGraphDeploymentRequest %s through v1beta1: the patch sets %s, and only metadata means the same in both versions", obj.GetName(), k)
		}
	}
	return nil
}

func (c *hubClient) Status() client.SubResourceWriter {
	return &hubStatus{SubResourceWriter: c.WithWatch.Status(), c: c}
}

// hubStatus writes the status of v1alpha1 DGDRs as v1beta1.
type hubStatus struct {
	client.SubResourceWriter
	c *hubClient
}

func (s *hubStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return s.c.write(obj, func(o client.Object) error { return s.SubResourceWriter.Update(ctx, o, opts...) })
}

func (s *hubStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if _, ok := obj.(*v1alpha1.DynamoGraphDeploymentRequest); ok {
		return fmt.Errorf("patching the status of DynamoGraphDeploymentRequest %s through v1beta1 is not supported: use Update", obj.GetName())
	}
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// Watch watches v1beta1 DGDRs and hands out v1alpha1 ones.
func (c *hubClient) Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	if _, ok := list.(*v1alpha1.DynamoGraphDeploymentRequestList); !ok {
		return c.WithWatch.Watch(ctx, list, opts...)
	}
	w, err := c.WithWatch.Watch(ctx, &v1beta1.DynamoGraphDeploymentRequestList{}, opts...)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		if b, ok := e.Object.(*v1beta1.DynamoGraphDeploymentRequest); ok {
			d := &v1alpha1.DynamoGraphDeploymentRequest{}
			if err := fromHub(b, d); err == nil {
				e.Object = d
			}
		}
		return e, true
	}), nil
}
