// Package status is `kubectl dgdr status`: a table of DGDRs, or one DGDR's
// sectioned view (SLA, hardware, sweep, recommendation, conditions, DGD,
// next step), optionally redrawn on change with -w.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/clientgetter"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
)

var (
	statusLong = templates.LongDesc(`
		Show DynamoGraphDeploymentRequests.

		Without a name, a table of the namespace's DGDRs (all namespaces with -A) with
		the chosen prefill and decode engines. With a name, the request in sections:
		the SLA, the hardware found, the sweep with the chosen points marked, the
		recommendation, the conditions, the generated DynamoGraphDeployment and the
		next step; -o wide is the same (for a list it adds the SLA columns).

		-o json, yaml, name, jsonpath and go-template print the DynamoGraphDeploymentRequest
		objects themselves, as kubectl get does. -o view-json and -o view-yaml print the
		detail view's data as one object.`)

	statusExample = templates.Examples(`
		# List the DGDRs of the current namespace, or of all namespaces
		%[1]s status
		%[1]s status -A

		# Show one in detail, and redraw it as it changes
		%[1]s status qwen
		%[1]s status qwen -w

		# The object, as kubectl get prints it, or one field of it
		%[1]s status qwen -o yaml
		%[1]s status qwen -o jsonpath='{.status.state}'

		# The detail view's data, for scripts
		%[1]s status qwen -o view-json`)
)

// Options is one status run.
type Options struct {
	Name          string
	AllNamespaces bool
	Watch         bool
	Timeout       time.Duration
	NoHeaders     bool
	PrintFlags    *genericclioptions.PrintFlags
	Color         util.ColorMode
	Interval      time.Duration

	getter    clientgetter.ClientGetter
	clock     clock.PassiveClock
	namespace string
	color     bool
	client    client.WithWatch
	// printer prints the objects (-o json, yaml, name, ...); nil for the
	// table and the view, which the command draws itself.
	printer printers.ResourcePrinter
	genericiooptions.IOStreams
}

// The -o values status draws itself, besides kubectl's printers.
const (
	outputWide     = "wide"
	outputViewJSON = "view-json"
	outputViewYAML = "view-yaml"
)

// NewCmd builds `status`.
func NewCmd(flags genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams, clk clock.PassiveClock) *cobra.Command {
	getter := clientgetter.New(flags, streams.ErrOut)
	o := &Options{getter: getter, clock: clk, IOStreams: streams, Color: util.ColorAuto, Interval: time.Second,
		PrintFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(getter.Scheme())}
	cmd := &cobra.Command{
		Use:                   "status [NAME] [-A] [-w] [-o wide|json|yaml|name|view-json|...] [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "Show DynamoGraphDeploymentRequests: a table, or one in detail",
		Long:                  statusLong,
		Example:               fmt.Sprintf(statusExample, "kubectl dgdr"),
		Args:                  cobra.MaximumNArgs(1),
		ValidArgsFunction:     util.CompleteDGDRNames(o.getter),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List DGDRs of every namespace")
	f.BoolVarP(&o.Watch, "watch", "w", false, "Redraw the view whenever it changes (a line per change when not a terminal)")
	f.DurationVar(&o.Timeout, "timeout", 0, "With -w, stop after this long (0 waits until interrupted)")
	f.BoolVar(&o.NoHeaders, "no-headers", false, "Omit the table header")
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format. One of: (" + strings.Join(outputFormats(o.PrintFlags), ", ") +
		"). Without it, the table or the detail view; json, yaml, name, jsonpath and go-template print the objects; view-json and view-yaml the view's data"
	util.AddColorFlag(cmd, &o.Color)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats(o.PrintFlags), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete resolves the namespace, the client and the colour decision.
func (o *Options) Complete(args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	var err error
	if o.namespace, err = o.getter.Namespace(); err != nil {
		return err
	}
	if o.clock == nil {
		o.clock = clock.RealClock{}
	}
	o.color = o.Color.Enabled(o.Out)
	switch *o.PrintFlags.OutputFormat {
	case "", outputWide, outputViewJSON, outputViewYAML:
	default:
		if o.printer, err = util.ToPrinter(o.PrintFlags, outputWide, outputViewJSON, outputViewYAML); err != nil {
			return err
		}
	}
	o.client, err = o.getter.Client()
	return err
}

// outputFormats are status's own -o values and kubectl's printers'.
func outputFormats(f *genericclioptions.PrintFlags) []string {
	return append([]string{outputWide, outputViewJSON, outputViewYAML}, f.AllowedFormats()...)
}

func (o *Options) output() string {
	if o.PrintFlags == nil || o.PrintFlags.OutputFormat == nil {
		return ""
	}
	return *o.PrintFlags.OutputFormat
}

// Validate checks flag combinations.
func (o *Options) Validate() error {
	if o.Name == "" && (o.output() == outputViewJSON || o.output() == outputViewYAML) {
		return fmt.Errorf("-o %s prints one DGDR's detail view: pass a NAME, or use -o json|yaml for the list", o.output())
	}
	if o.Name != "" && o.AllNamespaces {
		return fmt.Errorf("a NAME and -A cannot be combined: pass -n NAMESPACE with the name")
	}
	if o.Watch && o.Name == "" {
		return fmt.Errorf("-w needs a NAME: kubectl dgdr status NAME -w")
	}
	return nil
}

// Run prints the list or the view.
func (o *Options) Run(ctx context.Context) error {
	if o.Name == "" {
		return o.list(ctx)
	}
	if !o.Watch {
		d, err := o.get(ctx)
		if err != nil {
			return err
		}
		return o.printOne(ctx, d)
	}
	return o.watch(ctx)
}

func (o *Options) target() util.Target {
	return util.Target{Verb: "status", Name: o.Name, Namespace: o.namespace}
}

func (o *Options) list(ctx context.Context) error {
	var list v1alpha1.DynamoGraphDeploymentRequestList
	ns := o.namespace
	if o.AllNamespaces {
		ns = ""
	}
	if err := o.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return util.TranslateError(err, o.target())
	}
	if o.printer != nil {
		return o.printer.PrintObj(&list, o.Out)
	}
	rows, errs := Summaries(ctx, o.client, list.Items, ns)
	if len(rows) == 0 {
		if o.AllNamespaces {
			fmt.Fprintln(o.ErrOut, "No DynamoGraphDeploymentRequests found.")
		} else {
			fmt.Fprintf(o.ErrOut, "No DynamoGraphDeploymentRequests found in %s namespace.\n", ns)
		}
		return nil
	}
	t := Table(rows, o.clock.Now())
	p := printers.NewTablePrinter(printers.PrintOptions{NoHeaders: o.NoHeaders, WithNamespace: o.AllNamespaces, Wide: o.output() == outputWide})
	if err := p.PrintObj(t, o.Out); err != nil {
		return err
	}
	for _, e := range errs {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", e)
	}
	return nil
}

func (o *Options) get(ctx context.Context) (*v1alpha1.DynamoGraphDeploymentRequest, error) {
	var d v1alpha1.DynamoGraphDeploymentRequest
	if err := o.client.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.Name}, &d); err != nil {
		return nil, util.TranslateError(err, o.target())
	}
	return &d, nil
}

// printOne prints one DGDR: the object with -o json|yaml|name|..., the
// view's data with -o view-json|view-yaml, the view otherwise.
func (o *Options) printOne(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest) error {
	if o.printer != nil {
		return o.printer.PrintObj(d, o.Out)
	}
	return o.printView(d, Gather(ctx, o.client, d))
}

// printView prints d, or its gathered view v, as -o asks.
func (o *Options) printView(d *v1alpha1.DynamoGraphDeploymentRequest, v *View) error {
	switch {
	case o.printer != nil:
		return o.printer.PrintObj(d, o.Out)
	case o.output() == outputViewJSON || o.output() == outputViewYAML:
		return o.marshal(v)
	}
	return PrintView(o.Out, v, o.clock.Now(), o.color)
}

func (o *Options) marshal(v any) error {
	var (
		b   []byte
		err error
	)
	if o.output() == outputViewJSON {
		b, err = json.MarshalIndent(v, "", "    ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = o.Out.Write(b)
	return err
}

// watch redraws on a TTY (clear and home), and prints one
// "<State> - <message>" line per change otherwise. It redraws as soon as
// the API server reports a change to the DGDR, and every Interval for the
// parts of the view that live in other objects (the DGD, the results). It
// stops on Failed (non-zero exit), on --timeout or on interrupt.
func (o *Options) watch(ctx context.Context) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	changed := cluster.Changes(ctx, o.client, &v1alpha1.DynamoGraphDeploymentRequestList{},
		client.ObjectKey{Namespace: o.namespace, Name: o.Name}, func(err error) {
			fmt.Fprintf(o.ErrOut, "Warning: cannot watch DynamoGraphDeploymentRequest %s/%s (%v); redrawing every %s instead\n",
				o.namespace, o.Name, err, o.Interval)
		})
	drawn := o.output() == "" || o.output() == outputWide
	tty := printers.IsTerminal(o.Out) && drawn
	var last *View
	lastLine := ""
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		var v *View
		d, err := o.get(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if d != nil {
			v = Gather(ctx, o.client, d)
		}
		if v != nil {
			changed := last == nil || !reflect.DeepEqual(last, v)
			switch {
			case tty && changed:
				fmt.Fprint(o.Out, "\x1b[H\x1b[2J")
				if err := o.printView(d, v); err != nil {
					return err
				}
			case !drawn && changed:
				if err := o.printView(d, v); err != nil {
					return err
				}
			case !tty && drawn:
				if line := stateLine(v); line != lastLine {
					fmt.Fprintln(o.Out, line)
					lastLine = line
				}
			}
			last = v
			if v.State == string(v1alpha1.StateFailed) {
				return fmt.Errorf("DynamoGraphDeploymentRequest %s/%s failed: %s", v.Namespace, v.Name, lastMessage(v))
			}
		}
		select {
		case <-ctx.Done():
			if o.Timeout > 0 && ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("timed out after %s watching DynamoGraphDeploymentRequest %s/%s (state %s)", o.Timeout, o.namespace, o.Name, stateOf(last))
			}
			return nil
		case <-tick.C:
		case <-changed:
		}
	}
}

func stateOf(v *View) string {
	if v == nil {
		return "unknown"
	}
	return v.State
}

func stateLine(v *View) string {
	line := v.State
	if m := lastMessage(v); m != "" {
		line += " - " + m
	}
	if d := v.Deployment; d != nil && d.Applied {
		line += fmt.Sprintf(" (DGD %s: %s)", d.Name, dash(d.State))
	}
	return line
}

// lastMessage is the message of the most recently changed condition.
func lastMessage(v *View) string {
	var best *metav1.Condition
	for i := range v.Conditions {
		c := &v.Conditions[i]
		if best == nil || !c.LastTransitionTime.Before(&best.LastTransitionTime) {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return util.Escape(best.Message)
}

func runtimeObject(o runtime.Object) runtime.RawExtension { return runtime.RawExtension{Object: o} }
