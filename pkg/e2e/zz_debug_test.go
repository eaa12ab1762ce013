package e2e

import (
	"context"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var _ = apiextensionsv1.SchemeGroupVersion

func TestZZDebug(t *testing.T) {
	cs := clientset.NewForConfigOrDie(s.env.Config)
	l, err := cs.ApiextensionsV1().CustomResourceDefinitions().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Items {
		t.Log(c.Name, c.Status.Conditions)
	}
	t.Log(s.env.Environment.CRDDirectoryPaths, len(s.env.Environment.CRDs), s.env.Environment.CRDInstallOptions.Paths)
	t.Fail()
}
