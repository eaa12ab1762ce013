package cluster

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

type runtimeRaw = runtime.RawExtension

func nestedString(m map[string]any, path ...string) (string, bool, error) {
	return unstructured.NestedString(m, path...)
}

func nestedInt(m map[string]any, path ...string) (int64, bool, error) {
	v, ok, err := unstructured.NestedFieldNoCopy(m, path...)
	switch n := v.(type) {
	case int64:
		return n, ok, err
	case int:
		return int64(n), ok, err
	case float64:
		return int64(n), ok, err
	}
	return 0, ok, err
}
