// Package profile is `kubectl dgdr profile`: it runs the SLA profiler on a
// DGDR and writes the recommendation, the planner data and the generated DGD.
// Local mode profiles a file or flags in this process; cluster mode profiles
// a DGDR by name and writes the results back to the cluster (cluster.go).
package profile

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/images"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/output"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var (
	profileLong = templates.LongDesc(`
		Profile a DynamoGraphDeploymentRequest (DGDR) against its latency SLA.

		The profiler sweeps the prefill and decode parallel mappings (TP for dense models,
		TEP/DEP for MoE models) over powers of two between the minimum and maximum GPUs per
		engine, picks the mapping with the highest throughput per GPU that meets the TTFT and
		ITL targets, and measures the interpolation grids the SLA planner reads. It prints the
		sweep table and the suggested engines, and writes the plots, the npz grids, the
		generated DynamoGraphDeployment with its planner, results.json and report.html into
		--output-dir. That directory is swapped in whole, so it always holds a complete
		profile; an existing one is replaced only when it holds nothing but a previous
		profile (otherwise the files it would delete are listed), a symbolic link is refused
		unless --follow-symlinks, and staging directories left by killed runs are removed.
		--output-dir is checked before anything runs; Ctrl-C stops a local profile in any phase
		with exit status 130, and the directory is left as it was.

		With --local (implied by -f or by the flags alone) every measurement comes from the
		built-in performance estimator: no cluster and no GPU are needed. The input goes through
		the same defaulting and validation as the admission webhook, and its errors name the
		flags you passed (--itl) or the fields of your file (spec.profilingConfig.config.sla.itl).
		A MoE model's engines grow by --gpus-per-node (8 when it is not set, with a warning).

		With a DGDR NAME, the DGDR in the cluster is profiled and the results are written back to
		it (status, conditions, events, the dgdr-output-NAME and planner-profile-data ConfigMaps).
		In AI Configurator mode (sweep.use_ai_configurator: true) or with --simulate the estimator
		answers; otherwise every (phase, mapping) runs as a Job on the cluster's free GPUs, in
		parallel. The Jobs outlive the plugin: Ctrl-C leaves them running, running the command again
		re-attaches and reuses finished results, and --cancel deletes them.`)

	profileExample = templates.Examples(`
		# Profile the AI Configurator example locally and write the results into ./out
		%[1]s profile --local -f examples/trtllm-aic-offline.yaml --output-dir out

		# Profile without a file: the same fields as flags
		%[1]s profile --local --model Qwen/Qwen3-32B --backend vllm --system h100_sxm \
		  --isl 3000 --osl 150 --ttft 200 --itl 20

		# Show the sweep plan and its estimated GPU time without measuring anything
		%[1]s profile --local -f examples/sglang-moe.yaml --dry-run

		# What if the SLA were different? Re-select from saved measurements
		%[1]s profile --from out/results.json --ttft 100 --itl 15 --output-dir out-whatif

		# Print results.json instead of the summary
		%[1]s profile --local -f examples/vllm-dense-online.yaml -o json --quiet

		# Select with Dynamo's rule on the coarse sweep, to compare with upstream
		%[1]s profile --local -f examples/trtllm-aic-offline.yaml --selection=upstream --output-dir out-upstream

		# Profile a DGDR in the cluster and write the results back to it
		%[1]s profile vllm-dense-online -n team

		# Online profiling on a GPU-less cluster: the engine simulator, at most 4 Jobs at once
		%[1]s profile vllm-dense-online -n team --mocker --max-parallel 4

		# Use the estimator for a DGDR that asks for online profiling
		%[1]s profile vllm-dense-online -n team --simulate

		# Stop the profiling Jobs (finished results are kept for the next run)
		%[1]s profile vllm-dense-online -n team --cancel`)
)

// DefaultOutputDir is the profiler's default output directory.
const DefaultOutputDir = "profiling_results"

// flagsModeName names the DGDR (and the generated DGD) built from flags.
const flagsModeName = "local"

// defaultLocalSystem is simulated when the DGDR names no GPU.
const defaultLocalSystem = "h100_sxm"

// Options is `kubectl dgdr profile`.
type Options struct {
	genericiooptions.IOStreams
	Clock clock.PassiveClock
	// Flags are kubectl's connection flags, for cluster mode.
	Flags genericclioptions.RESTClientGetter

	// Name is a DGDR in the cluster (cluster mode).
	Name string
	// Timeout is the profiling deadline in cluster mode (0: the default).
	Timeout time.Duration
	// Cluster holds the flags of cluster mode.
	Cluster ClusterFlags
	// Local runs the profiler in this process on the estimator.
	Local bool

	Filename    string
	Model       string
	Backend     string
	ISL, OSL    int64
	TTFT, ITL   float64
	System      string
	ModelConfig string
	// ConfigMapFile is the local stand-in for spec.profilingConfig.configMapRef:
	// the base DGD, or a ConfigMap holding it.
	ConfigMapFile string
	MinGPUs       int64
	MaxGPUs       int64
	// GPUsPerNode is hardware.numGpusPerNode (--gpus-per-node): the node
	// size MoE engines grow by. Cluster mode discovers it.
	GPUsPerNode int64

	OutputDir string
	// Selection is the rule: frontier (default) or upstream.
	Selection string
	// FollowSymlinks lets OutputDir be a symbolic link (--follow-symlinks).
	FollowSymlinks bool
	// DryRun is --dry-run: client prints the plan; profile has no server
	// dry run (it sends nothing to the API server to check).
	DryRun     cmdutil.DryRunStrategy
	Quiet      bool
	NoPlots    bool
	PrintFlags *genericclioptions.PrintFlags
	From       string
	// Phase, when set, is called as each phase starts (see cmd.Options).
	Phase func(ctx context.Context, phase string)

	// changed records which flags the user set, so flags override the file.
	changed map[string]bool
	// isTTY decides between the progress bar and line mode.
	isTTY bool
	// printer is -o's; nil prints the summary.
	printer printers.ResourcePrinter
}

// NewOptions returns Options with defaults.
func NewOptions(flags genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams, clk clock.PassiveClock) *Options {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Options{IOStreams: streams, Clock: clk, Flags: flags, OutputDir: DefaultOutputDir, Selection: results.RuleFrontier,
		PrintFlags: util.NewDataPrintFlags(), changed: map[string]bool{}}
}

// NewCmd builds `profile`.
func NewCmd(flags genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams, clk clock.PassiveClock, phase func(context.Context, string)) *cobra.Command {
	o := NewOptions(flags, streams, clk)
	o.Phase = phase
	cmd := &cobra.Command{
		Use:                   "profile [NAME] [--local] [-f FILE | --model MODEL --backend BACKEND ...] [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "Profile a DGDR: find the prefill/decode engines that meet its SLA",
		Long:                  profileLong,
		Example:               fmt.Sprintf(profileExample, "kubectl dgdr"),
		Args:                  cobra.MaximumNArgs(1),
		RunE:                  util.RunE(o),
	}
	f := cmd.Flags()
	f.BoolVar(&o.Local, "local", o.Local, "Profile in this process with the built-in estimator (no cluster, no GPU)")
	f.StringVarP(&o.Filename, "filename", "f", o.Filename, "DGDR YAML or JSON file to profile; - reads stdin")
	f.StringVar(&o.Model, "model", o.Model, "Model (Hugging Face id or AI Configurator id; kubectl dgdr models lists them); overrides spec.model")
	f.StringVar(&o.Backend, "backend", o.Backend, "Backend: vllm, sglang or trtllm; overrides spec.backend")
	f.Int64Var(&o.ISL, "isl", o.ISL, "Input sequence length in tokens (sla.isl)")
	f.Int64Var(&o.OSL, "osl", o.OSL, "Output sequence length in tokens (sla.osl)")
	f.Float64Var(&o.TTFT, "ttft", o.TTFT, "Time-to-first-token target in ms (sla.ttft)")
	f.Float64Var(&o.ITL, "itl", o.ITL, "Inter-token latency target in ms (sla.itl)")
	f.StringVar(&o.System, "system", o.System, "GPU system to simulate, e.g. h100_sxm, h200_sxm (sweep.aicSystem)")
	f.StringVar(&o.ModelConfig, "model-config", o.ModelConfig, "Hugging Face config.json (or its folder) for a model not in the built-in catalog")
	f.StringVar(&o.ConfigMapFile, "config-map-file", o.ConfigMapFile, "Base DynamoGraphDeployment (a recipe), or a ConfigMap holding it: what spec.profilingConfig.configMapRef names in the cluster; its worker flags go into the generated DGD")
	f.Int64Var(&o.MinGPUs, "min-gpus", o.MinGPUs, "Minimum GPUs per engine (hardware.minNumGpusPerEngine)")
	f.Int64Var(&o.MaxGPUs, "max-gpus", o.MaxGPUs, "Maximum GPUs per engine (hardware.maxNumGpusPerEngine)")
	f.Int64Var(&o.GPUsPerNode, "gpus-per-node", o.GPUsPerNode, "GPUs per node (hardware.numGpusPerNode); MoE engines span up to four nodes (default: the cluster's in cluster mode, 8 locally)")
	f.StringVar(&o.OutputDir, "output-dir", o.OutputDir, "Directory for every output; replaced atomically and only if it holds nothing but a previous profile")
	f.BoolVar(&o.FollowSymlinks, "follow-symlinks", o.FollowSymlinks, "Let --output-dir be a symbolic link and write into the directory it points to")
	util.AddDryRunFlag(cmd, &o.DryRun, false, "none or client: client prints the plan (mappings, points, estimated GPU time) and measures nothing; a bare --dry-run is client")
	f.StringVar(&o.Selection, "selection", o.Selection, "Selection rule: frontier (the highest throughput per GPU at each mapping's SLA frontier, planner grids dense near the SLA) or upstream (Dynamo's rule on the coarse sweep)")
	f.BoolVarP(&o.Quiet, "quiet", "q", o.Quiet, "No progress on stderr")
	f.BoolVar(&o.NoPlots, "no-plots", o.NoPlots, "Skip the PNG plots")
	f.StringVar(&o.From, "from", o.From, "What-if: re-select from a saved results.json with new --ttft/--itl, measuring nothing")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "Cluster mode: give up profiling after this long (0: 5m with the estimator, 4h online)")
	o.addClusterFlags(f)
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Print results.json instead of the summary. One of: (" + strings.Join(o.PrintFlags.AllowedFormats(), ", ") + ")"
	cmd.ValidArgsFunction = completeNames(o)
	_ = cmd.RegisterFlagCompletionFunc("model", util.CompleteModels)
	_ = cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions([]string{"vllm", "sglang", "trtllm"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("system", cobra.FixedCompletions(estimator.Systems(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("selection", cobra.FixedCompletions([]string{results.RuleFrontier, results.RuleUpstream}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete fills Options from the command line.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	cmd.Flags().Visit(func(f *pflagFlag) { o.changed[f.Name] = true })
	if o.Name == "" {
		o.Local = true // a file or flags can only be profiled here
	}
	o.isTTY = isTerminal(o.ErrOut)
	if util.Structured(o.PrintFlags) {
		var err error
		if o.printer, err = util.ToPrinter(o.PrintFlags); err != nil {
			return err
		}
	}
	return nil
}

// flagsMode: the DGDR is built from flags alone, so errors name the flags.
func (o *Options) flagsMode() bool { return o.Name == "" && o.Filename == "" && o.From == "" }

// phase announces a phase to the hook, if any, and says whether to stop:
// an interrupt ends the run at the next phase.
func (o *Options) phase(ctx context.Context, name string) error {
	if o.Phase != nil {
		o.Phase(ctx, name)
	}
	return ctx.Err()
}

// Validate checks flag combinations.
func (o *Options) Validate() error {
	switch o.Selection {
	case results.RuleFrontier, results.RuleUpstream:
	default:
		return fmt.Errorf("--selection %q is not a selection rule: use %s (the highest throughput per GPU at each mapping's SLA frontier) or %s (Dynamo's rule on the coarse sweep)",
			o.Selection, results.RuleFrontier, results.RuleUpstream)
	}
	if o.Name != "" {
		return o.validateCluster()
	}
	for _, f := range []string{"simulate", "mocker", "max-parallel", "worker-image", "cancel", "timeout"} {
		if o.changed[f] {
			return fmt.Errorf("--%s applies to cluster mode only: name a DGDR in the cluster (kubectl dgdr profile NAME --%s ...)", f, f)
		}
	}
	for _, v := range []struct {
		flag string
		ms   float64
	}{{"ttft", o.TTFT}, {"itl", o.ITL}} {
		if o.changed[v.flag] && (math.IsNaN(v.ms) || math.IsInf(v.ms, 0)) {
			return fmt.Errorf("--%s %v is not a latency: pass a positive number of milliseconds, e.g. --%s 200", v.flag, v.ms, v.flag)
		}
	}
	if o.From != "" {
		for _, f := range []string{"filename", "model", "backend", "isl", "osl", "system", "model-config", "config-map-file", "min-gpus", "max-gpus", "gpus-per-node", "dry-run"} {
			if o.changed[f] {
				return fmt.Errorf("--from re-selects saved measurements and cannot take --%s; only --ttft and --itl change (run profile again for a new workload)", f)
			}
		}
		if !o.changed["ttft"] && !o.changed["itl"] && !o.changed["selection"] {
			return errors.New("--from needs a new --ttft, --itl or --selection to re-select for")
		}
	} else if o.Filename == "" && (o.Model == "" || o.Backend == "") {
		return errors.New("nothing to profile: pass a DGDR with -f FILE (- for stdin), or at least --model and --backend with --isl, --osl, --ttft and --itl (kubectl dgdr models lists the models)")
	}
	if o.DryRun != cmdutil.DryRunNone {
		return nil
	}
	return o.checkOutputDir()
}

// checkOutputDir refuses a bad --output-dir before any work, not after a
// profile ran: a file, a link, a directory holding other files, a place
// that cannot be written (output.Write checks again when it writes).
func (o *Options) checkOutputDir() error {
	if err := output.CheckDir(o.OutputDir, o.FollowSymlinks); err != nil {
		return fmt.Errorf("--output-dir: %w", err)
	}
	return nil
}

// Run profiles.
func (o *Options) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.From != "" {
		return o.runWhatIf()
	}
	if o.Name != "" {
		return o.runCluster(ctx)
	}
	// A local profile is one short burst of allocation (sweep, grids, plots):
	// collecting at 50 % heap growth instead of 100 % keeps the whole
	// process within its 60 MB RSS budget (make bench-profile) for a few ms.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	err := o.runLocal(ctx)
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: main says so, nothing was written
	}
	if o.flagsMode() {
		return util.FlagErrors(err)
	}
	return err
}

// runLocal profiles a file or flags in this process: read, measure on the
// estimator, then render and move the outputs in whole.
func (o *Options) runLocal(ctx context.Context) error {
	if err := o.phase(ctx, "reading"); err != nil {
		return err
	}
	req, err := o.buildDGDR()
	if err != nil {
		return err
	}
	job, err := o.prepare(req)
	if err != nil {
		return err
	}
	log := profiler.NewLogger(o.Clock.Now)
	sim := profiler.NewSimulation(job.est)
	sim.Log = log
	p := &profiler.Profiler{Measurer: sim, Log: log}
	dryRun := o.DryRun == cmdutil.DryRunClient
	prog := newProgress(o.ErrOut, o.isTTY, o.Quiet || dryRun)
	p.Progress = prog.update
	if err := o.phase(ctx, "measuring"); err != nil {
		return err
	}
	r, err := p.Run(ctx, job.cfg)
	prog.finish()
	if err == nil {
		err = ctx.Err()
	}
	for _, w := range job.warnings {
		log.Warnf("%s", w)
	}
	if err != nil {
		return fmt.Errorf("profiling %s: %w", job.dgdr.Spec.Model, err)
	}
	profiler.Stamp(r, job.dgdr, job.settings)
	if r.DryRun {
		return o.printPlan(r, job)
	}
	r.Warnings = append(job.warnings, r.Warnings...)
	files, err := output.Write(o.OutputDir, r, output.Inputs{DGDR: job.dgdr, Settings: job.settings, Log: log.Bytes(), FollowSymlinks: o.FollowSymlinks,
		NoPlots: o.NoPlots, Now: o.Clock.Now(), Recipe: job.recipe, Context: ctx, OnStep: func(step string) { _ = o.phase(ctx, step) }})
	if err != nil {
		return fmt.Errorf("writing outputs: %w", err)
	}
	return o.print(r, files)
}

// job is a validated, defaulted DGDR ready to profile.
type job struct {
	dgdr     *v1alpha1.DynamoGraphDeploymentRequest
	settings profileconfig.Settings
	est      *estimator.Estimator
	cfg      profiler.Config
	warnings []string
	recipe   *output.Recipe
}

// readRecipe reads --config-map-file: the key is configMapRef's when the
// DGDR names one. Without the file a configMapRef cannot be read (no
// cluster): a warning says so.
func (o *Options) readRecipe(req *Request, j *job) error {
	ref := req.DGDR.Spec.ProfilingConfig.ConfigMapRef
	if o.ConfigMapFile == "" {
		if ref != nil {
			j.warnings = append(j.warnings, fmt.Sprintf("spec.profilingConfig.configMapRef names ConfigMap %s, which lives in the cluster; "+
				"pass --config-map-file with its manifest (or the base DynamoGraphDeployment) to use its worker flags", ref.Name))
		}
		return nil
	}
	data, err := o.readInput("--config-map-file", o.ConfigMapFile)
	if err != nil {
		return err
	}
	key := ""
	if ref != nil {
		key = cmp.Or(ref.Key, admission.DefaultConfigMapKey)
	}
	r, err := output.ParseRecipe(data, key)
	if err != nil {
		return fmt.Errorf("--config-map-file %s: %w", o.ConfigMapFile, err)
	}
	j.recipe = r
	return nil
}

// Request is a DGDR to profile: its internal form (v1alpha1, the profiler
// config holding everything), and the object as written when it is v1beta1.
type Request struct {
	DGDR *v1alpha1.DynamoGraphDeploymentRequest
	Hub  *v1beta1.DynamoGraphDeploymentRequest
}

// paths turns field paths of the internal form into the request's own.
func (r *Request) paths(s string) string {
	if r.Hub != nil {
		return admission.HubPath(s)
	}
	return s
}

// buildDGDR reads -f (or builds a DGDR from flags) and applies the flags.
func (o *Options) buildDGDR() (*Request, error) {
	req := &Request{DGDR: &v1alpha1.DynamoGraphDeploymentRequest{}}
	dgdr := req.DGDR
	if o.Filename != "" {
		data, err := o.readInput("-f", o.Filename)
		if err != nil {
			return nil, err
		}
		if req, err = DecodeRequest(data); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Filename, err)
		}
		dgdr = req.DGDR
	} else {
		dgdr.APIVersion = v1alpha1.GroupVersion.String()
		dgdr.Kind = "DynamoGraphDeploymentRequest"
		// Short, so that every generated service name stays within Grove's 45 characters.
		dgdr.Name = flagsModeName
	}
	if o.changed["model"] {
		dgdr.Spec.Model = o.Model
	}
	if o.changed["backend"] {
		dgdr.Spec.Backend = o.Backend
	}
	cfg, err := profileconfig.FromJSON(dgdr.Spec.ProfilingConfig.Config)
	if err != nil {
		return nil, fmt.Errorf("spec.profilingConfig.config: %w", err)
	}
	set := func(flag string, k profileconfig.Key, v any) error {
		if !o.changed[flag] {
			return nil
		}
		if err := cfg.Set(k, v); err != nil {
			return fmt.Errorf("--%s: %w", flag, err)
		}
		return nil
	}
	for _, s := range []struct {
		flag string
		key  profileconfig.Key
		v    any
	}{
		{"isl", profileconfig.KeySLAISL, json.Number(fmt.Sprint(o.ISL))},
		{"osl", profileconfig.KeySLAOSL, json.Number(fmt.Sprint(o.OSL))},
		{"ttft", profileconfig.KeySLATTFT, json.Number(fmt.Sprint(o.TTFT))},
		{"itl", profileconfig.KeySLAITL, json.Number(fmt.Sprint(o.ITL))},
		{"system", profileconfig.KeySweepAICSystem, o.System},
		{"min-gpus", profileconfig.KeyHardwareMinGPUs, json.Number(fmt.Sprint(o.MinGPUs))},
		{"max-gpus", profileconfig.KeyHardwareMaxGPUs, json.Number(fmt.Sprint(o.MaxGPUs))},
		{"gpus-per-node", profileconfig.KeyHardwareGPUsPerNode, json.Number(fmt.Sprint(o.GPUsPerNode))},
	} {
		if err := set(s.flag, s.key, s.v); err != nil {
			return nil, err
		}
	}
	if o.changed["system"] {
		// One system wins: the flag replaces the other spellings' values.
		for _, k := range []profileconfig.Key{profileconfig.KeyAICSystem, profileconfig.KeyHardwareSystem} {
			if _, _, ok := cfg.Lookup(k); ok {
				if err := cfg.Set(k, o.System); err != nil {
					return nil, err
				}
			}
		}
	}
	j, err := cfg.JSON()
	if err != nil {
		return nil, err
	}
	dgdr.Spec.ProfilingConfig.Config = j
	return req, nil
}

const maxInputBytes = 4 << 20

// readInput reads the file a flag names; - is stdin.
func (o *Options) readInput(flag, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		if o.In == nil {
			return nil, fmt.Errorf("%s -: no standard input", flag)
		}
		r = o.In
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, name, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, name, err)
	}
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("%s %s: larger than %d bytes; is it really the file you meant?", flag, name, maxInputBytes)
	}
	return data, nil
}

// DecodeRequest parses one DGDR of either version from YAML or JSON,
// strictly: unknown typed fields are errors (the free-form config keeps any
// key). A v1beta1 object gets its CRD defaults, as the API server gives
// them, and is converted to the internal form.
func DecodeRequest(data []byte) (*Request, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty input: expected a DynamoGraphDeploymentRequest")
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("not a valid DynamoGraphDeploymentRequest: %w", util.YAMLError(data, err))
	}
	if tm.Kind != v1alpha1.DGDRKind {
		return nil, fmt.Errorf("kind %q: expected kind: DynamoGraphDeploymentRequest", tm.Kind)
	}
	switch tm.APIVersion {
	case v1alpha1.GroupVersion.String():
		var d v1alpha1.DynamoGraphDeploymentRequest
		if err := yaml.UnmarshalStrict(data, &d); err != nil {
			return nil, fmt.Errorf("not a valid nvidia.com/v1alpha1 DynamoGraphDeploymentRequest: %w", err)
		}
		return &Request{DGDR: &d}, nil
	case v1beta1.GroupVersion.String():
		var b v1beta1.DynamoGraphDeploymentRequest
		if err := yaml.UnmarshalStrict(data, &b); err != nil {
			return nil, fmt.Errorf("not a valid nvidia.com/v1beta1 DynamoGraphDeploymentRequest: %w", err)
		}
		v1beta1.SetDefaults(&b)
		d, err := admission.Internal(&b)
		if err != nil {
			return nil, err
		}
		return &Request{DGDR: d, Hub: &b}, nil
	}
	return nil, fmt.Errorf("apiVersion %q is not a DynamoGraphDeploymentRequest version kubectl-dgdr reads: use nvidia.com/v1beta1 (Dynamo 1.0 and later) or nvidia.com/v1alpha1", tm.APIVersion)
}

// knownAICVersions are the TensorRT-LLM versions the seed lists for AI
// Configurator; an unknown one fails as AIC's database lookup does.
var knownAICVersions = map[string]bool{"0.20.0": true, "1.0.0rc3": true, "1.0.0rc6": true}

// prepare defaults and validates the DGDR (pkg/admission, the webhook's
// rules, with the defaults and field names of the request's version), fills
// what profiling needs and the request leaves out, resolves the model and
// the GPU, and builds the profiler config.
func (o *Options) prepare(req *Request) (*job, error) {
	dgdr := req.DGDR
	j := &job{dgdr: dgdr}
	if err := o.readRecipe(req, j); err != nil {
		return nil, err
	}
	warns, err := admission.Default(dgdr)
	if err != nil {
		return nil, err
	}
	j.warnings = append(j.warnings, admission.HubPathsIf(req.Hub != nil, warns)...)
	sla := admission.V1alpha1SLADefaults
	if req.Hub != nil {
		sla = admission.V1beta1SLADefaults
	}
	warns, err = admission.ForProfiling(dgdr, admission.ProfilingOptions{SLA: sla, Local: true, Paths: req.paths})
	if err != nil {
		return nil, err
	}
	j.warnings = append(j.warnings, warns...)
	if img := &dgdr.Spec.ProfilingConfig.ProfilerImage; *img == "" && req.Hub == nil {
		// A local profile runs no image; the webhook asks for one at create.
		*img = images.Runtime(dgdr.Spec.Backend)
		if !o.flagsMode() {
			j.warnings = append(j.warnings, fmt.Sprintf("spec.profilingConfig.profilerImage is not set: a local profile runs no image, "+
				"but the cluster needs one before kubectl dgdr create, e.g. %s", *img))
		}
	}
	warns, errs := admission.ValidateAs(dgdr, req.Hub)
	j.warnings = append(j.warnings, warns...)
	if len(errs) > 0 {
		return nil, admission.InvalidError(dgdr.Name, errs)
	}
	if o.flagsMode() {
		for i, w := range j.warnings {
			j.warnings[i] = util.FlagText(w)
		}
	}
	for _, w := range j.warnings {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
	}
	cfg, err := profileconfig.FromJSON(dgdr.Spec.ProfilingConfig.Config)
	if err != nil {
		return nil, fmt.Errorf("spec.profilingConfig.config: %w", err)
	}
	s, ferrs := cfg.Settings()
	if len(ferrs) > 0 {
		return nil, admission.InvalidError(dgdr.Name, ferrs)
	}
	j.settings = s

	model, err := o.lookupModel(s)
	if err != nil {
		return nil, err
	}
	sysName := s.System
	if sysName == "" {
		if s.UseAIC && req.Hub == nil {
			return nil, errors.New("Must provide --aic-system when using --use-ai-configurator: set spec.profilingConfig.config.sweep.aicSystem (or aic.system, or --system) to one of " +
				strings.Join(estimator.Systems(), ", "))
		}
		sysName = defaultLocalSystem
		w := fmt.Sprintf("no GPU system is set (sweep.aicSystem, aic.system, hardware.system or --system); simulating %s", sysName)
		switch {
		case o.flagsMode():
			w = fmt.Sprintf("no GPU system is set (--system); simulating %s", sysName)
		case req.Hub != nil:
			w = fmt.Sprintf("no GPU is set (spec.hardware.gpuSku or --system) and no cluster is there to discover one; simulating %s", sysName)
		}
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
		j.warnings = append(j.warnings, w)
	}
	backend := cmp.Or(s.AICBackend, s.Backend, dgdr.Spec.Backend)
	if v := s.AICBackendVersion; v != "" && backend == "trtllm" && !knownAICVersions[v] {
		return nil, fmt.Errorf("Database not found for system: %s, backend: %s, version: %s; set sweep.aicBackendVersion to one of 0.20.0, 1.0.0rc3, 1.0.0rc6 or remove it", sysName, backend, v)
	}
	setup, err := profiler.NewSetup(dgdr, s, model, sysName, 0)
	if err != nil {
		return nil, err
	}
	j.est = setup.Estimator
	j.cfg = setup.Config
	j.cfg.DryRun = o.DryRun == cmdutil.DryRunClient || s.DryRun
	j.cfg.InterpolateAll = true
	j.cfg.Selection = o.Selection
	return j, nil
}

// lookupModel resolves the model: --model-config, else the built-in catalog
// by HF id (or sweep.aicHfId), else by the AI Configurator model name.
func (o *Options) lookupModel(s profileconfig.Settings) (*estimator.Model, error) {
	if o.ModelConfig != "" {
		m, err := estimator.LoadModelConfig(o.ModelConfig)
		if err != nil {
			return nil, fmt.Errorf("--model-config: %w", err)
		}
		if s.Model != "" {
			m.HFID = s.Model
		}
		return m, nil
	}
	return profiler.LookupModel(s)
}

// runWhatIf is --from: re-select from saved measurements and re-render.
func (o *Options) runWhatIf() error {
	data, err := o.readInput("--from", o.From)
	if err != nil {
		return err
	}
	r := &results.Results{}
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("--from %s: not a results.json: %w", o.From, err)
	}
	if r.SchemaVersion != results.SchemaVersion {
		return fmt.Errorf("--from %s: schemaVersion %q, expected %q", o.From, r.SchemaVersion, results.SchemaVersion)
	}
	ttft, itl := r.Input.SLA.TTFT, r.Input.SLA.ITL
	if o.changed["ttft"] {
		ttft = o.TTFT
	}
	if o.changed["itl"] {
		itl = o.ITL
	}
	if o.changed["selection"] {
		switch {
		case o.Selection == results.RuleUpstream:
			profiler.DropFrontier(r)
		case r.Frontier == nil:
			return fmt.Errorf("--from %s: these results were profiled with --selection=upstream and hold no SLA frontier, and a what-if measures nothing; run profile again with --selection=frontier", o.From)
		}
	}
	log := profiler.NewLogger(o.Clock.Now)
	log.Infof("What-if from %s: TTFT %s ms, ITL %s ms (no new measurement)", o.From, fmt.Sprint(ttft), fmt.Sprint(itl))
	if err := profiler.Reselect(r, ttft, itl, log); err != nil {
		return fmt.Errorf("--from %s: %w", o.From, err)
	}
	dgdr, err := syntheticDGDR(r)
	if err != nil {
		return fmt.Errorf("--from %s: %w", o.From, err)
	}
	cfg, err := profileconfig.FromJSON(dgdr.Spec.ProfilingConfig.Config)
	if err != nil {
		return err
	}
	s, ferrs := cfg.Settings()
	if len(ferrs) > 0 {
		return admission.InvalidError(dgdr.Name, ferrs)
	}
	files, err := output.Write(o.OutputDir, r, output.Inputs{DGDR: dgdr, Settings: s, Log: log.Bytes(), NoPlots: o.NoPlots, Now: o.Clock.Now(),
		FollowSymlinks: o.FollowSymlinks})
	if err != nil {
		return fmt.Errorf("writing outputs: %w", err)
	}
	return o.print(r, files)
}

// syntheticDGDR rebuilds a DGDR from the results' input for the outputs.
func syntheticDGDR(r *results.Results) (*v1alpha1.DynamoGraphDeploymentRequest, error) {
	d := &v1alpha1.DynamoGraphDeploymentRequest{}
	d.APIVersion = v1alpha1.GroupVersion.String()
	d.Kind = "DynamoGraphDeploymentRequest"
	d.Name = cmp.Or(r.Input.Name, flagsModeName)
	d.Namespace = r.Input.Namespace
	d.Spec.Model = r.Input.Model
	d.Spec.Backend = r.Input.Backend
	d.Spec.ProfilingConfig.ProfilerImage = images.Runtime(r.Input.Backend)
	cfg := map[string]any{
		"deployment": map[string]any{"model": r.Input.Model},
		"engine":     map[string]any{"backend": r.Input.Backend},
		"hardware":   map[string]any{"numGpusPerNode": r.Input.GPUsPerNode},
		"sla": map[string]any{"isl": r.Input.SLA.ISL, "osl": r.Input.SLA.OSL,
			"ttft": r.Input.SLA.TTFT, "itl": r.Input.SLA.ITL},
	}
	if r.Input.System != "" {
		cfg["sweep"] = map[string]any{"aicSystem": r.Input.System}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the results' input as a profiling config: %w", err)
	}
	c, err := profileconfig.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the results' input is not a valid profiling config: %w", err)
	}
	if d.Spec.ProfilingConfig.Config, err = c.JSON(); err != nil {
		return nil, err
	}
	return d, nil
}
