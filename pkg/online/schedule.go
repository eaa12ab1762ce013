package online

import (
	"context"
	"fmt"
	"sort"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
)

// GPUResource is the extended resource the engines request.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

func (o *Measurer) count(f func(*Stats)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(&o.stats)
}

// FreeGPUs is, per schedulable node, its allocatable GPUs minus the GPUs
// requested by its pods that have not terminated. Nodes that the pods
// cannot use (unschedulable, not Ready, an untolerated taint, another
// nodeSelector) are left out.
func FreeGPUs(nodes []corev1.Node, pods []corev1.Pod, nodeSelector map[string]string, tolerations []corev1.Toleration) map[string]int64 {
	free := map[string]int64{}
	sel := labels.SelectorFromSet(nodeSelector)
	for i := range nodes {
		n := &nodes[i]
		if n.Spec.Unschedulable || !nodeReady(n) || !sel.Matches(labels.Set(n.Labels)) || !tolerates(n.Spec.Taints, tolerations) {
			continue
		}
		q, ok := n.Status.Allocatable[GPUResource]
		if !ok || q.Value() == 0 {
			continue
		}
		free[n.Name] = q.Value()
	}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if _, ok := free[p.Spec.NodeName]; ok {
			free[p.Spec.NodeName] -= PodGPUs(p)
		}
	}
	return free
}

// PodGPUs is a pod's effective GPU request as the scheduler counts it
// (component-helpers: the regular containers plus the native sidecars, or
// the largest plain init container with the sidecars started before it,
// whichever is more).
func PodGPUs(p *corev1.Pod) int64 {
	reqs := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
	return reqs.Name(GPUResource, resource.DecimalSI).Value()
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tolerates is the scheduler's taint rule for a node (PreferNoSchedule
// taints never keep a pod off).
func tolerates(taints []corev1.Taint, tols []corev1.Toleration) bool {
	hard := func(t *corev1.Taint) bool { return t.Effect != corev1.TaintEffectPreferNoSchedule }
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(logr.Discard(), taints, tols, hard, false)
	return !untolerated
}

// fit places pods of g GPUs each on distinct nodes with room, most free
// first (fewest fragments); it returns the nodes used, or nil.
func fit(free map[string]int64, pods int, g int64) []string {
	names := make([]string, 0, len(free))
	for n, f := range free {
		if f >= g {
			names = append(names, n)
		}
	}
	if len(names) < pods {
		return nil
	}
	// Best fit: the least free node that holds the pod, to keep room for
	// the larger engines.
	sort.Slice(names, func(i, j int) bool {
		if free[names[i]] != free[names[j]] {
			return free[names[i]] < free[names[j]]
		}
		return names[i] < names[j]
	})
	return names[:pods]
}

// schedule submits the open tasks that fit now, in order, up to MaxParallel.
func (o *Measurer) schedule(ctx context.Context, ts []*task, snap *snapshot) error {
	waiting := 0
	for _, t := range ts {
		if !t.submitted && !t.finished {
			waiting++
		}
	}
	if waiting == 0 {
		return nil
	}
	nodes, err := o.opts.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes to find free GPUs: %w", err)
	}
	pods, err := o.opts.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing pods to find free GPUs: %w", err)
	}
	pc := o.opts.DGDR.Spec.ProfilingConfig
	free := FreeGPUs(nodes.Items, pods.Items, pc.NodeSelector, pc.Tolerations)
	total := map[string]int64{}
	for _, n := range nodes.Items {
		if _, ok := free[n.Name]; ok {
			total[n.Name] = n.Status.Allocatable.Name(GPUResource, "").Value()
		}
	}
	// Our submitted Jobs whose pods are not bound yet hold GPUs too.
	active := 0
	for _, t := range ts {
		if !t.submitted || t.finished {
			continue
		}
		active++
		bound := 0
		for _, p := range snap.pods[t.name] {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		for range t.pods - bound {
			if ns := fit(free, 1, int64(t.gpusPerPod)); ns != nil {
				free[ns[0]] -= int64(t.gpusPerPod)
			}
		}
	}
	for _, t := range ts {
		if t.submitted || t.finished {
			continue
		}
		if o.opts.MaxParallel > 0 && active >= o.opts.MaxParallel {
			o.emit(t, StatePending, fmt.Sprintf("waiting: --max-parallel %d Jobs are running", o.opts.MaxParallel))
			continue
		}
		if fit(total, t.pods, int64(t.gpusPerPod)) == nil {
			largest := int64(0)
			for _, v := range total {
				largest = max(largest, v)
			}
			o.finish(t, nil, &profiler.SkipError{Reason: fmt.Sprintf(
				"Skipping %s on %d GPU(s): it needs %d node(s) with %d free GPUs, and the %d schedulable node(s) have at most %d (check profilingConfig.nodeSelector/tolerations, or lower hardware.maxNumGpusPerEngine)",
				t.mapping.Label(), t.mapping.N, t.pods, t.gpusPerPod, len(total), largest)})
			continue
		}
		ns := fit(free, t.pods, int64(t.gpusPerPod))
		if ns == nil {
			o.emit(t, StatePending, fmt.Sprintf("waiting for %d free GPU(s) on %d node(s)", t.gpusPerPod, t.pods))
			continue
		}
		for _, n := range ns {
			free[n] -= int64(t.gpusPerPod)
		}
		if err := o.submit(ctx, t); err != nil {
			return err
		}
		active++
	}
	return nil
}

// submit creates the worker's identity and result, the Service
// (multi-node) and then the Job.
func (o *Measurer) submit(ctx context.Context, t *task) error {
	objs, err := jobs.Build(t.spec)
	if err != nil {
		return fmt.Errorf("building job/%s (%s): %w", t.name, t.label(), err)
	}
	if err := o.createWorker(ctx, t, objs.Worker); err != nil {
		return err
	}
	ns := o.opts.DGDR.Namespace
	if objs.Service != nil {
		_, err := o.opts.Client.CoreV1().Services(ns).Create(ctx, objs.Service, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating service/%s for the multi-node %s: %w", objs.Service.Name, t.label(), err)
		}
	}
	j := objs.Job
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	j.Annotations[AnnotationTaskHash] = t.hash
	if _, err := o.opts.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating job/%s (%s): %w", t.name, t.label(), err)
		}
		// Another run of this profile created it meanwhile: watch it.
		t.submitted, t.reused = true, true
		return nil
	}
	t.submitted = true
	o.count(func(s *Stats) { s.Created++ })
	o.logf("created job/%s (%s, %d GPU(s))", t.name, t.label(), t.mapping.N)
	o.emit(t, StatePending, "submitted")
	return nil
}

// createWorker creates the Job's ServiceAccount, Role, RoleBinding and
// empty result ConfigMap; ones left by an earlier run are kept (they are
// the same, named after the Job).
func (o *Measurer) createWorker(ctx context.Context, t *task, w jobs.Worker) error {
	ns, c := o.opts.DGDR.Namespace, o.opts.Client
	opts := metav1.CreateOptions{}
	for _, step := range []struct {
		kind   string
		create func() error
	}{
		{"serviceaccounts", func() error { _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, w.ServiceAccount, opts); return err }},
		{"roles", func() error { _, err := c.RbacV1().Roles(ns).Create(ctx, w.Role, opts); return err }},
		{"rolebindings", func() error { _, err := c.RbacV1().RoleBindings(ns).Create(ctx, w.RoleBinding, opts); return err }},
		{"configmaps", func() error { _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, w.Result, opts); return err }},
	} {
		if err := step.create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s/%s, the measure container's identity and result for %s: %w (needs create on %s in namespace %s: see docs/rbac.md)",
				step.kind, t.name, t.label(), err, step.kind, ns)
		}
	}
	return nil
}
