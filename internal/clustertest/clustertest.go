// Package clustertest holds the fixtures that the unit tests of pkg/cluster
// and pkg/profilerun share: the repository's example DGDRs, GPU nodes
// labelled as GPU Feature Discovery labels them, and a fake
// controller-runtime client. It does not import pkg/cluster, so that
// package's own tests can use it; the label names are written out as GFD
// spells them, which also checks pkg/cluster's constants.
package clustertest

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// Now is the fixed time of the tests' clocks.
var Now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// GPUNode is a node with GFD's product and memory labels (left out when
// empty or zero) and count GPUs allocatable.
func GPUNode(name, product string, memMiB, count int) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if product != "" {
		n.Labels["nvidia.com/gpu.product"] = product
	}
	if memMiB > 0 {
		n.Labels["nvidia.com/gpu.memory"] = strconv.Itoa(memMiB)
	}
	n.Status.Allocatable = corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(int64(count), resource.DecimalSI)}
	return n
}

// LoadExample reads examples/<file> as a DGDR in namespace team, with a UID
// and generation 1 as the API server would give it.
func LoadExample(t testing.TB, file string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	d.Namespace = "team"
	d.UID = types.UID("uid-" + d.Name)
	d.Generation = 1
	return &d
}

// Client is a fake client with the plugin's scheme, the DGDR status
// subresource, objs stored and funcs intercepting calls (nil: none).
func Client(t testing.TB, funcs *interceptor.Funcs, objs ...client.Object) client.WithWatch {
	t.Helper()
	s, err := api.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&v1alpha1.DynamoGraphDeploymentRequest{})
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}
