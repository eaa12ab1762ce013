package profile

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/clientgetter"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/online"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profilerun"
)

// clusterOnly are the local-mode flags that make no sense with a DGDR name:
// the DGDR in the cluster is the input.
var clusterConflicts = []string{"filename", "model", "backend", "isl", "osl", "ttft", "itl", "system",
	"model-config", "config-map-file", "min-gpus", "max-gpus", "gpus-per-node", "dry-run", "from", "output", "no-plots"}

// ClusterFlags are the flags of cluster mode.
type ClusterFlags struct {
	// Simulate uses the estimator even when the DGDR asks for online profiling.
	Simulate bool
	// Mocker runs the engine simulator in the profiling Jobs.
	Mocker      bool
	MaxParallel int
	WorkerImage string
	// Cancel deletes the DGDR's profiling Jobs instead of profiling.
	Cancel bool
}

func (o *Options) addClusterFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.Cluster.Simulate, "simulate", false, "Cluster mode: profile with the built-in estimator even when the DGDR asks for online profiling")
	f.BoolVar(&o.Cluster.Mocker, "mocker", false, "Cluster mode, online: run the engine simulator in the Jobs instead of the real engine (GPU-less clusters)")
	f.IntVar(&o.Cluster.MaxParallel, "max-parallel", 0, "Cluster mode, online: at most this many profiling Jobs at once (0: as many as the free GPUs fit)")
	f.StringVar(&o.Cluster.WorkerImage, "worker-image", "", "Cluster mode, online: image of the measure container (default "+profilerun.DefaultWorkerImage()+")")
	f.BoolVar(&o.Cluster.Cancel, "cancel", false, "Cluster mode: delete the DGDR's profiling Jobs (finished results are kept) and exit")
}

func (o *Options) validateCluster() error {
	if o.changed["local"] {
		return fmt.Errorf("profile %s names a DGDR in the cluster, and --local profiles a file or flags here: "+
			"drop %s to profile locally (kubectl dgdr profile --local -f FILE), or drop --local to profile the DGDR in the cluster", o.Name, o.Name)
	}
	for _, f := range clusterConflicts {
		if o.changed[f] {
			return fmt.Errorf("profile %s: --%s applies to local profiling only; the DGDR in the cluster is the input "+
				"(edit it, or profile a file with `kubectl dgdr profile --local -f FILE --%s ...`)", o.Name, f, f)
		}
	}
	if o.Flags == nil {
		return fmt.Errorf("profile %s: no cluster connection flags are available", o.Name)
	}
	if o.Cluster.MaxParallel < 0 {
		return fmt.Errorf("--max-parallel %d is negative: pass 0 (as many as fit) or a positive number", o.Cluster.MaxParallel)
	}
	if o.Cluster.Simulate && (o.Cluster.Mocker || o.Cluster.MaxParallel != 0 || o.Cluster.WorkerImage != "") {
		return fmt.Errorf("profile %s --simulate runs no Jobs: drop --mocker, --max-parallel and --worker-image", o.Name)
	}
	if o.Timeout < 0 {
		return fmt.Errorf("--timeout %s is negative: pass a positive duration such as 10m, or 0 for the default", o.Timeout)
	}
	if o.changed["output-dir"] {
		return o.checkOutputDir()
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
	kube, err := getter.KubernetesClientSet()
	if err != nil {
		return util.TranslateError(err, target)
	}
	if o.Cluster.Cancel {
		res, err := online.Cancel(ctx, kube, ns, o.Name)
		if err != nil {
			return util.TranslateError(err, target)
		}
		_, err = fmt.Fprintf(o.Out, "deleted %d profiling Job(s) and %d failed result(s) of dynamographdeploymentrequest.nvidia.com/%s; finished results are kept\n",
			len(res.Jobs), len(res.FailedResults), o.Name)
		return err
	}
	opts := profilerun.ProfileOptions{Out: o.ErrOut, Timeout: o.Timeout, Simulate: o.Cluster.Simulate, Selection: o.Selection,
		Online: &profilerun.Online{Kube: kube, MaxParallel: o.Cluster.MaxParallel, WorkerImage: o.Cluster.WorkerImage,
			Mocker: o.Cluster.Mocker, OnJob: jobProgress(o.ErrOut, o.Quiet)}}
	if o.Quiet {
		opts.Out = nil
	}
	if o.changed["output-dir"] {
		opts.OutputDir, opts.FollowSymlinks = o.OutputDir, o.FollowSymlinks
	}
	if err := profilerun.Profile(ctx, c, o.Name, ns, opts); err != nil {
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

// jobProgress prints one line per Job state change: the same lines on a
// terminal and in a log, so nothing is lost when stderr is redirected.
func jobProgress(w io.Writer, quiet bool) func(online.JobEvent) {
	if quiet {
		return nil
	}
	var mu sync.Mutex
	return func(e online.JobEvent) {
		mu.Lock()
		defer mu.Unlock()
		reused := ""
		if e.Reused {
			reused = " (reused)"
		}
		msg := ""
		if e.Message != "" {
			msg = ": " + e.Message
		}
		fmt.Fprintf(w, "job %s [%s %s] %s%s%s\n", e.Job, e.Phase, e.Mapping.Label(), e.State, reused, msg)
	}
}
