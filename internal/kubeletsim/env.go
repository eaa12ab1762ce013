package kubeletsim

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fieldPath resolves the downward-API paths a profiling pod uses.
func fieldPath(p *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.podIP":
		return "127.0.0.1", nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.annotations": p.Annotations, "metadata.labels": p.Labels} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[strings.TrimSuffix(strings.TrimPrefix(path, prefix+"['"), "']")], nil
		}
	}
	return "", fmt.Errorf("fieldRef %q is not supported by kubeletsim", path)
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$`)

// expand does the kubelet's $(VAR) expansion ($$ escapes a dollar).
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// containerEnv is the environment the kubelet would give c, as NAME=value.
func (k *Kubelet) containerEnv(ctx context.Context, p *corev1.Pod, c *corev1.Container) (map[string]string, []string, error) {
	u, _ := url.Parse(k.opts.Config.Host)
	env := map[string]string{
		"HOSTNAME":                p.Name,
		"KUBERNETES_SERVICE_HOST": u.Hostname(),
		"KUBERNETES_SERVICE_PORT": u.Port(),
		"PATH":                    os.Getenv("PATH"),
		"HOME":                    "/tmp",
	}
	order := []string{"HOSTNAME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "PATH", "HOME"}
	set := func(n, v string) {
		if _, ok := env[n]; !ok {
			order = append(order, n)
		}
		env[n] = v
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, env))
			continue
		}
		vf := e.ValueFrom
		switch {
		case vf.FieldRef != nil:
			v, err := fieldPath(p, vf.FieldRef.FieldPath)
			if err != nil {
				return nil, nil, fmt.Errorf("container %s env %s: %w", c.Name, e.Name, err)
			}
			set(e.Name, v)
		case vf.SecretKeyRef != nil:
			s, err := k.opts.Client.CoreV1().Secrets(p.Namespace).Get(ctx, vf.SecretKeyRef.Name, metav1.GetOptions{})
			optional := vf.SecretKeyRef.Optional != nil && *vf.SecretKeyRef.Optional
			switch {
			case err == nil && s.Data[vf.SecretKeyRef.Key] != nil:
				set(e.Name, string(s.Data[vf.SecretKeyRef.Key]))
			case optional && (err == nil || apierrors.IsNotFound(err)):
			case err != nil:
				return nil, nil, fmt.Errorf("container %s env %s: secret %q: %w", c.Name, e.Name, vf.SecretKeyRef.Name, err)
			default:
				return nil, nil, fmt.Errorf("container %s env %s: secret %q has no key %q", c.Name, e.Name, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
			}
		case vf.ConfigMapKeyRef != nil:
			cm, err := k.opts.Client.CoreV1().ConfigMaps(p.Namespace).Get(ctx, vf.ConfigMapKeyRef.Name, metav1.GetOptions{})
			optional := vf.ConfigMapKeyRef.Optional != nil && *vf.ConfigMapKeyRef.Optional
			switch {
			case err == nil:
				if v, ok := cm.Data[vf.ConfigMapKeyRef.Key]; ok {
					set(e.Name, v)
				} else if !optional {
					return nil, nil, fmt.Errorf("container %s env %s: configmap %q has no key %q", c.Name, e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
				}
			case optional && apierrors.IsNotFound(err):
			default:
				return nil, nil, fmt.Errorf("container %s env %s: configmap %q: %w", c.Name, e.Name, vf.ConfigMapKeyRef.Name, err)
			}
		default:
			// resourceFieldRef: not needed by profiling pods.
		}
	}
	out := make([]string, 0, len(order))
	for _, n := range order {
		out = append(out, n+"="+env[n])
	}
	return env, out, nil
}

// mounts maps each volume mount of c to a directory of the pod.
func (k *Kubelet) mounts(podDir string, c *corev1.Container) (map[string]string, error) {
	m := map[string]string{}
	for _, vm := range c.VolumeMounts {
		host := filepath.Join(podDir, "volumes", vm.Name, vm.SubPath)
		if err := os.MkdirAll(host, 0o755); err != nil {
			return nil, err
		}
		m[vm.MountPath] = host
	}
	return m, nil
}

// rewrite replaces a mounted absolute path with its pod directory, so
// that two pods on one host keep their shared volumes apart.
func rewrite(s string, mounts map[string]string) string {
	best := ""
	for mp := range mounts {
		if (s == mp || strings.HasPrefix(s, mp+"/") || strings.Contains(s, "="+mp)) && len(mp) > len(best) {
			best = mp
		}
	}
	if best == "" || best == "/" {
		return s
	}
	if i := strings.Index(s, "="+best); i >= 0 && !strings.HasPrefix(s, best) {
		rest := s[i+1+len(best):]
		if rest == "" || strings.HasPrefix(rest, "/") {
			return s[:i+1] + mounts[best] + rest
		}
		return s
	}
	return mounts[best] + s[len(best):]
}
