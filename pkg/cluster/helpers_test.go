package cluster

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

type runtimeRaw = runtime.RawExtension

func nestedString(m map[string]any, path ...string) (string, bool, error) {
	return unstructured.NestedString(m, path...)
}
