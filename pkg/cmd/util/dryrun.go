package util

import cmdutil "k8s.io/kubectl/pkg/cmd/util"

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
