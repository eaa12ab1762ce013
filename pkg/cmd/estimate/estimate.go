// Package estimate implements `kubectl dgdr estimate`, the analytic
// estimator's command line: one mapping, or the mappings profile sweeps.
package estimate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var (
	estimateLong = templates.LongDesc(`
		Estimate prefill TTFT, decode ITL, throughput per GPU and memory for a model on a
		GPU system and serving backend, without a cluster. The analytic model is calibrated
		on real engine measurements (see pkg/estimator/ACCURACY.md for its error).

		Prefill is one request of --isl tokens at batch 1; decode is --concurrency sequences
		in steady state at an average context of --context tokens (default isl + osl/2).
		Memory is per GPU; fits is false when the weights, or --concurrency sequences of
		isl + osl tokens, do not fit.

		The PROFILE column applies the rules profile sweeps with (the same code): "swept",
		"dropped" with the reason below the table, or "online only" when AI Configurator's
		head rule forbids the mapping in simulation mode. --sweep prints every mapping profile
		considers on one node (four nodes for a MoE model). kubectl dgdr models lists the
		catalog --model accepts.`)

	estimateExample = templates.Examples(`
		# Qwen3-32B on H100 with vLLM at TP 2
		kubectl dgdr estimate --model Qwen/Qwen3-32B --system h100_sxm --backend vllm --tp 2

		# A decode point: 64 sequences at ISL 4000 / OSL 500, as JSON
		kubectl dgdr estimate --model QWEN3_32B --system h200_sxm --backend trtllm --tp 4 \
		  --isl 4000 --osl 500 --concurrency 64 -o json

		# DeepSeek-R1 with attention data parallelism and expert parallelism over 8 GPUs
		kubectl dgdr estimate --model deepseek-ai/DeepSeek-R1 --system b200_sxm --backend sglang --dep 8

		# Every mapping profile would sweep, and why some are dropped
		kubectl dgdr estimate --model Qwen/Qwen3-30B-A3B --system h100_sxm --sweep

		# A model outside the catalog, from its config.json
		kubectl dgdr estimate --model-config ./my-model/ --system h100_sxm --backend vllm --sweep`)
)

// Options holds the flags of `estimate`.
type Options struct {
	Model                string
	ModelConfig          string
	System               string
	Backend              string
	Precision            string
	KVPrecision          string
	TP, TEP, DEP         int
	ISL, OSL             int
	Concurrency          int
	Context              float64
	GPUMemoryUtilization float64
	Sweep                bool
	PrintFlags           *genericclioptions.PrintFlags

	model    *estimator.Model
	sys      *estimator.System
	est      *estimator.Estimator
	info     profiler.ModelInfo
	mappings []results.Mapping
	printer  printers.ResourcePrinter
	// asked is the flag that named the mapping, for messages ("--tep 2").
	asked string

	genericiooptions.IOStreams
}

// NewCmd builds the `estimate` command.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams, PrintFlags: util.NewDataPrintFlags()}
	cmd := &cobra.Command{
		Use:                   "estimate (--model NAME | --model-config PATH) [--system SYSTEM] [--backend BACKEND] [--tp N | --tep N | --dep N | --sweep]",
		Short:                 "Estimate TTFT, ITL, throughput and memory for a model, GPU and backend",
		Long:                  estimateLong,
		Example:               estimateExample,
		DisableFlagsInUseLine: true,
		Args:                  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.PrintFlags.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "Model: Hugging Face id (Qwen/Qwen3-32B) or AI Configurator id (QWEN3_32B); kubectl dgdr models lists them")
	f.StringVar(&o.ModelConfig, "model-config", "", "Path to a Hugging Face config.json (or its folder) for a model outside the catalog")
	f.StringVar(&o.System, "system", "h100_sxm", "GPU system: "+strings.Join(estimator.Systems(), ", "))
	f.StringVar(&o.Backend, "backend", "vllm", "Serving backend: "+strings.Join(estimator.Backends(), ", "))
	f.StringVar(&o.Precision, "precision", "", "Weight precision: bf16, fp8 or fp4 (default: the checkpoint's)")
	f.StringVar(&o.KVPrecision, "kv-precision", "bf16", "KV-cache precision: bf16, fp8 or fp4")
	f.IntVar(&o.TP, "tp", 0, "Tensor parallelism over N GPUs (default 1 when no mapping is given)")
	f.IntVar(&o.TEP, "tep", 0, "Tensor parallelism for attention + expert parallelism over N GPUs (MoE models)")
	f.IntVar(&o.DEP, "dep", 0, "Attention data parallelism + expert parallelism over N GPUs (MoE models)")
	f.IntVar(&o.ISL, "isl", 3000, "Input sequence length in tokens")
	f.IntVar(&o.OSL, "osl", 150, "Output sequence length in tokens")
	f.IntVar(&o.Concurrency, "concurrency", 1, "Sequences decoding at once")
	f.Float64Var(&o.Context, "context", 0, "Average decode context in tokens (default isl + osl/2)")
	f.Float64Var(&o.GPUMemoryUtilization, "gpu-memory-utilization", 0, "The engine's memory fraction (vLLM gpu_memory_utilization, SGLang mem_fraction_static, TensorRT-LLM free_gpu_memory_fraction); 0 takes the engine's default")
	f.BoolVar(&o.Sweep, "sweep", false, "Print every mapping profile considers (TP, or TEP/DEP for MoE models, at 1, 2, 4, 8, ... GPUs) instead of one")
	_ = cmd.RegisterFlagCompletionFunc("model", util.CompleteModels)
	_ = cmd.RegisterFlagCompletionFunc("system", cobra.FixedCompletions(estimator.Systems(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions(estimator.Backends(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete resolves the model, the system and the estimator.
func (o *Options) Complete(cmd *cobra.Command) error {
	var err error
	switch {
	case o.ModelConfig != "":
		if o.model, err = estimator.LoadModelConfig(o.ModelConfig); err != nil {
			return fmt.Errorf("--model-config %q: %w", o.ModelConfig, err)
		}
		if o.Model != "" {
			o.model.Name = o.Model
		}
	case o.Model != "":
		if o.model, err = estimator.LookupModel(o.Model); err != nil {
			return fmt.Errorf("--model %q: %w", o.Model, err)
		}
	}
	if o.System != "" {
		if o.sys, err = estimator.LookupSystem(o.System); err != nil {
			return fmt.Errorf("--system: %w", err)
		}
	}
	if cmd != nil && !cmd.Flags().Changed("context") {
		o.Context = 0
	}
	if o.Context == 0 {
		o.Context = float64(o.ISL) + float64(o.OSL)/2
	}
	if util.Structured(o.PrintFlags) {
		o.printer, err = util.ToPrinter(o.PrintFlags)
	}
	return err
}

// Validate checks the flags against each other and against the model.
func (o *Options) Validate() error {
	if o.model == nil {
		return errors.New("--model is required: pass a Hugging Face id (e.g. Qwen/Qwen3-32B), an AI Configurator id (e.g. QWEN3_32B), or --model-config with a local config.json; kubectl dgdr models lists the catalog")
	}
	if o.sys == nil {
		return fmt.Errorf("--system is required: use one of %s", strings.Join(estimator.Systems(), ", "))
	}
	set := 0
	for _, v := range []struct {
		name string
		n    int
	}{{"--tp", o.TP}, {"--tep", o.TEP}, {"--dep", o.DEP}} {
		if v.n < 0 || v.n > 64 {
			return fmt.Errorf("%s %d is out of range: use 1 to 64 GPUs", v.name, v.n)
		}
		if v.n > 0 {
			set++
			o.asked = fmt.Sprintf("%s %d", v.name, v.n)
		}
	}
	if set > 1 {
		return fmt.Errorf("--tp %d, --tep %d and --dep %d: set only one of them", o.TP, o.TEP, o.DEP)
	}
	if o.Sweep && set > 0 {
		return errors.New("--sweep prints every mapping profile considers: drop --tp/--tep/--dep")
	}
	if (o.TEP > 0 || o.DEP > 0) && !o.model.IsMoE() {
		return fmt.Errorf("%s needs a mixture-of-experts model: %s is dense, it has no experts to split; use --tp %d",
			o.asked, o.name(), max(o.TEP, o.DEP))
	}
	if o.ISL < 1 || o.ISL > 262144 {
		return fmt.Errorf("--isl %d is out of range: use 1 to 262144 tokens", o.ISL)
	}
	if o.OSL < 1 || o.OSL > 262144 {
		return fmt.Errorf("--osl %d is out of range: use 1 to 262144 tokens", o.OSL)
	}
	if ctx := o.model.MaxContext; ctx > 0 && o.ISL+o.OSL > ctx {
		if o.OSL >= ctx {
			return fmt.Errorf("--osl %d is beyond the context of %s (%d tokens): use an --osl below %d", o.OSL, o.name(), ctx, ctx)
		}
		return fmt.Errorf("--isl %d + --osl %d = %d tokens is beyond the context of %s (%d tokens): use an --isl of at most %d",
			o.ISL, o.OSL, o.ISL+o.OSL, o.name(), ctx, ctx-o.OSL)
	}
	if o.Concurrency < 1 || o.Concurrency > 100000 {
		return fmt.Errorf("--concurrency %d is out of range: use 1 to 100000", o.Concurrency)
	}
	if o.Context < 0 || o.Context > 1<<24 {
		return fmt.Errorf("--context %v is out of range: use 0 to %d tokens", o.Context, 1<<24)
	}
	if ctx := o.model.MaxContext; ctx > 0 && o.Context > float64(ctx) {
		return fmt.Errorf("--context %v is beyond the context of %s (%d tokens): use at most %d", o.Context, o.name(), ctx, ctx)
	}
	if !(o.GPUMemoryUtilization >= 0 && o.GPUMemoryUtilization <= 1) {
		return fmt.Errorf("--gpu-memory-utilization %v is out of range: use a fraction in (0, 1], e.g. 0.9, or 0 for the engine's default", o.GPUMemoryUtilization)
	}
	var err error
	o.est, err = estimator.New(o.model, o.sys, estimator.Options{
		Backend: o.Backend, Precision: o.Precision, KVPrecision: o.KVPrecision, GPUMemoryUtilization: o.GPUMemoryUtilization,
	})
	if err != nil {
		return fmt.Errorf("--backend %q / --precision %q / --kv-precision %q: %w", o.Backend, o.Precision, o.KVPrecision, err)
	}
	if o.info, err = profiler.ModelInfoFrom(o.est); err != nil {
		return err
	}
	switch {
	case o.Sweep:
		o.mappings = o.sweptMappings()
	case o.TEP > 0:
		o.mappings = []results.Mapping{profiler.NewMapping("TEP", o.TEP)}
	case o.DEP > 0:
		o.mappings = []results.Mapping{profiler.NewMapping("DEP", o.DEP)}
	default:
		o.mappings = []results.Mapping{profiler.NewMapping("TP", max(o.TP, 1))}
	}
	if o.asked == "" {
		o.asked = "--tp 1"
	}
	if o.TEP == 1 || o.DEP == 1 {
		fmt.Fprintf(o.ErrOut, "Warning: %s is TP=1: one GPU has no experts to split\n", o.asked)
	}
	return nil
}

func (o *Options) name() string {
	if o.model.HFID != "" {
		return o.model.HFID
	}
	return o.model.Name
}

// sweptMappings are the candidates profile considers, at every power of
// two up to one node (four for a MoE model, as profile's search space).
func (o *Options) sweptMappings() []results.Mapping {
	top := o.sys.GPUsPerNode
	if o.info.IsMoE {
		top *= profiler.MoEMaxNodes
	}
	var out []results.Mapping
	seen := map[results.Mapping]bool{}
	for _, n := range profiler.GPUCounts(1, top) {
		for _, phase := range []profiler.Phase{profiler.Prefill, profiler.Decode} {
			for _, kind := range profiler.CandidateKinds(phase, o.info) {
				if m := profiler.NewMapping(kind, n); !seen[m] {
					seen[m] = true
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// Parallelism is the mapping; exactly one of tp/tep/dep is non-zero.
type Parallelism struct {
	TP      int `json:"tp"`
	TEP     int `json:"tep"`
	DEP     int `json:"dep"`
	NumGPUs int `json:"numGpus"`
}

// Prefill is batch-1 prefill.
type Prefill struct {
	ISL              int     `json:"isl"`
	TTFTMs           float64 `json:"ttftMs"`
	ThroughputPerGPU float64 `json:"throughputPerGpu"`
}

// Decode is steady-state decode.
type Decode struct {
	Concurrency      int     `json:"concurrency"`
	ContextLength    float64 `json:"contextLength"`
	ITLMs            float64 `json:"itlMs"`
	ThroughputPerGPU float64 `json:"throughputPerGpu"`
}

// MemoryResult is the per-GPU memory summary. Fits is false when the
// weights, or --concurrency sequences of isl + osl tokens, do not fit.
type MemoryResult struct {
	WeightsGiBPerGPU float64 `json:"weightsGiBPerGpu"`
	KVBytesPerToken  float64 `json:"kvBytesPerToken"`
	MaxKVTokens      int     `json:"maxKvTokens"`
	MaxConcurrency   int     `json:"maxConcurrency"`
	Fits             bool    `json:"fits"`
}

// Profile says what profile does with the mapping, by the same rules.
type Profile struct {
	// Swept: profile sweeps it (online; in simulation mode also unless
	// AICOnly is set).
	Swept bool `json:"swept"`
	// OnlineOnly: AI Configurator's head rule drops it in simulation mode.
	OnlineOnly bool   `json:"onlineOnly,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Result is the -o json|yaml object.
type Result struct {
	Model       string       `json:"model"`
	System      string       `json:"system"`
	Backend     string       `json:"backend"`
	Precision   string       `json:"precision"`
	Parallelism Parallelism  `json:"parallelism"`
	Prefill     Prefill      `json:"prefill"`
	Decode      Decode       `json:"decode"`
	Memory      MemoryResult `json:"memory"`
	Profile     Profile      `json:"profile"`

	err        error
	label      string
	weightsFit bool
}

// Run computes and prints the estimates.
func (o *Options) Run() error {
	var out []Result
	for _, m := range o.mappings {
		r := o.estimate(m)
		if !o.Sweep {
			if r.err != nil {
				return fmt.Errorf("%s: %w", o.asked, r.err)
			}
			if err := o.checkConcurrency(m, r); err != nil {
				return err
			}
		}
		out = append(out, r)
	}
	if o.printer == nil {
		return o.printTable(out)
	}
	for _, r := range out {
		if r.Profile.Reason != "" && r.err == nil {
			fmt.Fprintf(o.ErrOut, "Warning: %s: %s\n", r.label, r.Profile.Reason)
		}
	}
	if !o.Sweep {
		return util.PrintData(o.printer, out[0], o.Out)
	}
	ok := []Result{}
	for _, r := range out {
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	return util.PrintData(o.printer, ok, o.Out)
}

// estimate fills one mapping's result, and profile's verdict on it.
func (o *Options) estimate(m results.Mapping) Result {
	r := Result{Model: o.name(), System: o.sys.Name, Backend: strings.ToLower(o.Backend), Precision: o.est.Precision(), label: m.Label()}
	r.Parallelism.NumGPUs = m.N
	switch m.Kind {
	case "TEP":
		r.Parallelism.TEP = m.N
	case "DEP":
		r.Parallelism.DEP = m.N
	default:
		r.Parallelism.TP = m.N
	}
	reason, _ := profiler.CheckMapping(m, o.info, profiler.FilterOptions{GPUsPerNode: o.sys.GPUsPerNode})
	switch {
	case reason != "":
		r.Profile = Profile{Reason: "profile drops it: " + strings.TrimPrefix(reason, "Invalid mapping "+m.Label()+": ")}
	default:
		r.Profile.Swept = true
		if aic, _ := profiler.CheckMapping(m, o.info, profiler.FilterOptions{GPUsPerNode: o.sys.GPUsPerNode, AICHeadRule: true}); aic != "" {
			r.Profile.OnlineOnly = true
			r.Profile.Reason = "profile drops it in simulation mode: " + strings.TrimPrefix(aic, "Invalid mapping "+m.Label()+": ")
		}
	}
	r.err = o.fill(estimator.Mapping(m), &r)
	return r
}

func (o *Options) fill(m estimator.Mapping, r *Result) error {
	ttft, err := o.est.PrefillTTFT(m, o.ISL)
	if err != nil {
		return err
	}
	itl, err := o.est.DecodeITL(m, o.Concurrency, o.Context)
	if err != nil {
		return err
	}
	mem, err := o.est.Memory(m)
	if err != nil {
		return err
	}
	dp := float64(max(m.AttnDP, 1))
	r.Prefill = Prefill{ISL: o.ISL, TTFTMs: round(ttft, 3), ThroughputPerGPU: round(float64(o.ISL)*1000/ttft*dp/float64(m.N), 1)}
	r.Decode = Decode{Concurrency: o.Concurrency, ContextLength: o.Context, ITLMs: round(itl, 3),
		ThroughputPerGPU: round(float64(o.Concurrency)*1000/itl/float64(m.N), 1)}
	maxConc := mem.MaxKVTokens / (o.ISL + o.OSL)
	r.weightsFit = mem.Fits
	r.Memory = MemoryResult{WeightsGiBPerGPU: round(mem.WeightsGiBPerGPU, 3), KVBytesPerToken: mem.KVBytesPerToken,
		MaxKVTokens: mem.MaxKVTokens, MaxConcurrency: maxConc, Fits: mem.Fits && o.Concurrency <= maxConc}
	return nil
}

// checkConcurrency refuses a --concurrency the KV cache cannot hold (when
// the weights fit; otherwise the table says so), naming the fix: the
// smallest larger mapping that holds it, or the largest concurrency.
func (o *Options) checkConcurrency(m results.Mapping, r Result) error {
	if !r.weightsFit || r.Memory.MaxConcurrency >= o.Concurrency {
		return nil // fits, or the weights do not: the table and its note say so
	}
	fix := fmt.Sprintf("lower --concurrency to %d", r.Memory.MaxConcurrency)
	if r.Memory.MaxConcurrency == 0 {
		fix = "lower --isl/--osl"
	}
	for n := m.N * 2; n <= 64; n *= 2 {
		bigger := profiler.NewMapping(m.Kind, n)
		if reason, _ := profiler.CheckMapping(bigger, o.info, profiler.FilterOptions{GPUsPerNode: o.sys.GPUsPerNode}); reason != "" {
			continue
		}
		bm, err := o.est.Memory(estimator.Mapping(bigger))
		if err == nil && bm.Fits && bm.MaxKVTokens/(o.ISL+o.OSL) >= o.Concurrency {
			fix = fmt.Sprintf("use --%s %d (holds %d) or %s", strings.ToLower(bigger.Kind), n, bm.MaxKVTokens/(o.ISL+o.OSL), fix)
			break
		}
	}
	return fmt.Errorf("--concurrency %d is above what %s holds: its KV cache of %d tokens fits %d sequences of --isl %d + --osl %d; %s",
		o.Concurrency, m.Label(), r.Memory.MaxKVTokens, r.Memory.MaxConcurrency, o.ISL, o.OSL, fix)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func (o *Options) printTable(out []Result) error {
	r0 := out[0]
	fmt.Fprintf(o.Out, "Model %s on %s, backend %s, weights %s, KV %s; ISL %d, OSL %d, concurrency %d, context %g\n\n",
		r0.Model, r0.System, r0.Backend, r0.Precision, strings.ToLower(o.KVPrecision), o.ISL, o.OSL, o.Concurrency, o.Context)
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAPPING\tGPUS\tTTFT(ms)\tPREFILL TOK/S/GPU\tITL(ms)\tDECODE TOK/S/GPU\tWEIGHTS GiB/GPU\tMAX KV TOKENS\tMAX CONC\tFITS\tPROFILE")
	for _, r := range out {
		verdict := "swept"
		switch {
		case !r.Profile.Swept:
			verdict = "dropped"
		case r.Profile.OnlineOnly:
			verdict = "online only"
		}
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.label, r.Parallelism.NumGPUs, verdict)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%.2f\t%.0f\t%.1f\t%d\t%d\t%t\t%s\n", r.label, r.Parallelism.NumGPUs,
			r.Prefill.TTFTMs, r.Prefill.ThroughputPerGPU, r.Decode.ITLMs, r.Decode.ThroughputPerGPU,
			r.Memory.WeightsGiBPerGPU, r.Memory.MaxKVTokens, r.Memory.MaxConcurrency, r.Memory.Fits, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	o.notes(o.Out, out)
	return nil
}

func (o *Options) notes(w io.Writer, out []Result) {
	for _, r := range out {
		if r.err != nil {
			fmt.Fprintf(w, "%s: not possible: %v\n", r.label, r.err)
		}
		if r.Profile.Reason != "" {
			fmt.Fprintf(w, "%s: %s\n", r.label, r.Profile.Reason)
		}
		if r.err != nil || r.Memory.Fits {
			continue
		}
		if !r.weightsFit {
			fmt.Fprintf(w, "%s: the weights do not fit: use more GPUs or a smaller --precision\n", r.label)
		} else {
			fmt.Fprintf(w, "%s: --concurrency %d is above the %d sequences its KV cache holds\n", r.label, o.Concurrency, r.Memory.MaxConcurrency)
		}
	}
}
