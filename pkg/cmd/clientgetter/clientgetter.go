// Package clientgetter is the seam between the verbs and the cluster: a
// RESTClientGetter (kubectl's flags) plus the typed, dynamic and
// controller-runtime clients and the resource builder, all built from one
// rest.Config that carries the plugin's User-Agent and prints admission
// warnings to the error stream.
package clientgetter

import (
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

// ClientGetter is what every verb gets its clients from.
type ClientGetter interface {
	genericclioptions.RESTClientGetter
	KubernetesClientSet() (kubernetes.Interface, error)
	DynamicClient() (dynamic.Interface, error)
	// Client is a controller-runtime client whose scheme holds DGDRs, DGDs
	// and the core types.
	Client() (client.WithWatch, error)
	// Clients is what pkg/cluster needs.
	Clients(clk clock.PassiveClock) (*cluster.Clients, error)
	// Namespace is -n, else the kubeconfig's, else default.
	Namespace() (string, error)
	NewBuilder() *resource.Builder
	Scheme() *runtime.Scheme
}

type getter struct {
	genericclioptions.RESTClientGetter
	warnings io.Writer
	scheme   *runtime.Scheme
	err      error // from building the scheme
	client   client.WithWatch
}

// New wraps kubectl's flags. Admission warnings go to warnings.
func New(flags genericclioptions.RESTClientGetter, warnings io.Writer) ClientGetter {
	s, err := api.NewScheme()
	return &getter{RESTClientGetter: flags, warnings: warnings, scheme: s, err: err}
}

// ToRESTConfig adds the User-Agent and the per-config warning writer.
func (g *getter) ToRESTConfig() (*rest.Config, error) {
	cfg, err := g.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = version.UserAgent()
	if g.warnings != nil {
		cfg.WarningHandler = rest.NewWarningWriter(g.warnings, rest.WarningWriterOptions{
			Deduplicate: true, Color: printers.AllowsColorOutput(g.warnings),
		})
	}
	return cfg, nil
}

func (g *getter) Scheme() *runtime.Scheme { return g.scheme }

func (g *getter) KubernetesClientSet() (kubernetes.Interface, error) {
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func (g *getter) DynamicClient() (dynamic.Interface, error) {
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

func (g *getter) Client() (client.WithWatch, error) {
	if g.client != nil || g.err != nil {
		return g.client, g.err
	}
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: g.scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	// DGDRs go through the version the server stores, converted here; a
	// cluster without the CRD keeps v1alpha1 and gets the usual not-found.
	if m, err := g.ToRESTMapper(); err == nil {
		if v, err := cluster.ServedDGDRVersion(m); err == nil {
			c = cluster.WithServedVersion(c, v)
		}
	}
	g.client = c
	return c, nil
}

func (g *getter) Clients(clk clock.PassiveClock) (*cluster.Clients, error) {
	c, err := g.Client()
	if err != nil {
		return nil, err
	}
	return &cluster.Clients{Client: c, Clock: clk}, nil
}

func (g *getter) Namespace() (string, error) {
	ns, _, err := g.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", err
	}
	if ns == "" {
		ns = "default"
	}
	return ns, nil
}

func (g *getter) NewBuilder() *resource.Builder { return resource.NewBuilder(g) }
