// Package kubeletsim is an e2e harness that does a kubelet's job for pods
// bound to kwok's fake nodes: it runs their containers as local processes
// from the pod's real command, args and env (native sidecars first, then
// the main containers), probes readiness, and writes the pod status the
// job controller reads: Running, then terminated containers with exit
// code, reason and termination message, and phase Succeeded or Failed.
package kubeletsim

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// FakeNodeAnnotation marks the kwok nodes whose pods the harness runs.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// Options configure the harness.
type Options struct {
	Client kubernetes.Interface
	// Config is the API server the pods' in-cluster clients talk to
	// (KUBERNETES_SERVICE_HOST/PORT and the CA of the service-account mount).
	Config *rest.Config
	// Binaries maps an image's entrypoint path (e.g. /usr/local/bin/worker)
	// to the local binary that stands in for it.
	Binaries map[string]string
	// TerminationMessageArg, when set (e.g. "--termination-log"), passes the
	// container's termination-message file to the process as this flag:
	// the kubelet bind-mounts the file at terminationMessagePath, which the
	// harness cannot do in the host's /dev.
	TerminationMessageArg string
	// Poll is how often pods are listed (0: 100 ms).
	Poll time.Duration
	// Dir holds the pods' volumes and logs (""': a new temp dir, removed on Stop).
	Dir string
	// Logf, when set, gets one line per pod event.
	Logf func(format string, args ...any)
	// SidecarBackoff is the first restart delay of a crashed sidecar
	// (0: 500 ms, doubled up to 5 s; a kubelet uses 10 s to 5 min).
	SidecarBackoff time.Duration
}

// Kubelet runs pods until Stop.
type Kubelet struct {
	opts    Options
	ownDir  bool
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	pods    map[types.UID]*podRun
	pids    []int
	started int
	nodes   map[string]bool
}

// Start begins watching pods. Stop must be called.
func Start(ctx context.Context, opts Options) (*Kubelet, error) {
	if opts.Client == nil || opts.Config == nil {
		return nil, errors.New("kubeletsim: Client and Config are required: pass the test control plane's")
	}
	if _, err := url.Parse(opts.Config.Host); err != nil {
		return nil, fmt.Errorf("kubeletsim: Config.Host %q: %w", opts.Config.Host, err)
	}
	k := &Kubelet{opts: opts, pods: map[types.UID]*podRun{}, done: make(chan struct{}), nodes: map[string]bool{}}
	if k.opts.Poll <= 0 {
		k.opts.Poll = 100 * time.Millisecond
	}
	if k.opts.SidecarBackoff <= 0 {
		k.opts.SidecarBackoff = 500 * time.Millisecond
	}
	if k.opts.Dir == "" {
		d, err := os.MkdirTemp("", "kubeletsim-")
		if err != nil {
			return nil, err
		}
		k.opts.Dir, k.ownDir = d, true
	}
	ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go k.loop(ctx)
	return k, nil
}

func (k *Kubelet) logf(format string, args ...any) {
	if k.opts.Logf != nil {
		k.opts.Logf(format, args...)
	}
}

// Stop kills every container process, waits for them, and removes the
// harness's directory. Pods stay as they are in the API.
func (k *Kubelet) Stop() error {
	k.cancel()
	<-k.done
	k.mu.Lock()
	runs := make([]*podRun, 0, len(k.pods))
	for _, r := range k.pods {
		runs = append(runs, r)
	}
	k.mu.Unlock()
	var errs []error
	for _, r := range runs {
		if err := r.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if k.ownDir {
		if err := os.RemoveAll(k.opts.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PIDs are every process the harness started, for leak checks.
func (k *Kubelet) PIDs() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]int(nil), k.pids...)
}

// PodsStarted counts the pods whose containers the harness ran.
func (k *Kubelet) PodsStarted() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.started
}

func (k *Kubelet) addPID(pid int) {
	k.mu.Lock()
	k.pids = append(k.pids, pid)
	k.mu.Unlock()
}

func (k *Kubelet) loop(ctx context.Context) {
	defer close(k.done)
	t := time.NewTicker(k.opts.Poll)
	defer t.Stop()
	for {
		k.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (k *Kubelet) fakeNode(ctx context.Context, name string) bool {
	if v, ok := k.nodes[name]; ok {
		return v
	}
	n, err := k.opts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	k.nodes[name] = n.Annotations[FakeNodeAnnotation] == "fake"
	return k.nodes[name]
}

// sync starts pods newly bound to a fake node and stops deleted ones.
func (k *Kubelet) sync(ctx context.Context) {
	list, err := k.opts.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	seen := map[types.UID]bool{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.NodeName == "" || !k.fakeNode(ctx, p.Spec.NodeName) {
			continue
		}
		seen[p.UID] = true
		k.mu.Lock()
		r := k.pods[p.UID]
		k.mu.Unlock()
		switch {
		case r == nil && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed:
			r = newPodRun(k, p.DeepCopy())
			k.mu.Lock()
			k.pods[p.UID] = r
			k.started++
			k.mu.Unlock()
			k.logf("kubeletsim: starting pod %s/%s on %s", p.Namespace, p.Name, p.Spec.NodeName)
			go r.run(ctx)
		case r != nil && p.DeletionTimestamp != nil:
			go func() { _ = r.stop() }()
		}
	}
	k.mu.Lock()
	for uid, r := range k.pods {
		if !seen[uid] {
			go func() { _ = r.stop() }()
		}
	}
	k.mu.Unlock()
}

func (k *Kubelet) podDir(p *corev1.Pod) string {
	return filepath.Join(k.opts.Dir, fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, string(p.UID)[:8]))
}
