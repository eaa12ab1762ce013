// Package worker is the runtime of the dgdr-worker image, the two
// containers of an online profiling Job: `mocker` serves the engine
// simulator, and `measure` waits for the engine beside it, reads its KV
// capacity, runs the prefill or decode measurement of profiler.md
// §6.4/§7.4/§12 with pkg/loadgen and hands the result to a Sink (a
// ConfigMap owned by the DGDR). What the plugin and this runtime share
// (the task, the result, env names, exit codes) is pkg/workerproto.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/mocker"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// UsageError marks errors that should exit with workerproto.ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Env is the process environment the CLI may read.
type Env struct {
	Getenv func(string) string
	Out    io.Writer
	ErrOut io.Writer
	// KubeClient builds the API client (nil: in-cluster config).
	KubeClient func() (kubernetes.Interface, error)
}

// NewRootCmd builds `dgdr-worker` with its `mocker` and `measure` verbs.
func NewRootCmd(env Env) *cobra.Command {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Out == nil {
		env.Out = io.Discard
	}
	if env.ErrOut == nil {
		env.ErrOut = io.Discard
	}
	root := &cobra.Command{
		Use:           "dgdr-worker",
		Short:         "The worker of kubectl-dgdr's online profiling Jobs: the engine simulator and the measure container",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(env.Out)
	root.SetErr(env.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{err} })
	root.AddCommand(newMockerCmd(env), newMeasureCmd(env))
	return root
}

// MockerOptions are the flags of `dgdr-worker mocker`.
type MockerOptions struct {
	Host, ServedModelName, Model, System, Backend string
	Port                                          int
	Kind                                          string
	NumGPUs, TP, EP, AttnDP                       int
	PrefillMs, DecodeMs                           float64
	NumGPUBlocks, BlockSize, MaxNumSeqs           int
	MaxModelLen                                   int
	TimeScale                                     float64
	StartupDelay                                  time.Duration
	LogFile                                       string
}

func newMockerCmd(env Env) *cobra.Command {
	o := &MockerOptions{}
	cmd := &cobra.Command{
		Use:   "mocker --served-model-name NAME [--model NAME --system SYSTEM --backend BACKEND --mapping-kind TP --num-gpus N | --prefill-ms MS --decode-ms MS --num-gpu-blocks N]",
		Short: "Serve the engine simulator (OpenAI API, /health, vLLM /metrics)",
		Example: `  # Qwen3-32B on 4 H100s with vLLM timing, as a profiling Job's engine
  dgdr-worker mocker --served-model-name Qwen/Qwen3-32B --system h100_sxm --backend vllm --mapping-kind TP --num-gpus 4

  # Fixed step times for tests
  dgdr-worker mocker --served-model-name test --prefill-ms 50 --decode-ms 20 --num-gpu-blocks 4096`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context(), env)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Host, "host", "0.0.0.0", "listen address")
	f.IntVar(&o.Port, "port", workerproto.DefaultEnginePort, "listen port")
	f.StringVar(&o.ServedModelName, "served-model-name", "", "model name the API serves")
	f.StringVar(&o.Model, "model", "", "estimator model (catalog name or HF id; default: the served name)")
	f.StringVar(&o.System, "system", "h100_sxm", "estimator GPU system")
	f.StringVar(&o.Backend, "backend", "vllm", "estimator backend: vllm, sglang or trtllm")
	f.StringVar(&o.Kind, "mapping-kind", "TP", "parallel mapping: TP, TEP or DEP")
	f.IntVar(&o.NumGPUs, "num-gpus", 1, "GPUs of the simulated engine")
	f.IntVar(&o.TP, "tp", 0, "attention TP (0: from the kind)")
	f.IntVar(&o.EP, "ep", 0, "expert split (0: from the kind)")
	f.IntVar(&o.AttnDP, "attn-dp", 0, "attention DP ranks (0: from the kind)")
	f.Float64Var(&o.PrefillMs, "prefill-ms", 0, "fixed prefill time (with --decode-ms: fixed-timing mode, no estimator)")
	f.Float64Var(&o.DecodeMs, "decode-ms", 0, "fixed decode step time")
	f.IntVar(&o.NumGPUBlocks, "num-gpu-blocks", 0, "KV blocks per DP rank (0: the estimator's capacity)")
	f.IntVar(&o.BlockSize, "block-size", 16, "tokens per KV block")
	f.IntVar(&o.MaxNumSeqs, "max-num-seqs", 1024, "sequences per DP rank")
	f.IntVar(&o.MaxModelLen, "max-model-len", 0, "longest prompt + output (0: the model's context, else 40960)")
	f.Float64Var(&o.TimeScale, "time-scale", 1, "multiply every simulated time (0.1 runs 10x faster)")
	f.DurationVar(&o.StartupDelay, "startup-delay", 0, "report unhealthy for this long after start")
	f.StringVar(&o.LogFile, "log-file", "", "also write the engine log here (for the measure container's fallback)")
	return cmd
}

// Config turns the flags into a simulator config.
func (o *MockerOptions) Config(log io.Writer) (mocker.Config, error) {
	cfg := mocker.Config{
		Model: o.ServedModelName, BlockSize: o.BlockSize, NumGPUBlocks: o.NumGPUBlocks, MaxNumSeqs: o.MaxNumSeqs,
		MaxModelLen: o.MaxModelLen, TimeScale: o.TimeScale, StartupDelay: o.StartupDelay, Log: log,
	}
	t := workerproto.Task{Mapping: mappingOf(o.Kind, o.NumGPUs, o.TP, o.EP, o.AttnDP)}
	t.Normalize()
	m := t.Mapping
	cfg.AttnDP = m.AttnDP
	if o.PrefillMs > 0 || o.DecodeMs > 0 {
		if o.PrefillMs <= 0 || o.DecodeMs <= 0 {
			return cfg, &UsageError{fmt.Errorf("fixed timing needs both --prefill-ms (%v) and --decode-ms (%v) above 0", o.PrefillMs, o.DecodeMs)}
		}
		if o.NumGPUBlocks <= 0 {
			return cfg, &UsageError{errors.New("fixed timing needs --num-gpu-blocks: there is no estimator to size the KV cache")}
		}
		cfg.Timing = mocker.FixedTiming{PrefillTime: msDur(o.PrefillMs), DecodeTime: msDur(o.DecodeMs)}
		return cfg, nil
	}
	name := o.Model
	if name == "" {
		name = o.ServedModelName
	}
	md, err := estimator.LookupModel(name)
	if err != nil {
		return cfg, &UsageError{fmt.Errorf("--model %q: %w", name, err)}
	}
	sys, err := estimator.LookupSystem(o.System)
	if err != nil {
		return cfg, &UsageError{fmt.Errorf("--system %q: %w", o.System, err)}
	}
	est, err := estimator.New(md, sys, estimator.Options{Backend: o.Backend})
	if err != nil {
		return cfg, &UsageError{err}
	}
	em := estimator.Mapping{Kind: m.Kind, N: m.N, TP: m.TP, EP: m.EP, AttnDP: m.AttnDP}
	timing, err := mocker.NewEstimatorTiming(est, em)
	if err != nil {
		return cfg, &UsageError{err}
	}
	cfg.Timing = timing
	if cfg.NumGPUBlocks == 0 {
		kv, err := est.MaxKVTokens(em)
		if err != nil {
			return cfg, &UsageError{fmt.Errorf("sizing the KV cache of %s: %w", em.Label(), err)}
		}
		cfg.NumGPUBlocks = kv / m.AttnDP / max(o.BlockSize, 1)
		if cfg.NumGPUBlocks < 1 {
			return cfg, &UsageError{fmt.Errorf("%s on %s: the model leaves no KV cache (%d tokens): use more GPUs", md.Name, sys.Name, kv)}
		}
	}
	if cfg.MaxModelLen == 0 && md.MaxContext > 0 {
		cfg.MaxModelLen = md.MaxContext
	}
	return cfg, nil
}

func msDur(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// Run serves until ctx ends.
func (o *MockerOptions) Run(ctx context.Context, env Env) error {
	log := env.Out
	if o.LogFile != "" {
		// The shared volume may be fresh (or absent when run outside a pod).
		if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o755); err != nil {
			return fmt.Errorf("--log-file %s: %w", o.LogFile, err)
		}
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("--log-file %s: %w", o.LogFile, err)
		}
		defer f.Close()
		log = io.MultiWriter(env.Out, f)
	}
	cfg, err := o.Config(log)
	if err != nil {
		return err
	}
	srv, err := mocker.New(cfg)
	if err != nil {
		return &UsageError{err}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("listening on %s:%d: %w", o.Host, o.Port, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(log, "INFO [mocker] listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("stopping the mocker's HTTP server: %w", err)
		}
		return nil
	}
}

// MeasureOptions are the flags of `dgdr-worker measure`.
type MeasureOptions struct {
	Task           workerproto.Task
	Labels         map[string]string
	OutputFile     string
	TerminationLog string
}

func newMeasureCmd(env Env) *cobra.Command {
	o := &MeasureOptions{}
	cmd := &cobra.Command{
		Use:   "measure --phase prefill|decode --backend B --model M --mapping-kind K --num-gpus N --isl ISL [flags]",
		Short: "Wait for the engine, read its KV capacity, measure, and write the result ConfigMap",
		Example: `  # A prefill point of a TP4 vLLM engine in the same pod
  dgdr-worker measure --phase prefill --backend vllm --model Qwen/Qwen3-32B --mapping-kind TP --num-gpus 4 \
    --isl 3000 --configmap my-dgdr-prefill-tp4

  # Decode at ISL 3000 / OSL 500, 6 concurrency points, result in a local file only
  dgdr-worker measure --phase decode --backend mocker --model test --num-gpus 1 --isl 3000 --osl 500 \
    --engine-url http://127.0.0.1:8000 --output-file result.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context(), env)
		},
	}
	o.Task.BindFlags(cmd.Flags())
	cmd.Flags().StringToStringVar(&o.Labels, "label", nil, "extra labels of the result ConfigMap (k=v)")
	cmd.Flags().StringVar(&o.OutputFile, "output-file", "", "also write the result JSON to this file")
	cmd.Flags().StringVar(&o.TerminationLog, "termination-log", "/dev/termination-log", "where the short summary goes ('' to skip)")
	return cmd
}

// Run measures and writes the result.
func (o *MeasureOptions) Run(ctx context.Context, env Env) error {
	t := o.Task
	if r := env.Getenv(workerproto.EnvNodeRank); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil {
			return &UsageError{fmt.Errorf("%s=%q is not an integer", workerproto.EnvNodeRank, r)}
		}
		t.Rank = n
	}
	t.Normalize()
	if err := t.Validate(); err != nil {
		return &UsageError{err}
	}
	var sink *ConfigMapSink
	if t.ConfigMap != "" {
		sink = &ConfigMapSink{
			Namespace: env.Getenv(workerproto.EnvNamespace), Name: t.ConfigMap,
			DGDRName: env.Getenv(workerproto.EnvDGDRName), DGDRUID: types.UID(env.Getenv(workerproto.EnvDGDRUID)), Labels: o.Labels,
		}
		mk := env.KubeClient
		if mk == nil {
			mk = inClusterClient
		}
		c, err := mk()
		if err != nil {
			return fmt.Errorf("building the Kubernetes client: %w", err)
		}
		sink.Client = c
		if err := sink.Validate(); err != nil {
			return &UsageError{err}
		}
	}
	if t.Rank > 0 {
		if sink == nil {
			<-ctx.Done()
			return nil
		}
		fmt.Fprintf(env.ErrOut, "rank %d: waiting for rank 0's result %s\n", t.Rank, t.ConfigMap)
		if err := sink.WaitResult(ctx, 10*time.Second); err != nil && ctx.Err() == nil {
			return err
		}
		return nil // ended by rank 0's result or by the Job's success policy
	}
	r := &Runner{Logf: func(format string, args ...any) { fmt.Fprintf(env.ErrOut, format+"\n", args...) }}
	res, err := r.Measure(ctx, t)
	if err != nil {
		res.Error = err.Error()
	}
	summary := Summary(res, err)
	fmt.Fprintln(env.Out, summary)
	if o.TerminationLog != "" {
		// Only a convenience for kubectl describe: the result still goes
		// to the ConfigMap, so a failure here is a warning.
		if werr := os.WriteFile(o.TerminationLog, []byte(summary), 0o644); werr != nil {
			fmt.Fprintf(env.ErrOut, "warning: --termination-log: %v\n", werr)
		}
	}
	if o.OutputFile != "" {
		if werr := writeJSONFile(o.OutputFile, res); werr != nil && err == nil {
			err = werr
		}
	}
	if sink != nil {
		// Failed results are written too: the plugin reports their error.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if werr := sink.Write(wctx, res); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

func inClusterClient() (kubernetes.Interface, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func mappingOf(kind string, n, tp, ep, dp int) results.Mapping {
	return results.Mapping{Kind: kind, N: n, TP: tp, EP: ep, AttnDP: dp}
}
