package manifests

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
)

// rendered is one install variant, decoded.
type rendered struct {
	all        []*unstructured.Unstructured
	mutating   []admissionregv1.MutatingWebhookConfiguration
	validating []admissionregv1.ValidatingWebhookConfiguration
	deploy     *appsv1.Deployment
	service    *corev1.Service
	namespace  string
}

func render(t *testing.T, dir string) *rendered {
	t.Helper()
	m, err := Build(dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{}
	for _, res := range m.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			t.Fatal(err)
		}
		r.all = append(r.all, u)
		into := func(v any) {
			if err := yaml.UnmarshalStrict(b, v); err != nil {
				t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
			}
		}
		switch u.GetKind() {
		case "MutatingWebhookConfiguration":
			var c admissionregv1.MutatingWebhookConfiguration
			into(&c)
			r.mutating = append(r.mutating, c)
		case "ValidatingWebhookConfiguration":
			var c admissionregv1.ValidatingWebhookConfiguration
			into(&c)
			r.validating = append(r.validating, c)
		case "Deployment":
			r.deploy = &appsv1.Deployment{}
			into(r.deploy)
		case "Service":
			r.service = &corev1.Service{}
			into(r.service)
		case "Namespace":
			r.namespace = u.GetName()
		}
	}
	return r
}

func (r *rendered) find(kind, name string) *unstructured.Unstructured {
	for _, u := range r.all {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	return nil
}

func argValue(args []string, flag string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
			return v, true
		}
		if a == "--"+flag {
			return "true", true
		}
	}
	return "", false
}

var variants = []string{"install/cert-manager", "install/self-managed"}

func TestInstallInvariants(t *testing.T) {
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			r := render(t, v)
			if len(r.mutating) != 1 || len(r.validating) != 1 {
				t.Fatalf("want one mutating and one validating configuration, got %d and %d", len(r.mutating), len(r.validating))
			}
			if r.deploy == nil || r.service == nil || r.namespace == "" {
				t.Fatalf("missing Deployment, Service or Namespace")
			}
			if r.find("CustomResourceDefinition", "dynamographdeploymentrequests.nvidia.com") == nil {
				t.Error("the DGDR CRD is not part of the install")
			}
			if r.find("CustomResourceDefinition", "dynamographdeployments.nvidia.com") != nil {
				t.Error("the test-only DGD CRD leaked into the install")
			}
			for _, u := range r.all {
				namespaced := !slices.Contains([]string{"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
					"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}, u.GetKind())
				if namespaced && u.GetNamespace() != r.namespace {
					t.Errorf("%s %s is in namespace %q, want %q", u.GetKind(), u.GetName(), u.GetNamespace(), r.namespace)
				}
			}

			type hook struct {
				name      string
				cc        admissionregv1.WebhookClientConfig
				rules     []admissionregv1.RuleWithOperations
				fp        *admissionregv1.FailurePolicyType
				se        *admissionregv1.SideEffectClass
				to        *int32
				mp        *admissionregv1.MatchPolicyType
				arv       []string
				wantPath  string
				selectors bool
				version   string
			}
			m, vv := r.mutating[0].Webhooks, r.validating[0].Webhooks
			if len(m) != 1 || len(vv) != 2 {
				t.Fatalf("want one mutating webhook (v1alpha1) and two validating ones (v1alpha1, v1beta1), got %d and %d", len(m), len(vv))
			}
			hooks := []hook{
				{m[0].Name, m[0].ClientConfig, m[0].Rules, m[0].FailurePolicy, m[0].SideEffects, m[0].TimeoutSeconds, m[0].MatchPolicy, m[0].AdmissionReviewVersions, admission.MutatePath, m[0].NamespaceSelector != nil || m[0].ObjectSelector != nil, "v1alpha1"},
				{vv[0].Name, vv[0].ClientConfig, vv[0].Rules, vv[0].FailurePolicy, vv[0].SideEffects, vv[0].TimeoutSeconds, vv[0].MatchPolicy, vv[0].AdmissionReviewVersions, admission.ValidatePath, vv[0].NamespaceSelector != nil || vv[0].ObjectSelector != nil, "v1alpha1"},
				{vv[1].Name, vv[1].ClientConfig, vv[1].Rules, vv[1].FailurePolicy, vv[1].SideEffects, vv[1].TimeoutSeconds, vv[1].MatchPolicy, vv[1].AdmissionReviewVersions, admission.ValidatePathV1beta1, vv[1].NamespaceSelector != nil || vv[1].ObjectSelector != nil, "v1beta1"},
			}
			for _, h := range hooks {
				if h.selectors {
					t.Errorf("%s: our own CRD needs no namespace or object selector", h.name)
				}
				if strings.Count(h.name, ".") < 2 {
					t.Errorf("%s: webhook name needs three segments", h.name)
				}
				s := h.cc.Service
				if s == nil || s.Path == nil || *s.Path != h.wantPath {
					t.Errorf("%s: clientConfig.service.path = %v, want %s", h.name, s, h.wantPath)
					continue
				}
				if s.Name != r.service.Name || s.Namespace != r.service.Namespace {
					t.Errorf("%s: service %s/%s, want %s/%s", h.name, s.Namespace, s.Name, r.service.Namespace, r.service.Name)
				}
				port := int32(443)
				if s.Port != nil {
					port = *s.Port
				}
				found := false
				for _, p := range r.service.Spec.Ports {
					if p.Port == port {
						found = true
						want, _ := argValue(r.deploy.Spec.Template.Spec.Containers[0].Args, "port")
						if p.TargetPort.String() != want {
							t.Errorf("Service targetPort %s != Deployment --port %s", p.TargetPort.String(), want)
						}
					}
				}
				if !found {
					t.Errorf("%s: the Service has no port %d", h.name, port)
				}
				if h.fp == nil || *h.fp != admissionregv1.Fail || h.se == nil || *h.se != admissionregv1.SideEffectClassNone ||
					h.to == nil || *h.to != 5 || h.mp == nil || *h.mp != admissionregv1.Exact || !slices.Equal(h.arv, []string{"v1"}) {
					t.Errorf("%s: want failurePolicy Fail, sideEffects None, timeoutSeconds 5, matchPolicy Exact, admissionReviewVersions [v1]", h.name)
				}
				want := []admissionregv1.RuleWithOperations{{
					Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
					Rule:       admissionregv1.Rule{APIGroups: []string{"nvidia.com"}, APIVersions: []string{h.version}, Resources: []string{"dynamographdeploymentrequests"}},
				}}
				scope := admissionregv1.NamespacedScope
				want[0].Rule.Scope = &scope
				if !equality.Semantic.DeepEqual(h.rules, want) {
					t.Errorf("%s: rules %+v, want only DGDR %s CREATE and UPDATE", h.name, h.rules, h.version)
				}
			}
			checkConversion(t, r)

			d := r.deploy.Spec.Template.Spec
			c := d.Containers[0]
			if *r.deploy.Spec.Replicas != 2 {
				t.Errorf("replicas = %d, want 2", *r.deploy.Spec.Replicas)
			}
			if d.SecurityContext == nil || d.SecurityContext.RunAsNonRoot == nil || !*d.SecurityContext.RunAsNonRoot ||
				d.SecurityContext.SeccompProfile == nil || d.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Error("pod must run as non-root with the RuntimeDefault seccomp profile")
			}
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
				c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
				t.Error("container must have a read-only root filesystem and no privilege escalation")
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Error("container must set resources")
			}
			probeAddr, _ := argValue(c.Args, "health-probe-bind-address")
			for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s probe missing", name)
					continue
				}
				port := p.HTTPGet.Port.String()
				for _, cp := range c.Ports {
					if cp.Name == port {
						port = fmt.Sprint(cp.ContainerPort)
					}
				}
				if !strings.HasSuffix(probeAddr, ":"+port) {
					t.Errorf("%s probe on port %s, but --health-probe-bind-address=%s", name, port, probeAddr)
				}
			}
			if v, _ := argValue(c.Args, "tls-min-version"); v != "1.2" && v != "1.3" {
				t.Errorf("--tls-min-version = %q", v)
			}
			if _, on := argValue(c.Args, "enable-http2"); on {
				t.Error("HTTP/2 must stay off")
			}
			if r.find("PodDisruptionBudget", r.deploy.Name) == nil {
				t.Error("no PodDisruptionBudget")
			}
			certDir, _ := argValue(c.Args, "cert-dir")
			mounted := false
			for _, vm := range c.VolumeMounts {
				mounted = mounted || vm.MountPath == certDir
			}
			if !mounted {
				t.Errorf("--cert-dir=%s is not a volume mount", certDir)
			}

			switch v {
			case "install/cert-manager":
				checkCertManager(t, r)
			case "install/self-managed":
				checkSelfManaged(t, r)
			}
		})
	}
}

// checkConversion: the CRD converts through the webhook's Service at
// pkg/webhook.ConvertPath.
func checkConversion(t *testing.T, r *rendered) {
	t.Helper()
	crd := r.find("CustomResourceDefinition", "dynamographdeploymentrequests.nvidia.com")
	if crd == nil {
		return
	}
	strategy, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "strategy")
	svc, _, _ := unstructured.NestedMap(crd.Object, "spec", "conversion", "webhook", "clientConfig", "service")
	if strategy != "Webhook" || svc["name"] != r.service.Name || svc["namespace"] != r.service.Namespace || svc["path"] != "/convert" {
		t.Errorf("CRD conversion: strategy %q, service %v; want Webhook through %s/%s at /convert", strategy, svc, r.service.Namespace, r.service.Name)
	}
}

func checkCertManager(t *testing.T, r *rendered) {
	cert := r.find("Certificate", "dgdr-webhook-cert")
	if cert == nil || r.find("Issuer", "dgdr-selfsigned") == nil {
		t.Fatal("the cert-manager variant needs the Issuer and the Certificate")
	}
	want := cert.GetNamespace() + "/" + cert.GetName()
	if a := r.mutating[0].Annotations["cert-manager.io/inject-ca-from"]; a != want {
		t.Errorf("mutating inject-ca-from = %q, want %q", a, want)
	}
	if a := r.validating[0].Annotations["cert-manager.io/inject-ca-from"]; a != want {
		t.Errorf("validating inject-ca-from = %q, want %q", a, want)
	}
	if crd := r.find("CustomResourceDefinition", "dynamographdeploymentrequests.nvidia.com"); crd.GetAnnotations()["cert-manager.io/inject-ca-from"] != want {
		t.Errorf("CRD inject-ca-from = %q, want %q (its conversion webhook needs the CA)", crd.GetAnnotations()["cert-manager.io/inject-ca-from"], want)
	}
	names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	svc := r.service.Name + "." + r.service.Namespace + ".svc"
	if !slices.Contains(names, svc) {
		t.Errorf("dnsNames %v lack %s", names, svc)
	}
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	for _, vol := range r.deploy.Spec.Template.Spec.Volumes {
		if vol.Secret != nil && vol.Secret.SecretName == secret {
			return
		}
	}
	t.Errorf("the Deployment does not mount the Certificate's Secret %s", secret)
}

func checkSelfManaged(t *testing.T, r *rendered) {
	c := r.deploy.Spec.Template.Spec.Containers[0]
	if on, _ := argValue(c.Args, "self-managed-certs"); on != "true" {
		t.Fatal("--self-managed-certs is not set")
	}
	secret, _ := argValue(c.Args, "cert-secret-name")
	mwc, _ := argValue(c.Args, "mutating-webhook-configuration")
	vwc, _ := argValue(c.Args, "validating-webhook-configuration")
	svc, _ := argValue(c.Args, "service-name")
	if svc != r.service.Name {
		t.Errorf("--service-name=%s, Service is %s", svc, r.service.Name)
	}
	if mwc != r.mutating[0].Name || vwc != r.validating[0].Name {
		t.Errorf("the rotator patches %s and %s, but the configurations are %s and %s", mwc, vwc, r.mutating[0].Name, r.validating[0].Name)
	}
	s := r.find("Secret", secret)
	if s == nil {
		t.Fatalf("Secret %s is not shipped", secret)
	}
	if _, has := s.Object["data"]; has {
		t.Error("the shipped Secret must be empty")
	}
	// RBAC names exactly the Secret and the two configurations, get/update only.
	var role rbacv1.Role
	var crole rbacv1.ClusterRole
	for _, u := range r.all {
		b, _ := yaml.Marshal(u.Object)
		switch u.GetKind() {
		case "Role":
			_ = yaml.Unmarshal(b, &role)
		case "ClusterRole":
			_ = yaml.Unmarshal(b, &crole)
		}
	}
	check := func(rules []rbacv1.PolicyRule, want map[string]string) {
		if len(rules) != len(want) {
			t.Errorf("rules %v, want exactly %v", rules, want)
		}
		for _, rule := range rules {
			if len(rule.Resources) != 1 || len(rule.ResourceNames) != 1 || want[rule.Resources[0]] != rule.ResourceNames[0] ||
				!slices.Equal(rule.Verbs, []string{"get", "update"}) {
				t.Errorf("rule %+v is broader than get/update on %v", rule, want)
			}
		}
	}
	check(role.Rules, map[string]string{"secrets": secret})
	crdName, _ := argValue(c.Args, "crd-name")
	check(crole.Rules, map[string]string{"mutatingwebhookconfigurations": mwc, "validatingwebhookconfigurations": vwc,
		"customresourcedefinitions": crdName})
	if r.find("CustomResourceDefinition", crdName) == nil {
		t.Errorf("--crd-name=%s is not the CRD installed", crdName)
	}
	for _, vol := range r.deploy.Spec.Template.Spec.Volumes {
		if vol.Secret != nil {
			t.Errorf("self-managed writes its files itself; volume %s must not be a Secret", vol.Name)
		}
	}
}

// Builds share a mutex: concurrent callers must not race or panic.
func TestBuildConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := Build(variants[i%2])
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := Build("no/such/dir"); err == nil {
		t.Error("building a missing directory must fail")
	}
}

// TestDeploymentHardening: a pinned image, replicas on distinct nodes, a
// priority class, GOMEMLIMIT's source, probes and metrics on the pod IP
// with a NetworkPolicy, and timeouts set.
func TestDeploymentHardening(t *testing.T) {
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			r := render(t, v)
			spec := r.deploy.Spec.Template.Spec
			c := spec.Containers[0]
			name, tag, ok := strings.Cut(c.Image, ":")
			if !ok || tag == "latest" || !strings.HasPrefix(tag, "v") || strings.Contains(name, "@") {
				t.Errorf("image %q is not pinned to a release tag", c.Image)
			}
			if len(spec.TopologySpreadConstraints) == 0 || spec.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.DoNotSchedule ||
				spec.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
				t.Errorf("replicas are not spread across nodes with DoNotSchedule: %+v", spec.TopologySpreadConstraints)
			}
			if spec.PriorityClassName == "" || r.find("PriorityClass", spec.PriorityClassName) == nil {
				t.Errorf("priorityClassName %q is not shipped", spec.PriorityClassName)
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			if e := env["MEMORY_LIMIT"]; e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
				t.Error("MEMORY_LIMIT does not come from the container's memory limit (downward API)")
			}
			if e := env["POD_IP"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
				t.Error("POD_IP does not come from status.podIP")
			}
			for _, f := range []string{"health-probe-bind-address", "metrics-bind-address"} {
				if a, _ := argValue(c.Args, f); !strings.HasPrefix(a, "$(POD_IP):") {
					t.Errorf("--%s=%s is not bound to the pod IP", f, a)
				}
			}
			for _, f := range []string{"read-timeout", "write-timeout"} {
				if _, ok := argValue(c.Args, f); !ok {
					t.Errorf("--%s not set", f)
				}
			}
			if r.find("NetworkPolicy", "dgdr-webhook") == nil {
				t.Error("no NetworkPolicy")
			}
		})
	}
}
