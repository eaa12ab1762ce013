package util

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

// ClientSource gives a client and the namespace from the kubeconfig/-n.
type ClientSource interface {
	Client() (client.WithWatch, error)
	Namespace() (string, error)
}

// CompleteDGDRNames completes the first argument with the DGDR names of the
// namespace, and nothing once a name is given.
func CompleteDGDRNames(src ClientSource) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := src.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ns, err := src.Namespace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		var list v1alpha1.DynamoGraphDeploymentRequestList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, d := range list.Items {
			if strings.HasPrefix(d.Name, toComplete) {
				names = append(names, d.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteModels completes --model with the catalog's Hugging Face and AI
// Configurator ids.
func CompleteModels(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, m := range estimator.Catalog() {
		for _, id := range []string{m.HFID, m.AICName} {
			if id != "" && strings.HasPrefix(strings.ToLower(id), strings.ToLower(toComplete)) {
				out = append(out, id)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
