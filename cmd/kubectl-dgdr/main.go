// Command kubectl-dgdr is the `kubectl dgdr` plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd"
)

// pauseEnv names a phase of profile (reading, measuring, rendering,
// staged) at which the process stops until it is interrupted: the
// interrupt tests send SIGINT there, without sleeping.
const pauseEnv = "KUBECTL_DGDR_TEST_PAUSE_AT"

func main() {
	os.Exit(run())
}

// run executes the command tree and returns the exit code: 0, 1 for an
// error, 128+signal when interrupted (130 for Ctrl-C), as shells expect.
// The first SIGINT or SIGTERM cancels the command's context; commands stop
// at their next step, and nothing half-written is left (outputs are staged
// and moved in whole, or not at all).
func run() int {
	// client-go logs through klog ("E1205 ... memcache.go ... connection
	// refused") what the command then reports as one "error:" line.
	klog.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var got atomic.Value
	go func() {
		if s, ok := <-sigs; ok {
			got.Store(s)
			cancel()
		}
	}()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	o := cmd.Options{IOStreams: streams}
	if phase := os.Getenv(pauseEnv); phase != "" {
		o.Phase = func(ctx context.Context, p string) {
			if p == phase {
				fmt.Fprintf(os.Stderr, "paused at %s\n", p)
				<-ctx.Done()
			}
		}
	}
	err := cmd.NewRootCmd(o).ExecuteContext(ctx)
	if s, ok := got.Load().(os.Signal); ok {
		if s == syscall.SIGTERM {
			fmt.Fprintln(os.Stderr, "terminated")
			return 128 + int(syscall.SIGTERM)
		}
		fmt.Fprintln(os.Stderr, "interrupted")
		return 128 + int(syscall.SIGINT)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}
