package manifests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/testenv"
)

// TestPluginRBACPerNamespace applies manifests/rbac/team-binding to the real
// apiserver and asks `kubectl auth can-i` as a member of the bound group:
// everything the plugin needs in namespace team, nothing that writes
// anywhere else (kube-system above all), and only reads cluster-wide.
func TestPluginRBACPerNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		t.Fatalf("%v (run `make testbin` if binaries are missing)", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	}()
	y, err := BuildYAML("rbac/team-binding")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rbac.yaml")
	if err := os.WriteFile(file, y, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"create", "namespace", "team"}, {"apply", "-f", file}} {
		if out, err := env.Kubectl(ctx, args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	user, err := env.AddUser("alice", "kubectl-dgdr-users")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	canI := func(args ...string) string {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", user, "auth", "can-i"}, args...)...)
		out, _ := cmd.Output() // exit 1 means "no"
		return strings.TrimSpace(string(out))
	}
	allowed := [][]string{
		{"create", "jobs.batch", "-n", "team"},
		{"delete", "jobs.batch", "-n", "team"},
		{"create", "dynamographdeploymentrequests.nvidia.com", "-n", "team"},
		{"update", "dynamographdeploymentrequests.nvidia.com", "--subresource=status", "-n", "team"},
		{"patch", "dynamographdeployments.nvidia.com", "-n", "team"},
		{"update", "configmaps", "-n", "team"},
		{"delete", "services", "-n", "team"},
		{"create", "roles.rbac.authorization.k8s.io", "-n", "team"},
		{"list", "nodes"},
		{"list", "pods", "--all-namespaces"},
	}
	refused := [][]string{
		{"create", "jobs.batch", "-n", "kube-system"},
		{"update", "configmaps", "-n", "kube-system"},
		{"delete", "configmaps", "-n", "kube-system"},
		{"delete", "services", "-n", "kube-system"},
		{"create", "dynamographdeploymentrequests.nvidia.com", "-n", "kube-system"},
		{"create", "serviceaccounts", "-n", "default"},
		{"create", "jobs.batch", "--all-namespaces"},
		{"get", "secrets", "-n", "team"},
		{"list", "secrets", "--all-namespaces"},
		{"create", "clusterrolebindings.rbac.authorization.k8s.io"},
		{"delete", "nodes"},
		{"create", "pods", "-n", "team"},
	}
	for _, a := range allowed {
		if got := canI(a...); got != "yes" {
			t.Errorf("kubectl auth can-i %s: %q, want yes", strings.Join(a, " "), got)
		}
	}
	for _, a := range refused {
		if got := canI(a...); got != "no" {
			t.Errorf("kubectl auth can-i %s: %q, want no", strings.Join(a, " "), got)
		}
	}
}
