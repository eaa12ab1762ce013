// Package testenv starts the real control plane our tests run against: etcd
// and kube-apiserver through controller-runtime's envtest, and optionally the
// "full set" (kube-controller-manager, kube-scheduler and kwok with fake GPU
// nodes) for tests where Jobs must be scheduled and run. The binaries come
// from `make testbin`; nothing is downloaded.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// K8sVersion is the version of the control-plane binaries.
const K8sVersion = "v1.37.2"

// Options chooses what to start.
type Options struct {
	// Full also starts kube-controller-manager, kube-scheduler and kwok.
	Full bool
	// Nodes are fake GPU nodes to create once the full set is up.
	Nodes []GPUNode
	// CRDs to install; nil installs the DGDR CRD and the test DGD CRD.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// CRDPaths are extra CRD files or folders to install.
	CRDPaths []string
	// WebhookInstall registers admission webhooks served by the test, whose
	// server must also serve the DGDR conversion at ConvertPath. Without it,
	// Start serves the conversion itself: the DGDR CRD stores v1beta1, so
	// every v1alpha1 read and write goes through the conversion webhook.
	WebhookInstall *envtest.WebhookInstallOptions
	// KwokStages replaces the default kwok stage YAML (node init and
	// heartbeat, pod ready/complete/delete).
	KwokStages string
	// StartTimeout per component; 0 means 60 s (a loaded 2-core CI is slow).
	StartTimeout time.Duration
}

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	// Config is an admin (system:masters) config.
	Config *rest.Config
	// Kubeconfig is the path of an admin kubeconfig file, for child processes.
	Kubeconfig string
	Client     kubernetes.Interface

	dir   string
	procs []*process // started by us, stopped in reverse order
	// stopServing ends the conversion webhook Start serves itself.
	stopServing context.CancelFunc
}

// RepoRoot finds the repository root by walking up to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "tools", "k8s")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (a go.mod beside hack/tools/k8s) above the working directory")
		}
		dir = parent
	}
}

// BinDir is where `make testbin` puts the binaries.
func BinDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "bin", "k8s", K8sVersion)
	names := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return "", fmt.Errorf("control-plane binary %s is missing from %s: run `make testbin`", n, dir)
		}
	}
	return dir, nil
}

// Start starts the control plane. On any error, everything already started is
// stopped before Start returns.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	root, _ := RepoRoot()
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	crds := opts.CRDs
	paths := opts.CRDPaths
	if crds == nil {
		paths = append([]string{
			filepath.Join(root, "manifests", "crd"),
			filepath.Join(root, "manifests", "test", "dgd-crd"),
		}, paths...)
	}
	sch, err := conversionScheme()
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		Scheme:                   sch,
		BinaryAssetsDirectory:    bin,
		CRDs:                     crds,
		CRDDirectoryPaths:        paths,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	if opts.WebhookInstall != nil {
		te.WebhookInstallOptions = *opts.WebhookInstall
	}
	env = &Env{Environment: te}
	// envtest's Start can return early with etcd and the apiserver still
	// running (a bad CRD, a webhook install error): always stop on failure.
	defer func() {
		if err != nil {
			_ = env.Stop()
			env = nil
		}
	}()
	env.Config, err = te.Start()
	if err != nil {
		return env, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	if opts.WebhookInstall == nil {
		sctx, cancel := context.WithCancel(context.Background())
		env.stopServing = cancel
		if err = startConversion(sctx, te.WebhookInstallOptions, sch); err != nil {
			return env, err
		}
	}
	if env.Client, err = kubernetes.NewForConfig(env.Config); err != nil {
		return env, err
	}
	if env.dir, err = os.MkdirTemp("", "dgdr-testenv-"); err != nil {
		return env, err
	}
	admin, err := te.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return env, fmt.Errorf("adding the admin user: %w", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return env, err
	}
	env.Kubeconfig = filepath.Join(env.dir, "admin.kubeconfig")
	if err = os.WriteFile(env.Kubeconfig, kc, 0o600); err != nil {
		return env, err
	}
	if opts.Full {
		if err = env.startFullSet(ctx, bin, opts, timeout); err != nil {
			return env, err
		}
	}
	return env, nil
}

// Stop stops kwok, the scheduler and the controller-manager, then the
// apiserver and etcd: a kube-apiserver whose etcd is gone ignores SIGTERM.
func (e *Env) Stop() error {
	if e == nil {
		return nil
	}
	var errs []error
	for i := len(e.procs) - 1; i >= 0; i-- {
		if err := e.procs[i].stop(); err != nil {
			errs = append(errs, err)
		}
	}
	e.procs = nil
	if e.stopServing != nil {
		e.stopServing()
	}
	if e.Environment != nil {
		if err := e.Environment.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping envtest: %w", err))
		}
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
	return errors.Join(errs...)
}

// AddUser returns a kubeconfig file for a user in the given groups (none for
// an ordinary user subject to RBAC).
func (e *Env) AddUser(name string, groups ...string) (string, error) {
	u, err := e.Environment.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", err
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(e.dir, name+".kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}

// Kubectl runs the kubectl built by `make testbin` as the admin user and
// returns its combined output.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	bin, err := BinDir()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// PIDs lists every process this Env started, ours and envtest's, so tests can
// prove none is left after Stop.
func (e *Env) PIDs() []int {
	var pids []int
	for _, p := range e.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return append(pids, childPIDs(os.Getpid())...)
}
