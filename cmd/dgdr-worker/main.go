// Command dgdr-worker is the worker image of kubectl-dgdr's online profiling
// Jobs: `mocker` serves the engine simulator, `measure` is the measure
// container.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubectl-dgdr/kubectl-dgdr/internal/worker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := worker.NewRootCmd(worker.Env{Getenv: os.Getenv, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		var ue *worker.UsageError
		if errors.As(err, &ue) {
			os.Exit(workerproto.ExitUsage)
		}
		os.Exit(1)
	}
}
