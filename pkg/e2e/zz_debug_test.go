package e2e

import "testing"

func TestZZDebug(t *testing.T) {
	rl, err := s.env.Client.Discovery().ServerResourcesForGroupVersion("nvidia.com/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rl.APIResources {
		t.Log(r.Name, r.Kind)
	}
	t.Fail()
}
