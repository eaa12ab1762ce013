package profile

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/clientgetter"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
)

// clusterOnly are the local-mode flags that make no sense with a DGDR name:
// the DGDR in the cluster is the input.
var clusterConflicts = []string{"local", "filename", "model", "backend", "isl", "osl", "ttft", "itl", "system",
	"model-config", "min-gpus", "max-gpus", "dry-run", "from", "output", "no-plots"}

func (o *Options) validateCluster() error {
	for _, f := range clusterConflicts {
		if o.changed[f] {
			return fmt.Errorf("profile %s: --%s applies to local profiling only; the DGDR in the cluster is the input "+
				"(edit it, or profile a file with `kubectl dgdr profile --local -f FILE --%s ...`)", o.Name, f, f)
		}
	}
	if o.Flags == nil {
		return fmt.Errorf("profile %s: no cluster connection flags are available", o.Name)
	}
	if o.Timeout < 0 {
		return fmt.Errorf("--timeout %s is negative: pass a positive duration such as 10m, or 0 for the default", o.Timeout)
	}
	return nil
}

// runCluster profiles the named DGDR on the client and writes the results
// back: status, conditions, events and the output ConfigMaps.
func (o *Options) runCluster(ctx context.Context) error {
	getter := clientgetter.New(o.Flags, o.ErrOut)
	ns, err := getter.Namespace()
	if err != nil {
		return err
	}
	target := util.Target{Verb: "profile", Name: o.Name, Namespace: ns}
	c, err := getter.Clients(o.Clock)
	if err != nil {
		return util.TranslateError(err, target)
	}
	opts := cluster.ProfileOptions{Out: o.ErrOut, Timeout: o.Timeout}
	if o.Quiet {
		opts.Out = nil
	}
	if o.changed["output-dir"] {
		opts.OutputDir = o.OutputDir
	}
	if err := cluster.Profile(ctx, c, o.Name, ns, opts); err != nil {
		return util.TranslateError(err, target)
	}
	_, err = fmt.Fprintf(o.Out, "dynamographdeploymentrequest.nvidia.com/%s profiled; see `kubectl dgdr status %s -n %s`\n", o.Name, o.Name, ns)
	return err
}

// completeNames completes DGDR names for cluster mode.
func completeNames(o *Options) func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if o.Flags == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return util.CompleteDGDRNames(clientgetter.New(o.Flags, o.ErrOut))(cmd, args, toComplete)
	}
}
