// Package loadgen implements `kubectl dgdr loadgen`: the profiler's load
// generator against any OpenAI-compatible endpoint, with AIPerf-named output.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	lg "github.com/kubectl-dgdr/kubectl-dgdr/pkg/loadgen"
)

var (
	loadgenLong = templates.LongDesc(`
		Benchmark an OpenAI-compatible endpoint the way the profiler measures engines: streaming
		chat/completions requests with synthetic prompts of exactly --isl tokens (calibrated
		from the server's usage.prompt_tokens, or built from single-token words of --tokenizer),
		exactly --osl output tokens (ignore_eos, min_tokens, max_tokens), a warm-up, then a fixed
		number of requests (or a duration) at fixed concurrency.

		It reports TTFT, ITL (the gaps after the first token), request latency and output
		throughput with avg/p50/p90/p99, and writes profile_export_aiperf.json with AIPerf's
		metric names (time_to_first_token.avg, inter_token_latency.avg, ...).`)

	loadgenExample = templates.Examples(`
		# 64 concurrent streams of ISL 3000 / OSL 150 against a port-forwarded frontend
		kubectl port-forward svc/my-dgd-frontend 8000:8000 &
		kubectl dgdr loadgen --url http://127.0.0.1:8000 --isl 3000 --osl 150 --concurrency 64 --request-count 256

		# The profiler's prefill measurement (concurrency 1, OSL 5, 3 warm-up requests), as JSON
		kubectl dgdr loadgen --url http://127.0.0.1:8000 --model Qwen/Qwen3-32B --isl 3000 --osl 5 \
		  --concurrency 1 --request-count 1 --warmup-request-count 3 -o json

		# Two minutes of load, exact prompt lengths from the model's tokenizer, export to a file
		kubectl dgdr loadgen --url http://127.0.0.1:8000 --isl 8000 --osl 500 --concurrency 16 \
		  --duration 2m --tokenizer ./tokenizer.json --export profile_export_aiperf.json`)
)

// outputTable is the default -o: the human table.
const outputTable = "table"

// Options holds the flags of `loadgen`.
type Options struct {
	URL            string
	Model          string
	Endpoint       string
	ISL, OSL       int
	Concurrency    int
	RequestCount   int
	Duration       time.Duration
	Warmup         int
	Tokenizer      string
	Seed           uint64
	NoIgnoreEOS    bool
	NoMinTokens    bool
	RequestTimeout time.Duration
	Export         string
	PrintFlags     *genericclioptions.PrintFlags

	printer printers.ResourcePrinter

	// HTTP is the client (tests); nil uses a default one.
	HTTP *http.Client

	genericiooptions.IOStreams
}

// NewCmd builds the `loadgen` command.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams, PrintFlags: util.NewDataPrintFlags().WithDefaultOutput(outputTable)}
	cmd := &cobra.Command{
		Use:                   "loadgen --url URL --isl N --osl N [--concurrency N] [--request-count N | --duration D] [flags]",
		Short:                 "Benchmark an OpenAI-compatible endpoint with the profiler's load generator",
		Long:                  loadgenLong,
		Example:               loadgenExample,
		DisableFlagsInUseLine: true,
		Args:                  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(cmd.Context()); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "base URL of the server, e.g. http://127.0.0.1:8000")
	f.StringVar(&o.Model, "model", "", "served model name (default: the first of GET /v1/models)")
	f.StringVar(&o.Endpoint, "endpoint", lg.EndpointChat, "chat or completions")
	f.IntVar(&o.ISL, "isl", 0, "prompt tokens per request (exact)")
	f.IntVar(&o.OSL, "osl", 0, "output tokens per request (exact)")
	f.IntVar(&o.Concurrency, "concurrency", 1, "requests in flight")
	f.IntVar(&o.RequestCount, "request-count", 0, "measured requests (default: 4 × concurrency unless --duration)")
	f.DurationVar(&o.Duration, "duration", 0, "issue requests for this long instead of a count")
	f.IntVar(&o.Warmup, "warmup-request-count", 3, "unmeasured requests sent first")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "Hugging Face tokenizer.json for exact prompt lengths")
	f.Uint64Var(&o.Seed, "random-seed", 100, "seed of the synthetic prompts")
	f.BoolVar(&o.NoIgnoreEOS, "no-ignore-eos", false, "do not send ignore_eos (for servers with a strict schema)")
	f.BoolVar(&o.NoMinTokens, "no-min-tokens", false, "do not send min_tokens")
	f.DurationVar(&o.RequestTimeout, "request-timeout", 30*time.Minute, "per-request timeout")
	f.StringVar(&o.Export, "export", "", "write profile_export_aiperf.json here")
	o.PrintFlags.AddFlags(cmd)
	f.Lookup("output").Usage = "Output format. One of: (" + strings.Join(append([]string{outputTable}, o.PrintFlags.AllowedFormats()...), ", ") + "); json and yaml print the AIPerf export"
	return cmd
}

// Complete fills the model from the server when it is not given.
func (o *Options) Complete(ctx context.Context) error {
	if o.RequestCount == 0 && o.Duration == 0 {
		o.RequestCount = 4 * max(o.Concurrency, 1)
	}
	if o.Model != "" || o.URL == "" {
		return nil
	}
	m, err := firstModel(ctx, o.client(), o.URL)
	if err != nil {
		return fmt.Errorf("--model is not set and %w: pass --model", err)
	}
	o.Model = m
	return nil
}

func (o *Options) client() *http.Client {
	if o.HTTP != nil {
		return o.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func firstModel(ctx context.Context, c *http.Client, base string) (string, error) {
	u := strings.TrimSuffix(base, "/")
	if !strings.HasSuffix(u, "/v1") {
		u += "/v1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/models", nil)
	if err != nil {
		return "", fmt.Errorf("--url %q is invalid: %v", base, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s/models failed: %v", u, err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s/models returned HTTP %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&list); err != nil || len(list.Data) == 0 {
		return "", fmt.Errorf("GET %s/models listed no model", u)
	}
	return list.Data[0].ID, nil
}

func (o *Options) config() lg.Config {
	return lg.Config{
		BaseURL: o.URL, Model: o.Model, Endpoint: o.Endpoint, ISL: o.ISL, OSL: o.OSL,
		Concurrency: o.Concurrency, RequestCount: o.RequestCount, Duration: o.Duration, WarmupRequests: o.Warmup,
		NoIgnoreEOS: o.NoIgnoreEOS, NoMinTokens: o.NoMinTokens, Seed: o.Seed, TokenizerFile: o.Tokenizer,
		RequestTimeout: o.RequestTimeout,
		Logf:           func(format string, args ...any) { fmt.Fprintf(o.ErrOut, format+"\n", args...) },
	}
}

// Validate checks the flags.
func (o *Options) Validate() error {
	if o.URL == "" {
		return errors.New("--url is required: the server's base URL, e.g. http://127.0.0.1:8000")
	}
	if *o.PrintFlags.OutputFormat != outputTable {
		p, err := util.ToPrinter(o.PrintFlags, outputTable)
		if err != nil {
			return err
		}
		o.printer = p
	}
	c := o.config()
	if err := c.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	return nil
}

// Run benchmarks and prints the summary.
func (o *Options) Run(ctx context.Context) error {
	res, err := lg.Run(ctx, o.config())
	if err != nil && res == nil {
		return err
	}
	e := res.Export()
	if o.Export != "" {
		b, merr := json.MarshalIndent(e, "", "  ")
		if merr != nil {
			return merr
		}
		if werr := os.WriteFile(o.Export, b, 0o644); werr != nil {
			return fmt.Errorf("--export %s: %w", o.Export, werr)
		}
	}
	if o.printer != nil {
		if perr := util.PrintData(o.printer, e, o.Out); perr != nil {
			return perr
		}
	} else {
		printTable(o.Out, e)
	}
	if err != nil {
		return err
	}
	if e.ErrorRequestCount != nil {
		return fmt.Errorf("%.0f of %d requests failed: %s", e.ErrorRequestCount.Avg, len(res.Records), e.ErrorSummary[0].ErrorDetails.Message)
	}
	return nil
}

func printTable(w io.Writer, e lg.Export) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tUNIT\tAVG\tP50\tP90\tP99")
	row := func(name string, s *lg.Stat) {
		if s == nil {
			return
		}
		f := func(p *float64) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprintf("%.2f", *p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\n", name, s.Unit, s.Avg, f(s.P50), f(s.P90), f(s.P99))
	}
	row("time_to_first_token", e.TimeToFirstToken)
	row("inter_token_latency", e.InterTokenLatency)
	row("request_latency", e.RequestLatency)
	row("output_token_throughput_per_user", e.OutputTokenThroughputPerUser)
	row("output_token_throughput", e.OutputTokenThroughput)
	row("request_throughput", e.RequestThroughput)
	row("input_sequence_length", e.InputSequenceLength)
	row("output_sequence_length", e.OutputSequenceLength)
	row("request_count", e.RequestCount)
	row("effective_concurrency", e.EffectiveConcurrency)
	row("error_request_count", e.ErrorRequestCount)
	_ = tw.Flush()
}
