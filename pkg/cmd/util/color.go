package util

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
)

// ColorMode is the --color flag: auto, always or never.
type ColorMode string

// The accepted values.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// colorValues lists them, for completion.
func colorValues() []string {
	return []string{string(ColorAuto), string(ColorAlways), string(ColorNever)}
}

// String implements pflag.Value.
func (c *ColorMode) String() string { return string(*c) }

// Set implements pflag.Value and rejects unknown values.
func (c *ColorMode) Set(v string) error {
	switch ColorMode(v) {
	case ColorAuto, ColorAlways, ColorNever:
		*c = ColorMode(v)
		return nil
	}
	return fmt.Errorf("%q is not a colour mode: use auto, always or never", v)
}

// Type implements pflag.Value.
func (c *ColorMode) Type() string { return "string" }

// AddColorFlag binds --color and its completion.
func AddColorFlag(cmd *cobra.Command, c *ColorMode) {
	if *c == "" {
		*c = ColorAuto
	}
	cmd.Flags().Var(c, "color", "Colour the output: auto (a terminal without NO_COLOR), always or never")
	_ = cmd.RegisterFlagCompletionFunc("color", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return colorValues(), cobra.ShellCompDirectiveNoFileComp
	})
}

// Enabled decides once whether out gets colour. auto means a terminal whose
// TERM is not dumb, with NO_COLOR unset (printers.AllowsColorOutput).
func (c ColorMode) Enabled(out io.Writer) bool {
	switch c {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	return printers.AllowsColorOutput(out)
}
