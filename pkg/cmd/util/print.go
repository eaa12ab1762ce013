package util

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
)

// NewDataPrintFlags is -o for a verb whose output is data rather than a
// Kubernetes object (an estimate, results.json, a version): kubectl's JSON,
// YAML, jsonpath and go-template printers, without -o name.
func NewDataPrintFlags() *genericclioptions.PrintFlags {
	f := genericclioptions.NewPrintFlags("")
	f.NamePrintFlags = nil
	return f
}

// PrintData prints any JSON-encodable value with a printer of
// NewDataPrintFlags: it travels as a runtime.Unknown, which kubectl's
// printers print as the JSON it holds.
func PrintData(p printers.ResourcePrinter, v any, w io.Writer) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.PrintObj(&runtime.Unknown{Raw: raw, ContentType: runtime.ContentTypeJSON}, w)
}

// Structured says whether the flags ask for a printer (-o or --template)
// rather than the verb's own human output.
func Structured(f *genericclioptions.PrintFlags) bool {
	if f.OutputFormat != nil && *f.OutputFormat != "" {
		return true
	}
	return f.TemplatePrinterFlags != nil && f.TemplatePrinterFlags.TemplateArgument != nil && *f.TemplatePrinterFlags.TemplateArgument != ""
}

// ToPrinter is f.ToPrinter with an error that names the flag and every
// choice, own lists the formats the verb prints itself (wide, table, ...).
func ToPrinter(f *genericclioptions.PrintFlags, own ...string) (printers.ResourcePrinter, error) {
	p, err := f.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, fmt.Errorf("--output %q is not supported: use one of %s", *f.OutputFormat,
			strings.Join(append(own, f.AllowedFormats()...), ", "))
	}
	return p, err
}
