package e2e

import (
	"context"
	"testing"
)

func TestZZDebug(t *testing.T) {
	b, err := s.env.Client.Discovery().RESTClient().Get().AbsPath("/apis/nvidia.com/v1alpha1").DoRaw(context.Background())
	t.Log(string(b), err)
	b, err = s.env.Client.Discovery().RESTClient().Get().AbsPath("/apis/nvidia.com/v1alpha1/dynamographdeployments").DoRaw(context.Background())
	t.Log(string(b), err)
	t.Fail()
}
