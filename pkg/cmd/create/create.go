// Package create is `kubectl dgdr create`: a DGDR from -f (file, folder or
// stdin) or from flags, validated on the client with the shared admission
// rules, then created (or dry-run) and printed.
package create

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/spf13/cobra"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/cli-runtime/pkg/resource"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/admission"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/clientgetter"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/images"
)

var (
	createLong = templates.LongDesc(`
		Create a DynamoGraphDeploymentRequest (DGDR) from a file, a folder, stdin or flags.

		The request is defaulted and validated on the client with the same rules the
		admission webhook runs, so mistakes show up before anything is sent. Warnings
		returned by admission are printed to stderr. With --dry-run=client nothing is
		sent to the cluster; with --dry-run=server the API server and the webhook check
		it without storing it.`)

	createExample = templates.Examples(`
		# Create the DGDRs of a file or a folder
		%[1]s create -f examples/vllm-dense-online.yaml
		%[1]s create -f examples/

		# Create one from flags, to be profiled in simulation mode
		%[1]s create qwen --model Qwen/Qwen3-0.6B --backend vllm --isl 3000 --osl 150 --ttft 200 --itl 20 --simulate

		# Print the manifest without touching the cluster
		%[1]s create qwen --model Qwen/Qwen3-0.6B --isl 3000 --osl 150 --ttft 200 --itl 20 --dry-run=client -o yaml

		# Let the API server and the webhook check it without storing it
		cat dgdr.yaml | %[1]s create -f - --dry-run=server`)
)

// Flags are the values that build a DGDR without a file.
type Flags struct {
	Model         string
	Backend       string
	ISL, OSL      int64
	TTFT, ITL     float64
	ProfilerImage string
	WorkersImage  string
	Simulate      bool
	// System is the GPU system to simulate (--system; --aic-system is
	// its deprecated spelling).
	System      string
	MinGPUs     int64
	MaxGPUs     int64
	GPUsPerNode int64
	AutoApply   bool
	// Given holds the SLA flags set on the command line: --ttft 0 is an
	// error to report, an absent --ttft is left to admission's defaults.
	Given map[string]bool
}

// Options is one create run.
type Options struct {
	PrintFlags      *genericclioptions.PrintFlags
	FilenameOptions resource.FilenameOptions
	Flags           Flags
	FieldManager    string
	Name            string

	getter    clientgetter.ClientGetter
	namespace string
	enforceNS bool
	dryRun    cmdutil.DryRunStrategy
	printer   printers.ResourcePrinter
	genericiooptions.IOStreams
}

// NewOptions sets the defaults.
func NewOptions(getter clientgetter.ClientGetter, streams genericiooptions.IOStreams) *Options {
	return &Options{
		PrintFlags:   genericclioptions.NewPrintFlags("created").WithTypeSetter(getter.Scheme()),
		FieldManager: cluster.FieldManager,
		Flags:        Flags{Backend: v1alpha1.BackendVLLM},
		getter:       getter,
		IOStreams:    streams,
	}
}

// NewCmd builds `create`.
func NewCmd(flags genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	getter := clientgetter.New(flags, streams.ErrOut)
	o := NewOptions(getter, streams)
	cmd := &cobra.Command{
		Use:                   "create [NAME --model MODEL --isl N --osl N --ttft MS --itl MS | -f FILENAME] [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "Create a DynamoGraphDeploymentRequest from a file or from flags",
		Long:                  createLong,
		Example:               fmt.Sprintf(createExample, "kubectl dgdr"),
		Args:                  cobra.MaximumNArgs(1),
		ValidArgsFunction:     cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(cmd); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	o.PrintFlags.AddFlags(cmd)
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "the DynamoGraphDeploymentRequest(s) to create")
	util.AddDryRunFlag(cmd, &o.dryRun, true, "none, client or server: client prints the DGDR without sending it, server lets the API server and the webhook check it without storing it; a bare --dry-run is client")
	cmdutil.AddFieldManagerFlagVar(cmd, &o.FieldManager, cluster.FieldManager)
	f := cmd.Flags()
	f.StringVar(&o.Flags.Model, "model", "", "Model to deploy: a Hugging Face id or served name (spec.model)")
	f.StringVar(&o.Flags.Backend, "backend", o.Flags.Backend, "Inference engine: vllm, sglang or trtllm (spec.backend)")
	f.Int64Var(&o.Flags.ISL, "isl", 0, "Input sequence length in tokens (sla.isl)")
	f.Int64Var(&o.Flags.OSL, "osl", 0, "Output sequence length in tokens (sla.osl)")
	f.Float64Var(&o.Flags.TTFT, "ttft", 0, "Time-to-first-token target in ms (sla.ttft)")
	f.Float64Var(&o.Flags.ITL, "itl", 0, "Inter-token latency target in ms (sla.itl)")
	f.StringVar(&o.Flags.ProfilerImage, "profiler-image", "", "Profiler image (default: the backend's Dynamo runtime image)")
	f.StringVar(&o.Flags.WorkersImage, "workers-image", "", "Image of the deployed workers (deploymentOverrides.workersImage)")
	f.BoolVar(&o.Flags.Simulate, "simulate", false, "Profile with the analytic estimator instead of real engines (sweep.useAiConfigurator)")
	f.StringVar(&o.Flags.System, "system", "", "GPU system for simulation, e.g. h100_sxm (sweep.aicSystem; implies --simulate)")
	f.StringVar(&o.Flags.System, "aic-system", "", "GPU system for simulation (sweep.aicSystem)")
	// Hidden, and warned about on stderr in Complete: cobra would print
	// pflag's deprecation line on stdout, into -o yaml.
	_ = f.MarkHidden("aic-system")
	f.Int64Var(&o.Flags.MinGPUs, "min-gpus", 0, "Fewest GPUs per engine to sweep (hardware.minNumGpusPerEngine)")
	f.Int64Var(&o.Flags.MaxGPUs, "max-gpus", 0, "Most GPUs per engine to sweep (hardware.maxNumGpusPerEngine)")
	f.Int64Var(&o.Flags.GPUsPerNode, "gpus-per-node", 0, "GPUs per node (hardware.numGpusPerNode; default: discovered when the DGDR is profiled)")
	f.BoolVar(&o.Flags.AutoApply, "auto-apply", false, "Deploy the result once profiling succeeds (spec.autoApply)")
	_ = cmd.RegisterFlagCompletionFunc("backend", fixed(v1alpha1.Backends...))
	_ = cmd.RegisterFlagCompletionFunc("system", fixed(estimator.Systems()...))
	_ = cmd.RegisterFlagCompletionFunc("model", util.CompleteModels)
	return cmd
}

func fixed(vals ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// Complete reads the namespace and the dry-run strategy and builds the printer.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	var err error
	if o.namespace, o.enforceNS, err = o.getter.ToRawKubeConfigLoader().Namespace(); err != nil {
		return err
	}
	if cmd.Flags().Changed("aic-system") {
		fmt.Fprintln(o.ErrOut, "Warning: --aic-system is deprecated; use --system, as profile and estimate do")
	}
	cmdutil.PrintFlagsWithDryRunStrategy(o.PrintFlags, o.dryRun)
	o.printer, err = o.PrintFlags.ToPrinter()
	return err
}

// buildFlagsSet lists the DGDR flags the user set.
func buildFlagsSet(cmd *cobra.Command) []string {
	var set []string
	for _, n := range []string{"model", "backend", "isl", "osl", "ttft", "itl", "profiler-image", "workers-image",
		"simulate", "system", "aic-system", "min-gpus", "max-gpus", "gpus-per-node", "auto-apply"} {
		if cmd.Flags().Changed(n) {
			set = append(set, "--"+n)
		}
	}
	return set
}

// Validate checks that exactly one input was given.
func (o *Options) Validate(cmd *cobra.Command) error {
	files := len(o.FilenameOptions.Filenames) > 0
	set := buildFlagsSet(cmd)
	switch {
	case files && (o.Name != "" || len(set) > 0):
		return fmt.Errorf("give either -f or NAME with flags, not both (got -f and %s)", strings.Join(append([]string{o.Name}, set...), " "))
	case files:
		return o.FilenameOptions.RequireFilenameOrKustomize()
	case o.Name == "":
		return fmt.Errorf("a NAME is required when creating from flags, e.g. kubectl dgdr create qwen --model Qwen/Qwen3-0.6B ...; or pass -f FILE")
	case o.Flags.Model == "":
		return fmt.Errorf("--model is required when creating from flags, e.g. --model Qwen/Qwen3-0.6B")
	}
	for flag, ms := range map[string]float64{"ttft": o.Flags.TTFT, "itl": o.Flags.ITL} {
		if math.IsNaN(ms) || math.IsInf(ms, 0) {
			return fmt.Errorf("--%s %v is not a latency: pass a positive number of milliseconds, e.g. --%s 200", flag, ms, flag)
		}
	}
	o.Flags.Given = map[string]bool{}
	for _, n := range []string{"isl", "osl", "ttft", "itl"} {
		o.Flags.Given[n] = cmd.Flags().Changed(n)
	}
	return nil
}

// Build is the DGDR the flags describe (camelCase keys, the spelling the
// profiler prefers).
func Build(f Flags, name, namespace string) (*v1alpha1.DynamoGraphDeploymentRequest, error) {
	// Only what was given: admission warns about the SLA left out.
	sla := map[string]any{}
	for k, v := range map[string]float64{"isl": float64(f.ISL), "osl": float64(f.OSL), "ttft": f.TTFT, "itl": f.ITL} {
		if v != 0 || f.Given[k] {
			sla[k] = v
		}
	}
	cfg := map[string]any{"sla": sla}
	hw := map[string]any{}
	if f.GPUsPerNode > 0 {
		hw["numGpusPerNode"] = f.GPUsPerNode
	}
	if f.MinGPUs > 0 {
		hw["minNumGpusPerEngine"] = f.MinGPUs
	}
	if f.MaxGPUs > 0 {
		hw["maxNumGpusPerEngine"] = f.MaxGPUs
	}
	if len(hw) > 0 {
		cfg["hardware"] = hw
	}
	if f.Simulate || f.System != "" {
		sweep := map[string]any{"useAiConfigurator": true}
		if f.System != "" {
			sweep["aicSystem"] = strings.ToLower(f.System)
		}
		cfg["sweep"] = sweep
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	img := f.ProfilerImage
	if img == "" {
		img = images.Runtime(f.Backend)
	}
	d := &v1alpha1.DynamoGraphDeploymentRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.DGDRKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{
			Model: f.Model, Backend: f.Backend, AutoApply: f.AutoApply,
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{ProfilerImage: img, Config: &apiextensionsv1.JSON{Raw: raw}},
		},
	}
	if f.WorkersImage != "" {
		d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{WorkersImage: f.WorkersImage}
	}
	return d, nil
}

// Run builds, validates and creates every DGDR.
func (o *Options) Run(cmd *cobra.Command) error {
	b := o.getter.NewBuilder().
		WithScheme(o.getter.Scheme(), v1alpha1.GroupVersion, v1beta1.GroupVersion).
		LocalParam(o.dryRun == cmdutil.DryRunClient).
		ContinueOnError().
		NamespaceParam(o.namespace).DefaultNamespace()
	if o.Name != "" {
		d, err := Build(o.Flags, o.Name, o.namespace)
		if err != nil {
			return err
		}
		// Flags are checked before anything reaches the cluster, and
		// their errors name the flags.
		if err := validate(d.DeepCopy(), nil); err != nil {
			return util.FlagErrors(err)
		}
		y, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		b = b.Stream(bytes.NewReader(y), "flags")
	} else {
		b = b.FilenameParam(o.enforceNS, &o.FilenameOptions)
	}
	r := b.Flatten().Do()
	if err := r.Err(); err != nil {
		return util.TranslateError(util.YAMLError(nil, err), util.Target{Verb: "create", Namespace: o.namespace})
	}
	count := 0
	err := r.Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		count++
		return o.createOne(cmd, info)
	})
	if err != nil {
		return util.TranslateError(util.YAMLError(nil, err), util.Target{Verb: "create", Namespace: o.namespace})
	}
	if count == 0 {
		return fmt.Errorf("no DynamoGraphDeploymentRequest found in %v", o.FilenameOptions.Filenames)
	}
	return nil
}

// createOne validates one DGDR with the rules of its version and creates
// it as written (the API server converts it to the version it stores).
func (o *Options) createOne(cmd *cobra.Command, info *resource.Info) error {
	var obj interface {
		runtime.Object
		metav1.Object
	}
	var warns []string
	var check func() error
	switch d := info.Object.(type) {
	case *v1alpha1.DynamoGraphDeploymentRequest:
		obj, check = d, func() error { return validate(d, &warns) }
	case *v1beta1.DynamoGraphDeploymentRequest:
		obj, check = d, func() error { return validateV1beta1(d, &warns) }
	default:
		gvk := info.Object.GetObjectKind().GroupVersionKind()
		return fmt.Errorf("%s: only DynamoGraphDeploymentRequest objects (nvidia.com/v1beta1 or nvidia.com/v1alpha1) can be created, got %s %s",
			info.Source, gvk.GroupVersion(), gvk.Kind)
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(cmp.Or(info.Namespace, o.namespace))
	}
	if err := check(); err != nil {
		return err
	}
	d := obj
	if o.dryRun == cmdutil.DryRunClient {
		for _, w := range warns {
			fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
		}
		return o.printer.PrintObj(d, o.Out)
	}
	created, err := resource.NewHelper(info.Client, info.Mapping).
		DryRun(o.dryRun == cmdutil.DryRunServer).
		WithFieldManager(o.FieldManager).
		WithFieldValidation("Strict").
		Create(d.GetNamespace(), true, d)
	if err != nil {
		return util.TranslateError(err, util.Target{Verb: "create", Name: d.GetName(), Namespace: d.GetNamespace()})
	}
	if err := info.Refresh(created, true); err != nil {
		return err
	}
	return o.printer.PrintObj(info.Object, o.Out)
}

// validateV1beta1 runs the webhook's v1beta1 rules on a copy of d with the
// CRD's defaults, as the API server would see it; d itself is sent as written.
func validateV1beta1(d *v1beta1.DynamoGraphDeploymentRequest, warnings *[]string) error {
	c := d.DeepCopy()
	v1beta1.SetDefaults(c)
	ws, errs := admission.ValidateV1beta1(c)
	if len(errs) > 0 {
		return admission.InvalidError(d.Name, errs)
	}
	*warnings = append(*warnings, ws...)
	return nil
}

// validate runs the webhook's injection and validation on d in place.
func validate(d *v1alpha1.DynamoGraphDeploymentRequest, warnings *[]string) error {
	w1, err := admission.Default(d)
	if err != nil {
		return err
	}
	w2, errs := admission.Validate(d)
	if len(errs) > 0 {
		return admission.InvalidError(d.Name, errs)
	}
	if warnings != nil {
		*warnings = append(append(*warnings, w1...), w2...)
	}
	return nil
}
