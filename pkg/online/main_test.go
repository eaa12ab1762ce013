package online

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kwok/kustomize/stage/node/fast"
	"sigs.k8s.io/kwok/kustomize/stage/node/heartbeat"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/kubeletsim"
	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// One control plane (2 × 8 fake H100) and one harness for the package.
var e2e struct {
	env     *testenv.Env
	kubelet *kubeletsim.Kubelet
	crc     client.Client
	worker  string
	err     error
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "online-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	e2e.err = setup(ctx, dir)
	code := m.Run()
	var pids []int
	if e2e.kubelet != nil {
		pids = append(pids, e2e.kubelet.PIDs()...)
		if err := e2e.kubelet.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping kubeletsim:", err)
			code = 1
		}
	}
	if e2e.env != nil {
		pids = append(pids, e2e.env.PIDs()...)
		if err := e2e.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
			code = 1
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, p := range pids {
		if testenv.Alive(p) {
			fmt.Fprintf(os.Stderr, "process %d is still alive after teardown\n", p)
			code = 1
		}
	}
	return code
}

func setup(ctx context.Context, dir string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "dgdr-worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/dgdr-worker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building dgdr-worker: %v: %s", err, out)
	}
	e2e.worker = bin
	// No pod-ready/pod-complete stages: the harness runs the containers and
	// decides when pods finish. pod-delete finalizes deleted pods.
	stages := strings.Join([]string{fast.DefaultNodeInit, heartbeat.DefaultNodeHeartbeat, podfast.DefaultPodDelete}, "\n---\n")
	env, err := testenv.Start(ctx, testenv.Options{Full: true, Nodes: testenv.H100Nodes(2), KwokStages: stages})
	if err != nil {
		return err
	}
	e2e.env = env
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		return err
	}
	if e2e.crc, err = client.New(env.Config, client.Options{Scheme: s}); err != nil {
		return err
	}
	k, err := kubeletsim.Start(ctx, kubeletsim.Options{
		Client: env.Client, Config: env.Config,
		Binaries:              map[string]string{"/usr/local/bin/worker": bin},
		TerminationMessageArg: "--termination-log",
		Logf: func(f string, a ...any) {
			if os.Getenv("ONLINE_E2E_VERBOSE") != "" {
				fmt.Fprintf(os.Stderr, f+"\n", a...)
			}
		},
	})
	if err != nil {
		return err
	}
	e2e.kubelet = k
	return nil
}

func needEnv(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: needs the control plane (not with -short)")
	}
	if e2e.err != nil {
		t.Fatalf("e2e setup: %v", e2e.err)
	}
}

// freePort gives every engine its own port on this host.
func freePort(string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
