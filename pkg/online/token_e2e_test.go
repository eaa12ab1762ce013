package online

import (
	"context"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/manifests"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// A profiling Job's token, as its measure container holds it, may read and
// update that Job's result ConfigMap and nothing else: not another
// ConfigMap (a neighbour's, another Job's), not a new one, not a list, not
// a delete, not Secrets, Jobs or pods. The real apiserver decides (RBAC),
// and the Job itself writes its result with that token first.
func TestWorkerTokenTouchesOnlyItsResult(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := e2e.env.Client
	victim, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "team-settings"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.CoreV1().ConfigMaps("default").Delete(context.Background(), victim.Name, metav1.DeleteOptions{})
	}()

	d := createDGDR(t, "qwen-token")
	cfg, _ := smallCase.config(t)
	m := newMeasurer(t, d, mockerTemplate(), 0, &events{})
	tp1 := results.Mapping{Kind: "TP", N: 1}
	own := m.newTask(jobs.PhasePrefill, tp1, []int{1000}, 0, 0, cfg)
	other := m.newTask(jobs.PhaseDecode, tp1, []int{1000}, 100, 2, cfg)
	if err := m.run(ctx, []*task{own}); err != nil {
		t.Fatalf("the Job could not write its result with its own token: %v", err)
	}
	// Another Job's identity and result exist too (the token must not reach
	// them), created as a plugin user holding only kubectl-dgdr-user in this
	// namespace: the RBAC escalation check lets that user grant the Role.
	m.opts.Client = pluginUser(ctx, t, "default")
	objs, err := jobs.Build(other.spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.createWorker(ctx, other, objs.Worker); err != nil {
		t.Fatalf("a plugin user cannot create a Job's identity: %v", err)
	}

	tok, err := c.CoreV1().ServiceAccounts("default").CreateToken(ctx, own.name, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := kubernetes.NewForConfig(&rest.Config{Host: e2e.env.Config.Host, BearerToken: tok.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: e2e.env.Config.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	cms := wc.CoreV1().ConfigMaps("default")
	mine, err := cms.Get(ctx, own.name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the worker cannot read its own result: %v", err)
	}
	if _, err := workerproto.ReadResult(mine); err != nil {
		t.Fatalf("the Job's result: %v", err)
	}
	if _, err := cms.Update(ctx, mine, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("the worker cannot update its own result: %v", err)
	}

	bad := victim.DeepCopy()
	bad.Data = map[string]string{"k": "tampered"}
	for what, call := range map[string]func() error{
		"get a neighbour's ConfigMap":    func() error { _, err := cms.Get(ctx, victim.Name, metav1.GetOptions{}); return err },
		"update a neighbour's ConfigMap": func() error { _, err := cms.Update(ctx, bad, metav1.UpdateOptions{}); return err },
		"get another Job's result":       func() error { _, err := cms.Get(ctx, other.name, metav1.GetOptions{}); return err },
		"create a ConfigMap": func() error {
			_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "planted"}}, metav1.CreateOptions{})
			return err
		},
		"list ConfigMaps":       func() error { _, err := cms.List(ctx, metav1.ListOptions{}); return err },
		"delete its own result": func() error { return cms.Delete(ctx, own.name, metav1.DeleteOptions{}) },
		"read kube-system's": func() error {
			_, err := wc.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{})
			return err
		},
		"read Secrets": func() error { _, err := wc.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); return err },
		"list pods":    func() error { _, err := wc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); return err },
		"create a Job": func() error {
			_, err := wc.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{}, metav1.CreateOptions{})
			return err
		},
		"widen its own Role": func() error {
			r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: own.name},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}}
			_, err := wc.RbacV1().Roles("default").Update(ctx, r, metav1.UpdateOptions{})
			return err
		},
		"mint a token for another": func() error {
			_, err := wc.CoreV1().ServiceAccounts("default").CreateToken(ctx, other.name, &authv1.TokenRequest{}, metav1.CreateOptions{})
			return err
		},
	} {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("the worker's token could %s: %v (want Forbidden)", what, err)
		}
	}
	if v, err := c.CoreV1().ConfigMaps("default").Get(ctx, victim.Name, metav1.GetOptions{}); err != nil || v.Data["k"] != "v" {
		t.Errorf("the neighbour's ConfigMap changed: %v, %v", v.Data, err)
	}
	deleteAndCheckNoOrphans(t, d)
}

// pluginUser is a client for a user bound to manifests/rbac/plugin-user's
// kubectl-dgdr-user in namespace ns alone, as docs/rbac.md tells admins.
func pluginUser(ctx context.Context, t *testing.T, ns string) kubernetes.Interface {
	t.Helper()
	b, err := manifests.FS.ReadFile("rbac/plugin-user/clusterrole.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatal(err)
	}
	c := e2e.env.Client
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	const user = "plugin-user"
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(e2e.env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	uc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uc.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the plugin user may list Secrets (%v): the client is not that user", err)
	}
	return uc
}
