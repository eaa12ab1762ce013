package jobs

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// RBAC is the worker's identity in one namespace: it may only create, get
// and update ConfigMaps (its result, and rank 0's result for other ranks).
type RBAC struct {
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
}

// WorkerRBAC builds the ServiceAccount, Role and RoleBinding named
// WorkerServiceAccount. They are shared by every DGDR of the namespace, so
// they carry no owner reference.
func WorkerRBAC(namespace string) RBAC {
	meta := metav1.ObjectMeta{
		Name: WorkerServiceAccount, Namespace: namespace,
		Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue},
	}
	return RBAC{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta},
		Role: &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta,
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "get", "update"},
			}},
		},
		RoleBinding: &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: WorkerServiceAccount},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: WorkerServiceAccount, Namespace: namespace}},
		},
	}
}
