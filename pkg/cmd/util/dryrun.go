package util

import (
	"fmt"

	"github.com/spf13/cobra"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// DryRunSuffix is kubectl's " (dry run)" / " (server dry run)".
func DryRunSuffix(s cmdutil.DryRunStrategy) string {
	switch s {
	case cmdutil.DryRunClient:
		return " (dry run)"
	case cmdutil.DryRunServer:
		return " (server dry run)"
	}
	return ""
}

// dryRunValue is --dry-run=none|client|server. A bare --dry-run means
// client, as it always did for profile; unlike kubectl's own flag it logs
// no deprecation, so every verb takes the same spelling quietly.
type dryRunValue struct {
	s *cmdutil.DryRunStrategy
	// allowed lists what the verb can do; profile has no server dry run.
	allowed []cmdutil.DryRunStrategy
}

var dryRunNames = map[string]cmdutil.DryRunStrategy{
	"none": cmdutil.DryRunNone, "false": cmdutil.DryRunNone,
	"client": cmdutil.DryRunClient, "true": cmdutil.DryRunClient,
	"server": cmdutil.DryRunServer,
}

func (d *dryRunValue) String() string {
	switch *d.s {
	case cmdutil.DryRunClient:
		return "client"
	case cmdutil.DryRunServer:
		return "server"
	}
	return "none"
}

func (d *dryRunValue) Set(v string) error {
	s, ok := dryRunNames[v]
	if ok {
		for _, a := range d.allowed {
			if a == s {
				*d.s = s
				return nil
			}
		}
	}
	return fmt.Errorf("%q is not a dry-run strategy here: use %s", v, d.names())
}

func (d *dryRunValue) names() string {
	switch len(d.allowed) {
	case 2:
		return "none or client"
	}
	return "none, client or server"
}

func (d *dryRunValue) Type() string { return "string" }

// AddDryRunFlag binds --dry-run to s. Without server, the verb sends nothing
// to the API server and only none and client are accepted.
func AddDryRunFlag(cmd *cobra.Command, s *cmdutil.DryRunStrategy, server bool, usage string) {
	allowed := []cmdutil.DryRunStrategy{cmdutil.DryRunNone, cmdutil.DryRunClient}
	values := []string{"none", "client"}
	if server {
		allowed = append(allowed, cmdutil.DryRunServer)
		values = append(values, "server")
	}
	cmd.Flags().Var(&dryRunValue{s: s, allowed: allowed}, "dry-run", usage)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}
