// Package version implements `kubectl dgdr version`.
package version

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

var versionExample = templates.Examples(`
	# Print the plugin's version, commit and Go version
	kubectl dgdr version

	# Print it as JSON, or just the version
	kubectl dgdr version -o json
	kubectl dgdr version -o jsonpath='{.version}'`)

// Options holds the flags of `version`.
type Options struct {
	PrintFlags *genericclioptions.PrintFlags
	printer    printers.ResourcePrinter
	genericiooptions.IOStreams
}

// NewCmd builds the `version` command.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams, PrintFlags: util.NewDataPrintFlags()}
	cmd := &cobra.Command{
		Use:                   "version",
		Short:                 "Print the plugin's version",
		Example:               versionExample,
		DisableFlagsInUseLine: true,
		Args:                  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete builds the printer of -o; none means the human line.
func (o *Options) Complete() error {
	if !util.Structured(o.PrintFlags) {
		return nil
	}
	var err error
	o.printer, err = util.ToPrinter(o.PrintFlags)
	return err
}

// Run prints the version.
func (o *Options) Run() error {
	info := version.Get()
	if o.printer != nil {
		return util.PrintData(o.printer, info, o.Out)
	}
	_, err := fmt.Fprintf(o.Out, "kubectl-dgdr %s (commit %s, %s, %s)\n", info.Version, info.Commit, info.GoVersion, info.Platform)
	return err
}
