// Package apply is `kubectl dgdr apply`: build the DynamoGraphDeployment of
// a profiled DGDR, optionally put a kustomize overlay on top, server-side
// apply it as kubectl-dgdr, and follow it to Ready with --wait.
package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/utils/clock"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/clientgetter"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
)

var (
	applyLong = templates.LongDesc(`
		Deploy the DynamoGraphDeployment (DGD) a profile generated.

		The DGD comes from status.generatedDeployment with spec.deploymentOverrides
		(name, namespace, labels, annotations, workersImage) and the labels
		dgdr.nvidia.com/name and dgdr.nvidia.com/namespace, which always win. -k DIR
		renders a kustomize overlay on top: the DGD is added to the resources of
		DIR/kustomization.yaml. The DGD is server-side applied with field manager
		kubectl-dgdr; applying again with nothing changed leaves it untouched. The DGDR
		moves to Deploying, and to Ready once the DGD reports successful.`)

	applyExample = templates.Examples(`
		# Deploy a profiled DGDR and wait until it serves
		%[1]s apply qwen --wait --timeout 20m

		# Print the DGD that would be applied, with an overlay
		%[1]s apply qwen -k overlays/prod --dry-run=client -o yaml

		# Take over fields another manager owns
		%[1]s apply qwen --force-conflicts`)
)

// Options is one apply run.
type Options struct {
	Name           string
	Overlay        string
	ForceConflicts bool
	Wait           bool
	Timeout        time.Duration
	PrintFlags     *genericclioptions.PrintFlags

	getter    clientgetter.ClientGetter
	clock     clock.PassiveClock
	namespace string
	dryRun    cmdutil.DryRunStrategy
	genericiooptions.IOStreams
}

// NewCmd builds `apply`.
func NewCmd(flags genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams, clk clock.PassiveClock) *cobra.Command {
	o := &Options{getter: clientgetter.New(flags, streams.ErrOut), clock: clk, IOStreams: streams, Timeout: 30 * time.Minute,
		PrintFlags: genericclioptions.NewPrintFlags("serverside-applied")}
	cmd := &cobra.Command{
		Use:                   "apply NAME [-k DIR] [--wait] [--dry-run=none|client|server] [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "Deploy the DynamoGraphDeployment a profile generated",
		Long:                  applyLong,
		Example:               fmt.Sprintf(applyExample, "kubectl dgdr"),
		Args:                  cobra.ExactArgs(1),
		ValidArgsFunction:     util.CompleteDGDRNames(o.getter),
		RunE:                  util.RunE(o),
	}
	o.PrintFlags.AddFlags(cmd)
	util.AddDryRunFlag(cmd, &o.dryRun, true, "none, client or server: client prints the DGD without sending it, server lets the API server check it without storing it; a bare --dry-run is client")
	f := cmd.Flags()
	f.StringVarP(&o.Overlay, "kustomize", "k", "", "A kustomize directory rendered on top of the generated DGD")
	f.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take ownership of fields that other managers own")
	f.BoolVar(&o.Wait, "wait", false, "Wait until the DGD reports successful (or failed)")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits")
	return cmd
}

// Complete reads the name, namespace and dry-run strategy.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	o.Name = args[0]
	var err error
	if o.namespace, err = o.getter.Namespace(); err != nil {
		return err
	}
	if o.clock == nil {
		o.clock = clock.RealClock{}
	}
	return nil
}

// Validate checks flag combinations.
func (o *Options) Validate() error {
	if o.Wait && o.dryRun != cmdutil.DryRunNone {
		return fmt.Errorf("--wait cannot be combined with --dry-run: a dry run deploys nothing to wait for")
	}
	if o.Wait && o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive with --wait, got %s", o.Timeout)
	}
	return nil
}

// Run applies and prints the outcome.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.getter.Clients(o.clock)
	if err != nil {
		return err
	}
	res, err := cluster.Apply(ctx, c, o.Name, o.namespace, cluster.ApplyOptions{
		Out: o.ErrOut, Overlay: o.Overlay, DryRun: o.dryRun,
		ForceConflicts: o.ForceConflicts, Wait: o.Wait, Timeout: o.Timeout,
	})
	if err != nil {
		return util.TranslateError(err, util.Target{Verb: "apply", Name: o.Name, Namespace: o.namespace})
	}
	op := "serverside-applied"
	switch {
	case o.dryRun != cmdutil.DryRunNone:
	case res.Created:
		op = "created"
	case !res.Changed:
		op = "unchanged"
	default:
		op = "configured"
	}
	o.PrintFlags.NamePrintFlags.Operation = op
	cmdutil.PrintFlagsWithDryRunStrategy(o.PrintFlags, o.dryRun)
	p, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	if err := p.PrintObj(res.DGD, o.Out); err != nil {
		return err
	}
	if o.dryRun == cmdutil.DryRunNone {
		fmt.Fprintf(o.ErrOut, "dynamographdeploymentrequest.nvidia.com/%s: state %s (DGD state %s)\n", o.Name, util.Escape(string(res.State)), dash(util.Escape(res.DGDState)))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
