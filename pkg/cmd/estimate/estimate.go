// Package estimate implements `kubectl dgdr estimate`, the analytic
// estimator's command line: one mapping, or a sweep over TP 1..8.
package estimate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
)

var (
	estimateLong = templates.LongDesc(`
		Estimate prefill TTFT, decode ITL, throughput per GPU and memory for a model on a
		GPU system and serving backend, without a cluster. The analytic model is calibrated
		on real engine measurements (see pkg/estimator/ACCURACY.md for its error).

		Prefill is one request of --isl tokens at batch 1; decode is --concurrency sequences
		in steady state at an average context of --context tokens (default isl + osl/2).
		Memory is per GPU; fits is false when the weights do not fit.`)

	estimateExample = templates.Examples(`
		# Qwen3-32B on H100 with vLLM at TP 2
		kubectl dgdr estimate --model Qwen/Qwen3-32B --system h100_sxm --backend vllm --tp 2

		# A decode point: 64 sequences at ISL 4000 / OSL 500, as JSON
		kubectl dgdr estimate --model QWEN3_32B --system h200_sxm --backend trtllm --tp 4 \
		  --isl 4000 --osl 500 --concurrency 64 -o json

		# DeepSeek-R1 with attention data parallelism and expert parallelism over 8 GPUs
		kubectl dgdr estimate --model deepseek-ai/DeepSeek-R1 --system b200_sxm --backend sglang --dep 8

		# A model outside the catalog, from its config.json, swept over TP 1..8
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
	Output               string

	model    *estimator.Model
	sys      *estimator.System
	mappings []estimator.Mapping

	genericiooptions.IOStreams
}

// NewCmd builds the `estimate` command.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams}
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
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "Model: Hugging Face id (Qwen/Qwen3-32B) or AI Configurator id (QWEN3_32B)")
	f.StringVar(&o.ModelConfig, "model-config", "", "Path to a Hugging Face config.json (or its folder) for a model outside the catalog")
	f.StringVar(&o.System, "system", "h100_sxm", "GPU system: "+strings.Join(estimator.Systems(), ", "))
	f.StringVar(&o.Backend, "backend", "vllm", "Serving backend: "+strings.Join(estimator.Backends(), ", "))
	f.StringVar(&o.Precision, "precision", "", "Weight precision: bf16, fp8 or fp4 (default: the checkpoint's)")
	f.StringVar(&o.KVPrecision, "kv-precision", "bf16", "KV-cache precision: bf16, fp8 or fp4")
	f.IntVar(&o.TP, "tp", 0, "Tensor parallelism over N GPUs (default 1 when no mapping is given)")
	f.IntVar(&o.TEP, "tep", 0, "Tensor parallelism for attention + expert parallelism over N GPUs (MoE)")
	f.IntVar(&o.DEP, "dep", 0, "Attention data parallelism + expert parallelism over N GPUs (MoE)")
	f.IntVar(&o.ISL, "isl", 3000, "Input sequence length in tokens")
	f.IntVar(&o.OSL, "osl", 150, "Output sequence length in tokens")
	f.IntVar(&o.Concurrency, "concurrency", 1, "Sequences decoding at once")
	f.Float64Var(&o.Context, "context", 0, "Average decode context in tokens (default isl + osl/2)")
	f.Float64Var(&o.GPUMemoryUtilization, "gpu-memory-utilization", 0, "The engine's memory fraction (vLLM gpu_memory_utilization, SGLang mem_fraction_static, TensorRT-LLM free_gpu_memory_fraction); 0 takes the engine's default")
	f.BoolVar(&o.Sweep, "sweep", false, "Print the grid over TP 1..8 instead of one mapping")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml. Prints a table when empty.")
	return cmd
}

// Complete resolves the model and system and builds the mapping list.
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
	return nil
}

// Validate checks the flags against each other.
func (o *Options) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("--output %q is not supported: use json or yaml", o.Output)
	}
	if o.model == nil {
		return errors.New("--model is required: pass a Hugging Face id (e.g. Qwen/Qwen3-32B), an AI Configurator id (e.g. QWEN3_32B), or --model-config with a local config.json")
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
		}
	}
	if set > 1 {
		return fmt.Errorf("--tp %d, --tep %d and --dep %d: set only one of them", o.TP, o.TEP, o.DEP)
	}
	if o.Sweep && set > 0 {
		return errors.New("--sweep prints the TP 1..8 grid: drop --tp/--tep/--dep")
	}
	if o.ISL < 1 || o.ISL > 262144 {
		return fmt.Errorf("--isl %d is out of range: use 1 to 262144 tokens", o.ISL)
	}
	if o.OSL < 1 || o.OSL > 262144 {
		return fmt.Errorf("--osl %d is out of range: use 1 to 262144 tokens", o.OSL)
	}
	if o.Concurrency < 1 || o.Concurrency > 100000 {
		return fmt.Errorf("--concurrency %d is out of range: use 1 to 100000", o.Concurrency)
	}
	if o.Context < 0 || o.Context > 1<<24 {
		return fmt.Errorf("--context %v is out of range: use 0 to %d tokens", o.Context, 1<<24)
	}
	if !(o.GPUMemoryUtilization >= 0 && o.GPUMemoryUtilization <= 1) {
		return fmt.Errorf("--gpu-memory-utilization %v is out of range: use a fraction in (0, 1], e.g. 0.9, or 0 for the engine's default", o.GPUMemoryUtilization)
	}
	switch {
	case o.Sweep:
		o.mappings = nil
		for tp := 1; tp <= 8; tp++ {
			o.mappings = append(o.mappings, estimator.NewMapping("TP", tp))
		}
	case o.TEP > 0:
		o.mappings = []estimator.Mapping{estimator.NewMapping("TEP", o.TEP)}
	case o.DEP > 0:
		o.mappings = []estimator.Mapping{estimator.NewMapping("DEP", o.DEP)}
	default:
		tp := max(o.TP, 1)
		o.mappings = []estimator.Mapping{estimator.NewMapping("TP", tp)}
	}
	return nil
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

// MemoryResult is the per-GPU memory summary.
type MemoryResult struct {
	WeightsGiBPerGPU float64 `json:"weightsGiBPerGpu"`
	KVBytesPerToken  float64 `json:"kvBytesPerToken"`
	MaxKVTokens      int     `json:"maxKvTokens"`
	MaxConcurrency   int     `json:"maxConcurrency"`
	Fits             bool    `json:"fits"`
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

	aicRule error
	err     error
	label   string
}

// Run computes and prints the estimates.
func (o *Options) Run() error {
	est, err := estimator.New(o.model, o.sys, estimator.Options{
		Backend: o.Backend, Precision: o.Precision, KVPrecision: o.KVPrecision, GPUMemoryUtilization: o.GPUMemoryUtilization,
	})
	if err != nil {
		return fmt.Errorf("--backend %q / --precision %q / --kv-precision %q: %w", o.Backend, o.Precision, o.KVPrecision, err)
	}
	name := o.model.HFID
	if name == "" {
		name = o.model.Name
	}
	var results []Result
	for _, m := range o.mappings {
		r := Result{Model: name, System: o.sys.Name, Backend: strings.ToLower(o.Backend), Precision: est.Precision(), label: m.Label()}
		r.Parallelism.NumGPUs = m.N
		switch m.Kind {
		case "TEP":
			r.Parallelism.TEP = m.N
		case "DEP":
			r.Parallelism.DEP = m.N
		default:
			r.Parallelism.TP = m.N
		}
		if m.TP > 1 {
			r.aicRule = estimator.AICCheckTP(o.model.Heads, m.TP)
		}
		r.err = o.fill(est, m, &r)
		if r.err != nil && !o.Sweep {
			return fmt.Errorf("%s: %w", flagFor(m), r.err)
		}
		results = append(results, r)
	}
	switch o.Output {
	case "json", "yaml":
		var v any = results[0]
		if o.Sweep {
			ok := []Result{}
			for _, r := range results {
				if r.err == nil {
					ok = append(ok, r)
				}
			}
			v = ok
		}
		for _, r := range results {
			if r.aicRule != nil {
				fmt.Fprintf(o.ErrOut, "warning: %s: AI Configurator's head rule forbids it: %v\n", r.label, r.aicRule)
			}
		}
		if o.Output == "json" {
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(o.Out, string(b))
			return err
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	return o.printTable(results)
}

func flagFor(m estimator.Mapping) string {
	return fmt.Sprintf("--%s %d", strings.ToLower(m.Kind), m.N)
}

func (o *Options) fill(est *estimator.Estimator, m estimator.Mapping, r *Result) error {
	ttft, err := est.PrefillTTFT(m, o.ISL)
	if err != nil {
		return err
	}
	itl, err := est.DecodeITL(m, o.Concurrency, o.Context)
	if err != nil {
		return err
	}
	mem, err := est.Memory(m)
	if err != nil {
		return err
	}
	dp := float64(m.AttnDP)
	if m.AttnDP == 0 {
		dp = 1
	}
	r.Prefill = Prefill{ISL: o.ISL, TTFTMs: round(ttft, 3), ThroughputPerGPU: round(float64(o.ISL)*1000/ttft*dp/float64(m.N), 1)}
	r.Decode = Decode{Concurrency: o.Concurrency, ContextLength: o.Context, ITLMs: round(itl, 3),
		ThroughputPerGPU: round(float64(o.Concurrency)*1000/itl/float64(m.N), 1)}
	r.Memory = MemoryResult{WeightsGiBPerGPU: round(mem.WeightsGiBPerGPU, 3), KVBytesPerToken: mem.KVBytesPerToken,
		MaxKVTokens: mem.MaxKVTokens, MaxConcurrency: mem.MaxKVTokens / (o.ISL + o.OSL), Fits: mem.Fits}
	return nil
}

func round(v float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

func (o *Options) printTable(results []Result) error {
	r0 := results[0]
	fmt.Fprintf(o.Out, "Model %s on %s, backend %s, weights %s, KV %s; ISL %d, OSL %d, concurrency %d, context %g\n\n",
		r0.Model, r0.System, r0.Backend, r0.Precision, strings.ToLower(o.KVPrecision), o.ISL, o.OSL, o.Concurrency, o.Context)
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAPPING\tGPUS\tTTFT(ms)\tPREFILL TOK/S/GPU\tITL(ms)\tDECODE TOK/S/GPU\tWEIGHTS GiB/GPU\tMAX KV TOKENS\tMAX CONC\tFITS\tAIC RULE")
	for _, r := range results {
		rule := "ok"
		if r.aicRule != nil {
			rule = "forbidden"
		}
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.label, r.Parallelism.NumGPUs, rule)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%.2f\t%.0f\t%.1f\t%d\t%d\t%t\t%s\n", r.label, r.Parallelism.NumGPUs,
			r.Prefill.TTFTMs, r.Prefill.ThroughputPerGPU, r.Decode.ITLMs, r.Decode.ThroughputPerGPU,
			r.Memory.WeightsGiBPerGPU, r.Memory.MaxKVTokens, r.Memory.MaxConcurrency, r.Memory.Fits, rule)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	notes(o.Out, results)
	return nil
}

func notes(w io.Writer, results []Result) {
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(w, "%s: not possible: %v\n", r.label, r.err)
		} else if r.aicRule != nil {
			fmt.Fprintf(w, "%s: AI Configurator's head rule forbids it (heads divisible by TP and heads/TP >= 4): %v\n", r.label, r.aicRule)
		}
		if r.err == nil && !r.Memory.Fits {
			fmt.Fprintf(w, "%s: the weights do not fit: use more GPUs or a smaller --precision\n", r.label)
		}
	}
}
