package online

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

func (o *Measurer) selector() string {
	return labels.SelectorFromSet(labels.Set{v1alpha1.LabelDGDRName: o.opts.DGDR.Name}).String()
}

// snapshot is one poll of everything the DGDR's Jobs are made of.
type snapshot struct {
	jobs map[string]*batchv1.Job
	pods map[string][]*corev1.Pod // by Job name
	cms  map[string]*corev1.ConfigMap
}

func (o *Measurer) snapshot(ctx context.Context) (*snapshot, error) {
	ns, sel := o.opts.DGDR.Namespace, metav1.ListOptions{LabelSelector: o.selector()}
	c := o.opts.Client
	s := &snapshot{jobs: map[string]*batchv1.Job{}, pods: map[string][]*corev1.Pod{}, cms: map[string]*corev1.ConfigMap{}}
	jl, err := c.BatchV1().Jobs(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing the profiling Jobs of %s/%s: %w", ns, o.opts.DGDR.Name, err)
	}
	for i := range jl.Items {
		j := &jl.Items[i]
		if metav1.IsControlledBy(j, o.opts.DGDR) {
			s.jobs[j.Name] = j
		}
	}
	pl, err := c.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing the profiling pods of %s/%s: %w", ns, o.opts.DGDR.Name, err)
	}
	for i := range pl.Items {
		p := &pl.Items[i]
		s.pods[p.Labels[batchv1.JobNameLabel]] = append(s.pods[p.Labels[batchv1.JobNameLabel]], p)
	}
	cl, err := c.CoreV1().ConfigMaps(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing the result ConfigMaps of %s/%s: %w", ns, o.opts.DGDR.Name, err)
	}
	for i := range cl.Items {
		cm := &cl.Items[i]
		if _, ok := cm.Data[workerproto.ResultKey]; ok {
			s.cms[cm.Name] = cm
		}
	}
	return s, nil
}

// run submits the tasks as GPUs free up and waits for all of them. It
// returns at the first failed Job (the others keep running, and a later
// run reuses them). Cancelling ctx leaves every Job running.
func (o *Measurer) run(ctx context.Context, ts []*task) error {
	if len(ts) == 0 {
		return nil
	}
	o.mu.Lock()
	for _, t := range ts {
		o.tasks[t.name] = t
	}
	o.mu.Unlock()
	snap, err := o.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := o.adopt(ctx, ts, snap); err != nil {
		return err
	}
	tick := time.NewTicker(o.opts.Poll)
	defer tick.Stop()
	for {
		if snap == nil {
			if snap, err = o.snapshot(ctx); err != nil {
				return err
			}
		}
		open := 0
		for _, t := range ts {
			if t.finished {
				continue
			}
			if t.submitted {
				o.observe(ctx, t, snap)
			}
			if t.finished && t.err != nil {
				if _, skip := profiler.IsSkip(t.err); !skip {
					return t.err
				}
			}
			if !t.finished {
				open++
			}
		}
		if open == 0 {
			return nil
		}
		if err := o.schedule(ctx, ts, snap); err != nil {
			return err
		}
		snap = nil
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (o *Measurer) emit(t *task, s State, msg string) {
	if t.state == s && t.msg == msg {
		return
	}
	t.state, t.msg = s, msg
	if o.opts.OnJob != nil {
		o.opts.OnJob(JobEvent{Job: t.name, Phase: t.phase, Mapping: t.mapping, State: s, Reused: t.reused, Message: msg})
	}
}

func (o *Measurer) finish(t *task, res *workerproto.Result, err error) {
	t.finished, t.result, t.err = true, res, err
	if err != nil {
		msg := err.Error()
		o.emit(t, StateFailed, msg)
		return
	}
	for _, w := range res.Warnings {
		o.warnf("job/%s (%s): %s", t.name, t.label(), w)
	}
	o.emit(t, StateDone, fmt.Sprintf("%d prefill / %d decode points", len(res.Prefill), len(res.Decode)))
}

// adopt re-attaches: a finished result is used as it is, a Job measuring
// the same thing is watched, and a stale Job (other task) is replaced.
func (o *Measurer) adopt(ctx context.Context, ts []*task, snap *snapshot) error {
	for _, t := range ts {
		j := snap.jobs[t.name]
		sameJob := j != nil && j.Annotations[AnnotationTaskHash] == t.hash
		if cm := snap.cms[t.name]; cm != nil {
			res, err := workerproto.ReadResult(cm)
			if err == nil && (sameJob || (j == nil && t.resultMatches(res))) {
				t.reused = true
				o.count(func(s *Stats) { s.ReusedResults++ })
				o.logf("reusing the finished result configmap/%s (%s)", t.name, t.label())
				if res.Error != "" {
					o.finish(t, nil, o.failure(t, snap, "its measurement failed: "+res.Error))
				} else {
					o.finish(t, res, nil)
				}
				continue
			}
		}
		if sameJob {
			t.submitted, t.reused = true, true
			o.count(func(s *Stats) { s.ReusedJobs++ })
			o.logf("re-attaching to job/%s (%s)", t.name, t.label())
			continue
		}
		if j != nil || snap.cms[t.name] != nil {
			o.logf("job/%s measured something else (an older spec): replacing it", t.name)
			if err := o.deleteTask(ctx, t.name); err != nil {
				return err
			}
		}
		o.emit(t, StatePending, "waiting for free GPUs")
	}
	return nil
}

// deleteTask removes a Job (with its pods), its Service and its result.
func (o *Measurer) deleteTask(ctx context.Context, name string) error {
	ns, c := o.opts.DGDR.Namespace, o.opts.Client
	bg := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	if err := c.BatchV1().Jobs(ns).Delete(ctx, name, bg); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job/%s: %w", name, err)
	}
	if err := c.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting service/%s: %w", name, err)
	}
	if err := c.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting configmap/%s: %w", name, err)
	}
	// Wait until the name is free, so that the new Job can take it.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("job/%s was not deleted within 30s: check its finalizers", name)
	}
	return err
}

// observe moves a submitted task on from the snapshot.
func (o *Measurer) observe(ctx context.Context, t *task, snap *snapshot) {
	if cm := snap.cms[t.name]; cm != nil {
		res, err := workerproto.ReadResult(cm)
		switch {
		case err != nil:
			o.finish(t, nil, fmt.Errorf("job/%s (%s): %w", t.name, t.label(), err))
		case res.Error != "":
			o.finish(t, nil, o.failure(t, snap, "its measurement failed: "+res.Error))
		default:
			o.finish(t, res, nil)
		}
		return
	}
	j := snap.jobs[t.name]
	if j == nil {
		o.finish(t, nil, fmt.Errorf("job/%s (%s) disappeared before writing its result: was it deleted (kubectl dgdr profile --cancel)? Run the profile again", t.name, t.label()))
		return
	}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			o.finish(t, nil, o.failure(t, snap, fmt.Sprintf("the Job failed (%s: %s)", c.Reason, c.Message)))
			return
		case batchv1.JobComplete:
			o.finish(t, nil, fmt.Errorf("job/%s (%s) completed without writing configmap/%s: check the measure container's log (kubectl logs job/%s -c %s)",
				t.name, t.label(), t.name, t.name, jobs.MeasureContainer))
			return
		}
	}
	pods := snap.pods[t.name]
	for _, p := range pods {
		for _, cs := range p.Status.InitContainerStatuses {
			if cs.Name == jobs.EngineContainer && cs.RestartCount >= o.opts.EngineRestartLimit {
				err := o.failure(t, snap, fmt.Sprintf("its engine crashed %d time(s)", cs.RestartCount))
				// A crash-looping engine holds its GPUs until the deadline.
				if derr := o.deleteTask(context.WithoutCancel(ctx), t.name); derr != nil {
					err = errors.Join(err, derr)
				}
				o.finish(t, nil, err)
				return
			}
		}
	}
	st, msg := podState(pods)
	o.emit(t, st, msg)
}

// podState reads rank 0's pod: pending, engine starting or measuring.
func podState(pods []*corev1.Pod) (State, string) {
	var p *corev1.Pod
	for _, x := range pods {
		if x.DeletionTimestamp == nil && (p == nil || x.Annotations[batchv1.JobCompletionIndexAnnotation] == "0") {
			p = x
		}
	}
	if p == nil {
		return StatePending, "waiting for the Job's pod"
	}
	if p.Status.Phase == corev1.PodPending || p.Spec.NodeName == "" {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return StatePending, c.Reason + ": " + c.Message
			}
		}
		if p.Spec.NodeName == "" {
			return StatePending, "waiting for the scheduler"
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == jobs.EngineContainer && !cs.Ready {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return StateEngineStarting, w.Reason
			}
			return StateEngineStarting, "on " + p.Spec.NodeName
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return StateMeasuring, "on " + p.Spec.NodeName
	}
	return StatePending, string(p.Status.Phase)
}

// failure builds a Job's error with its pods' reasons and exit codes.
func (o *Measurer) failure(t *task, snap *snapshot, why string) error {
	msg := fmt.Sprintf("job/%s (%s): %s", t.name, t.label(), why)
	for _, p := range snap.pods[t.name] {
		if d := podFailure(p); d != "" && (p.Status.Phase == corev1.PodFailed || hasCrash(p)) {
			msg += "; " + d
		}
	}
	return fmt.Errorf("%s; see kubectl logs job/%s --all-containers, then kubectl dgdr profile %s --cancel to retry", msg, t.name, o.opts.DGDR.Name)
}

func hasCrash(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if (cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0) ||
			(cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ExitCode != 0) {
			return true
		}
	}
	return false
}
