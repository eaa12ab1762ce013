package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Out gets progress lines; nil discards them.
	Out io.Writer
	// Overlay is a kustomize directory rendered on top of the DGD (-k DIR).
	Overlay string
	// Renderer renders Overlay; nil makes one.
	Renderer *OverlayRenderer
	// DryRun is kubectl's --dry-run strategy: client builds the DGD only,
	// server sends it with dryRun=All.
	DryRun cmdutil.DryRunStrategy
	// ForceConflicts takes ownership of fields other managers own.
	ForceConflicts bool
	// Wait follows the DGD until it is ready, failed or Timeout passes.
	Wait    bool
	Timeout time.Duration
	// PollInterval of Wait; 0 means one second.
	PollInterval time.Duration
}

// ApplyResult is what Apply did.
type ApplyResult struct {
	// DGD is the object applied (or that would be, on a dry run).
	DGD *unstructured.Unstructured
	// Created is true when the DGD did not exist; Changed when the apply
	// changed it (resourceVersion moved).
	Created, Changed bool
	// DGDState is the DGD's status.state; Ready whether it is ready.
	DGDState string
	Ready    bool
	// State is the DGDR's state afterwards.
	State v1alpha1.State
}

// Apply builds the DGD of a profiled DGDR (§8.6), optionally renders a
// kustomize overlay on top, server-side applies it as kubectl-dgdr and moves
// the DGDR to Deploying, then Ready once the DGD reports successful.
func Apply(ctx context.Context, c *Clients, name, namespace string, opts ApplyOptions) (*ApplyResult, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := c.Client.Get(ctx, key, &d); err != nil {
		return nil, err
	}
	if !Profiled(&d) {
		e := &WrongStateError{Namespace: namespace, Name: name, State: d.Status.State, Verb: "apply",
			Need: "a profiled DGDR (state Ready or Deploying, with status.generatedDeployment)",
			Next: fmt.Sprintf("kubectl dgdr profile %s -n %s", name, namespace)}
		if d.Status.State == v1alpha1.StateFailed {
			e.Detail = FailureDetail(&d)
			e.Next = fmt.Sprintf("kubectl dgdr status %s -n %s, then delete and recreate the DGDR", name, namespace)
		}
		return nil, e
	}
	obj, err := BuildDGD(&d)
	if err != nil {
		return nil, err
	}
	if opts.Overlay != "" {
		r := opts.Renderer
		if r == nil {
			r = &OverlayRenderer{}
		}
		if obj, err = r.Render(opts.Overlay, obj); err != nil {
			return nil, err
		}
		enforceManaged(obj, &d)
	}
	res := &ApplyResult{DGD: obj, State: d.Status.State}
	if opts.DryRun == cmdutil.DryRunClient {
		return res, nil
	}

	existing := newDGD()
	err = c.Client.Get(ctx, client.ObjectKeyFromObject(obj), existing)
	switch {
	case apierrors.IsNotFound(err):
		res.Created = true
	case err != nil:
		return nil, fmt.Errorf("reading DynamoGraphDeployment %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	case !ownedByDGDR(existing.GetLabels(), &d):
		return nil, fmt.Errorf("DynamoGraphDeployment %s/%s already exists and is not owned by this DGDR "+
			"(labels %s=%s, %s=%s are missing); set spec.deploymentOverrides.name to another name or delete that DGD",
			obj.GetNamespace(), obj.GetName(), v1alpha1.LabelDGDRName, d.Name, v1alpha1.LabelDGDRNamespace, d.Namespace)
	}
	applyOpts := []client.ApplyOption{client.FieldOwner(FieldManager)}
	if opts.ForceConflicts {
		applyOpts = append(applyOpts, client.ForceOwnership)
	}
	if opts.DryRun == cmdutil.DryRunServer {
		applyOpts = append(applyOpts, client.DryRunAll)
	}
	applied := obj.DeepCopy()
	if err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), applyOpts...); err != nil {
		if apierrors.IsConflict(err) {
			return nil, fmt.Errorf("applying DynamoGraphDeployment %s/%s: %w\nPlease review the fields above; they currently have other managers. "+
				"Re-run with --force-conflicts to take ownership of them as %s", obj.GetNamespace(), obj.GetName(), err, FieldManager)
		}
		if res.Created {
			c.RecordEvent(ctx, &d, opts.Out, corev1.EventTypeWarning, EventDeploymentCreateFailed, err.Error())
		}
		return nil, fmt.Errorf("applying DynamoGraphDeployment %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	if opts.DryRun == cmdutil.DryRunServer {
		res.DGD = applied
		return res, nil
	}
	cur := newDGD()
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
		return nil, fmt.Errorf("reading DynamoGraphDeployment %s/%s after apply: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	res.DGD = cur
	res.Changed = res.Created || cur.GetResourceVersion() != existing.GetResourceVersion()
	if res.Created {
		c.RecordEvent(ctx, &d, opts.Out, corev1.EventTypeNormal, EventDeploymentCreated,
			fmt.Sprintf("DynamoGraphDeployment %s created successfully", cur.GetName()))
	}
	if err := c.syncDeployment(ctx, key, cur, opts.Out, res); err != nil {
		return res, err
	}
	if !opts.Wait || res.Ready {
		return res, nil
	}
	return res, c.waitDGD(ctx, key, cur, opts, res)
}

func newDGD() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dgd.GroupVersion.WithKind(v1alpha1.DGDKind))
	return u
}

// DGDReady is the ready test of §7.4 (D1): status.state == successful or
// condition Ready is True.
func DGDReady(u *unstructured.Unstructured) (ready bool, state string) {
	state, _, _ = unstructured.NestedString(u.Object, "status", "state")
	if state == dgd.StateSuccessful {
		return true, state
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == string(metav1.ConditionTrue) {
			return true, state
		}
	}
	return false, state
}

// syncDeployment mirrors the DGD into status.deployment, the state and the
// DeploymentReady condition.
func (c *Clients) syncDeployment(ctx context.Context, key types.NamespacedName, u *unstructured.Unstructured, out io.Writer, res *ApplyResult) error {
	ready, state := DGDReady(u)
	res.Ready, res.DGDState = ready, state
	if state == "" {
		state = dgd.StatePending
	}
	var was v1alpha1.State
	cur, err := c.UpdateStatus(ctx, key, func(x *v1alpha1.DynamoGraphDeploymentRequest) error {
		was = x.Status.State
		x.Status.Deployment = &v1alpha1.DeploymentStatus{Name: u.GetName(), Namespace: u.GetNamespace(), State: state, Created: true}
		switch {
		case ready:
			x.Status.State = v1alpha1.StateReady
			c.SetCondition(x, v1alpha1.ConditionDeploymentReady, metav1.ConditionTrue, ReasonDeploymentReady,
				fmt.Sprintf("DynamoGraphDeployment %s is ready", u.GetName()))
		case state == dgd.StateFailed:
			x.Status.State = v1alpha1.StateDeploying
			c.SetCondition(x, v1alpha1.ConditionDeploymentReady, metav1.ConditionFalse, ReasonDeploymentDegraded,
				"Deployment degraded to "+state)
		default:
			x.Status.State = v1alpha1.StateDeploying
			c.SetCondition(x, v1alpha1.ConditionDeploymentReady, metav1.ConditionFalse, ReasonDeploymentCreated,
				fmt.Sprintf("DGD %s created, waiting for Ready", u.GetName()))
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.State = cur.Status.State
	hasDeploymentCond := false
	for _, cond := range cur.Status.Conditions {
		hasDeploymentCond = hasDeploymentCond || cond.Type == v1alpha1.ConditionDeploymentReady
	}
	switch {
	case ready && was != v1alpha1.StateReady || ready && !hasDeploymentCond:
		c.RecordEvent(ctx, cur, out, corev1.EventTypeNormal, EventDeploymentReady, fmt.Sprintf("DynamoGraphDeployment %s is ready", u.GetName()))
	case !ready && was == v1alpha1.StateReady && cur.Status.Deployment != nil && res.Created == false && state == dgd.StateFailed:
		c.RecordEvent(ctx, cur, out, corev1.EventTypeWarning, EventDeploymentDegraded,
			fmt.Sprintf("DynamoGraphDeployment %s degraded from Ready to %s", u.GetName(), state))
	}
	return nil
}

// waitDGD follows the DGD and prints a line whenever its state changes. It
// checks on every watch event for the DGD and every PollInterval (the DGD's
// operator may not emit an event this client can watch, say without the
// verb).
func (c *Clients) waitDGD(ctx context.Context, key types.NamespacedName, obj *unstructured.Unstructured, opts ApplyOptions, res *ApplyResult) error {
	interval := opts.PollInterval
	if interval == 0 {
		interval = time.Second
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := res.DGDState
	printf(opts.Out, "waiting for DynamoGraphDeployment %s/%s: state %s", obj.GetNamespace(), obj.GetName(), orDash(last))
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(dgd.GroupVersion.WithKind(v1alpha1.DGDKind + "List"))
	changed := Changes(ctx, c.Client, list, client.ObjectKeyFromObject(obj), nil)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for DynamoGraphDeployment %s/%s to become ready (state %s); re-run with a longer --timeout",
					timeout, obj.GetNamespace(), obj.GetName(), orDash(last))
			}
			return ctx.Err()
		case <-tick.C:
		case <-changed:
		}
		cur := newDGD()
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("DynamoGraphDeployment %s/%s was deleted while waiting", obj.GetNamespace(), obj.GetName())
			}
			continue
		}
		ready, state := DGDReady(cur)
		if state == last && !ready {
			continue
		}
		last = state
		printf(opts.Out, "DynamoGraphDeployment %s/%s: state %s", obj.GetNamespace(), obj.GetName(), orDash(state))
		if err := c.syncDeployment(ctx, key, cur, opts.Out, res); err != nil {
			return err
		}
		if state == dgd.StateFailed {
			return fmt.Errorf("DynamoGraphDeployment %s/%s failed; see kubectl describe dgd %s -n %s", obj.GetNamespace(), obj.GetName(), obj.GetName(), obj.GetNamespace())
		}
		if ready {
			return nil
		}
	}
}

// BuildDGD is the DGD of §8.6: status.generatedDeployment with the
// deployment overrides (name, namespace, labels, annotations, workersImage)
// and the managed labels, which win.
func BuildDGD(d *v1alpha1.DynamoGraphDeploymentRequest) (*unstructured.Unstructured, error) {
	if d.Status.GeneratedDeployment == nil || len(d.Status.GeneratedDeployment.Raw) == 0 {
		return nil, fmt.Errorf("DynamoGraphDeploymentRequest %s/%s has no status.generatedDeployment; run kubectl dgdr profile %s", d.Namespace, d.Name, d.Name)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(d.Status.GeneratedDeployment.Raw); err != nil {
		return nil, fmt.Errorf("decoding status.generatedDeployment of %s/%s: %w", d.Namespace, d.Name, err)
	}
	if u.GetKind() != v1alpha1.DGDKind {
		return nil, fmt.Errorf("status.generatedDeployment of %s/%s is a %q, want %s", d.Namespace, d.Name, u.GetKind(), v1alpha1.DGDKind)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "metadata": map[string]any{},
	}}
	if spec, ok := u.Object["spec"]; ok {
		obj.Object["spec"] = spec
	}
	ov := d.Spec.DeploymentOverrides
	if ov == nil {
		ov = &v1alpha1.DeploymentOverridesSpec{}
	}
	obj.SetName(cmp.Or(ov.Name, d.Name))
	obj.SetNamespace(cmp.Or(ov.Namespace, d.Namespace))
	labels := map[string]string{}
	for k, v := range u.GetLabels() {
		labels[k] = v
	}
	for k, v := range ov.Labels {
		labels[k] = v
	}
	obj.SetLabels(labels)
	annotations := map[string]string{}
	for k, v := range u.GetAnnotations() {
		annotations[k] = v
	}
	for k, v := range ov.Annotations {
		annotations[k] = v
	}
	if len(annotations) > 0 {
		obj.SetAnnotations(annotations)
	}
	if ov.WorkersImage != "" {
		setWorkersImage(obj, ov.WorkersImage)
	}
	enforceManaged(obj, d)
	return obj, nil
}

// enforceManaged sets the managed labels over anything else (D7).
func enforceManaged(obj *unstructured.Unstructured, d *v1alpha1.DynamoGraphDeploymentRequest) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v1alpha1.LabelDGDRName] = d.Name
	labels[v1alpha1.LabelDGDRNamespace] = d.Namespace
	labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	obj.SetLabels(labels)
}

// setWorkersImage sets the image of every service's mainContainer.
func setWorkersImage(obj *unstructured.Unstructured, image string) {
	services, _, _ := unstructured.NestedMap(obj.Object, "spec", "services")
	for name := range services {
		path := []string{"spec", "services", name, "extraPodSpec", "mainContainer"}
		if _, ok, _ := unstructured.NestedMap(obj.Object, path...); ok {
			_ = unstructured.SetNestedField(obj.Object, image, append(path, "image")...)
		}
	}
}

// DGDName is the name Apply gives the DGD (override, else the DGDR's).
func DGDName(d *v1alpha1.DynamoGraphDeploymentRequest) (name, namespace string) {
	ov := d.Spec.DeploymentOverrides
	if ov == nil {
		ov = &v1alpha1.DeploymentOverridesSpec{}
	}
	if d.Status.Deployment != nil && d.Status.Deployment.Name != "" {
		return d.Status.Deployment.Name, cmp.Or(d.Status.Deployment.Namespace, d.Namespace)
	}
	return cmp.Or(ov.Name, d.Name), cmp.Or(ov.Namespace, d.Namespace)
}
