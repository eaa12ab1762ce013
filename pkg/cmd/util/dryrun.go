package util

import (
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
)

// ClusterDryRun maps kubectl's strategy onto the controller's.
func ClusterDryRun(s cmdutil.DryRunStrategy) cluster.DryRun {
	switch s {
	case cmdutil.DryRunClient:
		return cluster.DryRunClient
	case cmdutil.DryRunServer:
		return cluster.DryRunServer
	}
	return cluster.DryRunNone
}

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
