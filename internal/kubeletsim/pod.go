package kubeletsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// saMount is where client-go's in-cluster config reads its token and CA.
const saMount = "/var/run/secrets/kubernetes.io/serviceaccount"

// ctr is one container of a pod and its current process.
type ctr struct {
	c         corev1.Container
	sidecar   bool
	proc      *proc
	startedAt time.Time
	ready     bool
	restarts  int32
	waiting   string
	waitMsg   string
	term      *corev1.ContainerStateTerminated
	last      *corev1.ContainerStateTerminated
	nextStart time.Time
}

type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	exitCode int32
	logPath  string
	termPath string
}

type podRun struct {
	k        *Kubelet
	pod      *corev1.Pod
	dir      string
	saDir    string
	init     []*ctr
	main     []*ctr
	start    time.Time
	phase    corev1.PodPhase
	stopOnce sync.Once
	stopCh   chan struct{}
	finished chan struct{}
}

func newPodRun(k *Kubelet, p *corev1.Pod) *podRun {
	r := &podRun{k: k, pod: p, dir: k.podDir(p), phase: corev1.PodPending, stopCh: make(chan struct{}), finished: make(chan struct{})}
	for _, c := range p.Spec.InitContainers {
		r.init = append(r.init, &ctr{c: c, sidecar: c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways})
	}
	for _, c := range p.Spec.Containers {
		r.main = append(r.main, &ctr{c: c})
	}
	return r
}

// stop kills the pod's processes and waits until run has returned.
func (r *podRun) stop() error {
	r.stopOnce.Do(func() { close(r.stopCh) })
	select {
	case <-r.finished:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("pod %s/%s: processes did not end within 30s", r.pod.Namespace, r.pod.Name)
	}
}

func (r *podRun) stopped() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

func (r *podRun) run(ctx context.Context) {
	defer close(r.finished)
	defer r.killAll()
	r.start = time.Now()
	if err := r.prepare(ctx); err != nil {
		r.k.logf("kubeletsim: pod %s: %v", r.pod.Name, err)
		for _, c := range append(r.init, r.main...) {
			c.waiting, c.waitMsg = "CreateContainerConfigError", err.Error()
		}
		r.writeStatus(ctx)
		return
	}
	// Plain init containers run to completion in order; sidecars start
	// and keep running.
	for _, c := range r.init {
		if err := r.startCtr(ctx, c); err != nil {
			r.fail(ctx, c, err)
			return
		}
		if c.sidecar {
			continue
		}
		if !r.wait(c.proc) {
			return
		}
		r.exited(c)
		if c.term.ExitCode != 0 {
			r.phase = corev1.PodFailed
			r.writeStatus(ctx)
			return
		}
	}
	for _, c := range r.main {
		if err := r.startCtr(ctx, c); err != nil {
			r.fail(ctx, c, err)
			return
		}
	}
	r.phase = corev1.PodRunning
	r.writeStatus(ctx)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastProbe := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stopCh:
			return
		case <-tick.C:
		}
		dirty := false
		probe := time.Since(lastProbe) > 200*time.Millisecond
		if probe {
			lastProbe = time.Now()
		}
		for _, c := range append(append([]*ctr{}, r.init...), r.main...) {
			if c.proc == nil || c.term != nil && !c.sidecar {
				continue
			}
			if c.proc != nil && isDone(c.proc) && c.term == nil {
				r.exited(c)
				dirty = true
				if c.sidecar { // the kubelet restarts a sidecar with a back-off
					c.last, c.term = c.term, nil
					c.restarts++
					c.waiting, c.ready = "CrashLoopBackOff", false
					delay := min(r.k.opts.SidecarBackoff<<min(c.restarts-1, 4), 5*time.Second)
					c.nextStart = time.Now().Add(delay)
					c.proc = nil
				}
				continue
			}
			if probe && c.term == nil {
				if rd := r.ready(c); rd != c.ready {
					c.ready, dirty = rd, true
				}
			}
		}
		for _, c := range r.init {
			if c.sidecar && c.proc == nil && !c.nextStart.IsZero() && time.Now().After(c.nextStart) {
				if err := r.startCtr(ctx, c); err != nil {
					c.waitMsg = err.Error()
				}
				dirty = true
			}
		}
		all, ok := true, true
		for _, c := range r.main {
			if c.term == nil {
				all = false
			} else if c.term.ExitCode != 0 {
				ok = false
			}
		}
		if all {
			r.killAll() // sidecars end with the main containers
			r.phase = corev1.PodSucceeded
			if !ok {
				r.phase = corev1.PodFailed
			}
			r.writeStatus(ctx)
			r.k.logf("kubeletsim: pod %s/%s %s", r.pod.Namespace, r.pod.Name, r.phase)
			return
		}
		if dirty {
			r.writeStatus(ctx)
		}
	}
}

func (r *podRun) fail(ctx context.Context, c *ctr, err error) {
	c.waiting, c.waitMsg = "RunContainerError", err.Error()
	c.term = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), FinishedAt: metav1.Now()}
	r.phase = corev1.PodFailed
	r.writeStatus(ctx)
}

func isDone(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait blocks until p exits or the pod is stopped.
func (r *podRun) wait(p *proc) bool {
	select {
	case <-p.done:
		return true
	case <-r.stopCh:
		return false
	}
}

// prepare makes the pod's directories and its service-account mount.
func (r *podRun) prepare(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(r.dir, "logs"), 0o755); err != nil {
		return err
	}
	p := r.pod
	if p.Spec.ServiceAccountName == "" || (!automounts(p) && projectedTokenVolume(p) == "") {
		return nil
	}
	var tok *authv1.TokenRequest
	var err error
	// The ServiceAccount may be created just after the pod.
	perr := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		tok, err = r.k.opts.Client.CoreV1().ServiceAccounts(p.Namespace).CreateToken(ctx, p.Spec.ServiceAccountName, &authv1.TokenRequest{
			Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600),
				BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}},
		}, metav1.CreateOptions{})
		return err == nil || !apierrors.IsNotFound(err) || r.stopped(), nil
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("token of service account %s/%s: %w", p.Namespace, p.Spec.ServiceAccountName, err)
	}
	r.saDir = filepath.Join(r.dir, "serviceaccount")
	if err := os.MkdirAll(r.saDir, 0o755); err != nil {
		return err
	}
	ca := r.k.opts.Config.CAData
	if len(ca) == 0 && r.k.opts.Config.CAFile != "" {
		if ca, err = os.ReadFile(r.k.opts.Config.CAFile); err != nil {
			return err
		}
	}
	for n, v := range map[string][]byte{"token": []byte(tok.Status.Token), "ca.crt": ca, "namespace": []byte(p.Namespace)} {
		if err := os.WriteFile(filepath.Join(r.saDir, n), v, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startCtr starts c's process from the pod's command, args and env.
func (r *podRun) startCtr(ctx context.Context, c *ctr) error {
	envMap, env, err := r.k.containerEnv(ctx, r.pod, &c.c)
	if err != nil {
		return err
	}
	mounts, err := r.k.mounts(r.dir, &c.c)
	if err != nil {
		return err
	}
	if len(c.c.Command) == 0 {
		return fmt.Errorf("container %s has no command: kubeletsim cannot read the image's entrypoint; set command", c.c.Name)
	}
	var argv []string
	for _, a := range append(append([]string{}, c.c.Command...), c.c.Args...) {
		argv = append(argv, rewrite(expand(a, envMap), mounts))
	}
	for i, e := range env {
		if n, v, ok := strings.Cut(e, "="); ok {
			env[i] = n + "=" + rewrite(v, mounts)
		}
	}
	bin, ok := r.k.opts.Binaries[argv[0]]
	if !ok {
		return fmt.Errorf("container %s: entrypoint %s has no local binary: add it to kubeletsim Options.Binaries", c.c.Name, argv[0])
	}
	argv[0] = bin
	p := &proc{done: make(chan struct{}),
		logPath:  filepath.Join(r.dir, "logs", fmt.Sprintf("%s-%d.log", c.c.Name, c.restarts)),
		termPath: filepath.Join(r.dir, "logs", fmt.Sprintf("%s-%d.termination-log", c.c.Name, c.restarts))}
	if err := os.WriteFile(p.termPath, nil, 0o644); err != nil {
		return err
	}
	if r.k.opts.TerminationMessageArg != "" && c.c.Name != "" && !c.sidecar {
		argv = append(argv, r.k.opts.TerminationMessageArg+"="+p.termPath)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var cmd *exec.Cmd
	if r.saDir != "" && (automounts(r.pod) || mountsAt(&c.c, projectedTokenVolume(r.pod), saMount)) {
		// A private mount namespace puts the pod's token where client-go's
		// in-cluster config looks, for this process only.
		attr.Unshareflags = syscall.CLONE_NEWNS
		script := `d=$1; shift; mount -t tmpfs -o size=1m kubeletsim /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && mount --bind "$d" /run/secrets/kubernetes.io/serviceaccount && exec "$@"`
		cmd = exec.Command("/bin/sh", append([]string{"-c", script, "kubeletsim", r.saDir}, argv...)...)
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = env, r.dir, logf, logf, attr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting container %s: %w", c.c.Name, err)
	}
	p.cmd = cmd
	r.k.addPID(cmd.Process.Pid)
	go func() {
		err := cmd.Wait()
		p.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.exitCode = 128 + int32(ws.Signal())
			} else {
				p.exitCode = int32(ee.ExitCode())
			}
		} else if err != nil {
			p.exitCode = 128
		}
		close(p.done)
	}()
	c.proc, c.startedAt, c.term, c.waiting, c.waitMsg = p, time.Now(), nil, "", ""
	c.ready = c.c.ReadinessProbe == nil && !c.sidecar || c.sidecar && c.c.ReadinessProbe == nil
	return nil
}

// exited records c's terminated state, with the termination message from
// its file, or from its log's tail (FallbackToLogsOnError).
func (r *podRun) exited(c *ctr) {
	p := c.proc
	msg, _ := os.ReadFile(p.termPath)
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	if len(bytes.TrimSpace(msg)) == 0 && p.exitCode != 0 && c.c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		msg = logTail(p.logPath)
	}
	reason := "Completed"
	if p.exitCode != 0 {
		reason = "Error"
	}
	c.ready = false
	c.term = &corev1.ContainerStateTerminated{ExitCode: p.exitCode, Reason: reason, Message: string(msg),
		StartedAt: metav1.NewTime(c.startedAt), FinishedAt: metav1.Now(), ContainerID: "kubeletsim://" + strconv.Itoa(p.cmd.Process.Pid)}
}

// logTail is the kubelet's fallback: the last 80 lines, at most 2048 bytes.
func logTail(path string) []byte {
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	out := bytes.Join(lines, []byte("\n"))
	if len(out) > 2048 {
		out = out[len(out)-2048:]
	}
	return out
}

// ready runs c's HTTP readiness probe against the local process.
func (r *podRun) ready(c *ctr) bool {
	pr := c.c.ReadinessProbe
	if pr == nil || pr.HTTPGet == nil {
		return true
	}
	port := pr.HTTPGet.Port.IntValue()
	if port == 0 {
		for _, cp := range c.c.Ports {
			if cp.Name == pr.HTTPGet.Port.String() {
				port = int(cp.ContainerPort)
			}
		}
	}
	cl := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, pr.HTTPGet.Path))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// killAll ends every process: SIGTERM to its group, SIGKILL after 3 s.
func (r *podRun) killAll() {
	for _, c := range append(append([]*ctr{}, r.init...), r.main...) {
		p := c.proc
		if p == nil || p.cmd == nil || isDone(p) {
			continue
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(3 * time.Second)
	for _, c := range append(append([]*ctr{}, r.init...), r.main...) {
		p := c.proc
		if p == nil || p.cmd == nil {
			continue
		}
		select {
		case <-p.done:
		case <-deadline:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if c.term == nil {
			r.exited(c)
		}
	}
}

func (c *ctr) status() corev1.ContainerStatus {
	s := corev1.ContainerStatus{Name: c.c.Name, Image: c.c.Image, ImageID: "kubeletsim://" + c.c.Image, Ready: c.ready,
		RestartCount: c.restarts, Started: ptr.To(c.proc != nil && c.term == nil)}
	switch {
	case c.term != nil:
		s.State.Terminated = c.term.DeepCopy()
		s.ContainerID = c.term.ContainerID
	case c.waiting != "":
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting, Message: c.waitMsg}
	case c.proc != nil:
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
		s.ContainerID = "kubeletsim://" + strconv.Itoa(c.proc.cmd.Process.Pid)
	default:
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
	}
	if c.last != nil {
		s.LastTerminationState.Terminated = c.last.DeepCopy()
	}
	return s
}

// writeStatus puts the pod's status as the kubelet would report it.
func (r *podRun) writeStatus(ctx context.Context) {
	terminal := r.phase == corev1.PodSucceeded || r.phase == corev1.PodFailed
	if terminal {
		for _, c := range append(append([]*ctr{}, r.init...), r.main...) {
			if c.term == nil { // never started: report it as not run
				c.term = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", FinishedAt: metav1.Now()}
				if c.proc == nil {
					c.term.ExitCode, c.term.Reason = 137, "ContainerStatusUnknown"
				}
			}
			c.waiting, c.ready = "", false
		}
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		st := corev1.ConditionFalse
		if ok {
			st = corev1.ConditionTrue
		}
		return corev1.PodCondition{Type: t, Status: st, LastTransitionTime: metav1.Now()}
	}
	initialized := r.phase != corev1.PodPending
	ready := r.phase == corev1.PodRunning
	for _, c := range r.main {
		ready = ready && c.ready
	}
	for _, c := range r.init {
		if c.sidecar {
			ready = ready && c.ready
		}
	}
	for attempt := 0; attempt < 20; attempt++ {
		cur, err := r.k.opts.Client.CoreV1().Pods(r.pod.Namespace).Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil || cur.UID != r.pod.UID {
			return
		}
		st := &cur.Status
		st.Phase = r.phase
		st.HostIP, st.PodIP = "127.0.0.1", "127.0.0.1"
		st.HostIPs, st.PodIPs = []corev1.HostIP{{IP: "127.0.0.1"}}, []corev1.PodIP{{IP: "127.0.0.1"}}
		st.StartTime = ptr.To(metav1.NewTime(r.start))
		var conds []corev1.PodCondition
		for _, c := range st.Conditions {
			if c.Type == corev1.PodScheduled || c.Type == corev1.DisruptionTarget {
				conds = append(conds, c)
			}
		}
		st.Conditions = append(conds, cond(corev1.PodReadyToStartContainers, !terminal), cond(corev1.PodInitialized, initialized),
			cond(corev1.ContainersReady, ready), cond(corev1.PodReady, ready))
		st.InitContainerStatuses, st.ContainerStatuses = nil, nil
		for _, c := range r.init {
			st.InitContainerStatuses = append(st.InitContainerStatuses, c.status())
		}
		for _, c := range r.main {
			st.ContainerStatuses = append(st.ContainerStatuses, c.status())
		}
		_, err = r.k.opts.Client.CoreV1().Pods(r.pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) {
			if err != nil {
				r.k.logf("kubeletsim: pod %s status: %v", r.pod.Name, err)
			}
			return
		}
	}
}

// automounts reports whether every container gets the token, as the
// kubelet does unless automountServiceAccountToken is false.
func automounts(p *corev1.Pod) bool {
	return p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken
}

// projectedTokenVolume names the pod's projected volume holding a
// ServiceAccount token, or "".
func projectedTokenVolume(p *corev1.Pod) string {
	for _, v := range p.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return v.Name
			}
		}
	}
	return ""
}

// mountsAt reports whether c mounts volume at path.
func mountsAt(c *corev1.Container, volume, path string) bool {
	for _, m := range c.VolumeMounts {
		if volume != "" && m.Name == volume && m.MountPath == path {
			return true
		}
	}
	return false
}
