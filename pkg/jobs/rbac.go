package jobs

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Worker is the measure container's identity for one Job: a
// ServiceAccount, a Role and a RoleBinding, all named after the Job, that
// allow get and update on one ConfigMap, the Job's result. RBAC cannot
// name the object of a create, so the plugin creates that ConfigMap empty
// beforehand and the worker only fills it in: a stolen worker token can
// neither read nor write any other object. The engine container mounts no
// token at all (Build). All four are owned by the DGDR, like the Job.
type Worker struct {
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	Result         *corev1.ConfigMap
}

// worker builds the identity of Job name with the Job's namespace, labels
// and owner.
func worker(name, namespace string, labels map[string]string, owner metav1.OwnerReference) Worker {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: maps.Clone(labels), OwnerReferences: []metav1.OwnerReference{owner}}
	}
	return Worker{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(),
			AutomountServiceAccountToken: ptr.To(false)},
		Role: &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta(),
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name},
				Verbs: []string{"get", "update"},
			}},
		},
		RoleBinding: &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: namespace}},
		},
		Result: &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta()},
	}
}
