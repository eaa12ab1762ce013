// Package models is `kubectl dgdr models`: the built-in model catalog that
// --model of profile, estimate and create resolves against.
package models

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
)

var (
	modelsLong = templates.LongDesc(`
		List the models of the built-in catalog: the ids --model accepts in profile, estimate
		and create (the Hugging Face id, the AI Configurator id or an alias; case, dots, dashes
		and underscores do not matter), with what the estimator knows of each.

		A model outside the catalog is profiled or estimated from its Hugging Face
		config.json with --model-config.`)

	modelsExample = templates.Examples(`
		# Every catalog model
		kubectl dgdr models

		# With the aliases each id also answers to
		kubectl dgdr models -o wide

		# Only the Hugging Face ids, for scripts
		kubectl dgdr models -o name

		# The catalog as JSON
		kubectl dgdr models -o json`)
)

// Options is one models run.
type Options struct {
	PrintFlags *genericclioptions.PrintFlags
	NoHeaders  bool

	printer printers.ResourcePrinter
	genericiooptions.IOStreams
}

// Model is one catalog entry, as -o json|yaml prints it.
type Model struct {
	Model        string   `json:"model"`
	AICName      string   `json:"aicName,omitempty"`
	Architecture string   `json:"architecture"`
	MoE          bool     `json:"moe"`
	Sweep        string   `json:"sweep"`
	MaxContext   int      `json:"maxContext"`
	WeightDtype  string   `json:"weightDtype"`
	Aliases      []string `json:"aliases,omitempty"`
}

// NewCmd builds `models`.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams, PrintFlags: util.NewDataPrintFlags()}
	cmd := &cobra.Command{
		Use:                   "models [-o wide|name|json|yaml]",
		DisableFlagsInUseLine: true,
		Short:                 "List the built-in model catalog (the ids --model accepts)",
		Long:                  modelsLong,
		Example:               modelsExample,
		Args:                  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.NoHeaders, "no-headers", false, "Omit the table header")
	return cmd
}

// Complete builds the printer of -o, unless it is one the table handles.
func (o *Options) Complete() error {
	switch *o.PrintFlags.OutputFormat {
	case "", "wide", "name":
		return nil
	}
	var err error
	o.printer, err = util.ToPrinter(o.PrintFlags, "wide", "name")
	return err
}

// List is the catalog in the form the command prints.
func List() []Model {
	var out []Model
	for _, m := range estimator.Catalog() {
		sweep := "TP"
		if profiler.IsMoEArchitecture(m.Architecture) {
			sweep = strings.Join(profiler.CandidateKinds(profiler.Prefill, profiler.ModelInfo{IsMoE: true, Architecture: m.Architecture}), "/") +
				" prefill, " + strings.Join(profiler.CandidateKinds(profiler.Decode, profiler.ModelInfo{IsMoE: true, Architecture: m.Architecture}), "/") + " decode"
		}
		out = append(out, Model{Model: m.HFID, AICName: m.AICName, Architecture: m.Architecture, MoE: m.IsMoE(), Sweep: sweep,
			MaxContext: m.MaxContext, WeightDtype: m.WeightDtype, Aliases: m.Aliases})
	}
	return out
}

// Run prints the catalog.
func (o *Options) Run() error {
	list := List()
	if o.printer != nil {
		return util.PrintData(o.printer, list, o.Out)
	}
	if *o.PrintFlags.OutputFormat == "name" {
		for _, m := range list {
			fmt.Fprintln(o.Out, m.Model)
		}
		return nil
	}
	wide := *o.PrintFlags.OutputFormat == "wide"
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Model", Type: "string"}, {Name: "AIC Name", Type: "string"}, {Name: "Architecture", Type: "string"},
		{Name: "MoE", Type: "boolean"}, {Name: "Sweep", Type: "string"}, {Name: "Context", Type: "integer"},
		{Name: "Weights", Type: "string"}, {Name: "Aliases", Type: "string", Priority: 1},
	}}
	for _, m := range list {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{m.Model, dash(m.AICName), m.Architecture, m.MoE, m.Sweep,
			m.MaxContext, m.WeightDtype, dash(strings.Join(m.Aliases, ","))}})
	}
	return printers.NewTablePrinter(printers.PrintOptions{NoHeaders: o.NoHeaders, Wide: wide}).PrintObj(t, o.Out)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
