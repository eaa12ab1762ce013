// Command webhook is the DGDR admission webhook: it injects the profiler
// config and enforces the rules of pkg/admission for
// nvidia.com/v1alpha1 DynamoGraphDeploymentRequest.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubectl-dgdr/kubectl-dgdr/cmd/webhook/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && err != app.ErrHelp {
		fmt.Fprintf(io.Writer(os.Stderr), "error: %v\n", err)
		os.Exit(1)
	}
}
