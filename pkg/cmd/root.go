// Package cmd builds the `kubectl dgdr` command tree from one Options value.
// Nothing below it reads os.Std* or package globals, so tests run the real root.
package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	// Auth providers (OIDC, exec, ...), as krew's best practices ask.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	applycmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/apply"
	createcmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/create"
	estimatecmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/estimate"
	loadgencmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/loadgen"
	modelscmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/models"
	profilecmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/profile"
	statuscmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/status"
	versioncmd "github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/version"
)

// Options is everything the command tree needs from its environment.
type Options struct {
	ConfigFlags *genericclioptions.ConfigFlags
	IOStreams   genericiooptions.IOStreams
	Clock       clock.PassiveClock
	// Phase, when set, is called as profile enters each phase (reading,
	// measuring, rendering, staged); the interrupt tests pause there.
	Phase func(ctx context.Context, phase string)
}

// Command groups, as `kubectl dgdr --help` shows them.
const (
	groupProfiling  = "profiling"
	groupInspection = "inspection"
	groupOther      = "other"
)

// NewRootCmd builds `kubectl dgdr` and all its verbs.
func NewRootCmd(o Options) *cobra.Command {
	if o.ConfigFlags == nil {
		o.ConfigFlags = genericclioptions.NewConfigFlags(true).WithDiscoveryQPS(50).WithWarningPrinter(o.IOStreams)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	root := &cobra.Command{
		Use:   "kubectl-dgdr",
		Short: "Turn an LLM latency SLA into a Dynamo deployment",
		Long: `kubectl dgdr profiles a DynamoGraphDeploymentRequest (DGDR): it finds the prefill and decode
parallelism with the highest throughput per GPU that meets a TTFT/ITL SLA, and emits the
DynamoGraphDeployment and the SLA planner's data.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl dgdr"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(o.IOStreams.Out)
	root.SetErr(o.IOStreams.ErrOut)
	o.ConfigFlags.AddFlags(root.PersistentFlags())
	root.AddGroup(
		&cobra.Group{ID: groupProfiling, Title: "Profiling:"},
		&cobra.Group{ID: groupInspection, Title: "Inspection:"},
		&cobra.Group{ID: groupOther, Title: "Other:"},
	)
	root.SetCompletionCommandGroupID(groupOther)
	root.SetHelpCommandGroupID(groupOther)

	add := func(group string, c *cobra.Command) {
		c.GroupID = group
		root.AddCommand(c)
	}
	add(groupProfiling, estimatecmd.NewCmd(o.IOStreams))
	add(groupProfiling, profilecmd.NewCmd(o.ConfigFlags, o.IOStreams, o.Clock, o.Phase))
	add(groupProfiling, loadgencmd.NewCmd(o.IOStreams))
	add(groupProfiling, createcmd.NewCmd(o.ConfigFlags, o.IOStreams))
	add(groupProfiling, applycmd.NewCmd(o.ConfigFlags, o.IOStreams, o.Clock))
	add(groupInspection, statuscmd.NewCmd(o.ConfigFlags, o.IOStreams, o.Clock))
	add(groupInspection, modelscmd.NewCmd(o.IOStreams))
	add(groupOther, versioncmd.NewCmd(o.IOStreams))
	return root
}
