package util

import (
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// flagFields are the DGDR fields that profile's and create's flags set,
// each with every spelling a message may use. In flags mode the user wrote
// --itl, not spec.profilingConfig.config.sla.itl, so errors say --itl.
var flagFields = []struct {
	flag   string
	fields []string
}{
	{"--isl", []string{"sla.isl"}},
	{"--osl", []string{"sla.osl"}},
	{"--ttft", []string{"sla.ttft"}},
	{"--itl", []string{"sla.itl"}},
	{"--system", []string{"sweep.aicSystem", "sweep.aic_system", "aic.system", "hardware.system"}},
	{"--min-gpus", []string{"hardware.minNumGpusPerEngine", "hardware.min_num_gpus_per_engine"}},
	{"--max-gpus", []string{"hardware.maxNumGpusPerEngine", "hardware.max_num_gpus_per_engine"}},
	{"--gpus-per-node", []string{"hardware.numGpusPerNode", "hardware.num_gpus_per_node"}},
	{"--simulate", []string{"sweep.useAiConfigurator", "sweep.use_ai_configurator"}},
	{"--model", []string{"spec.model", "deployment.model"}},
	{"--backend", []string{"spec.backend", "engine.backend"}},
}

// flagReplacer rewrites the field paths of flagFields into their flags,
// the full path first so no prefix is left behind.
var flagReplacer = func() *strings.Replacer {
	var pairs []string
	for _, f := range flagFields {
		for _, field := range f.fields {
			if !strings.HasPrefix(field, "spec.") {
				pairs = append(pairs, "spec.profilingConfig.config."+field, f.flag)
			}
			pairs = append(pairs, field, f.flag)
		}
	}
	return strings.NewReplacer(pairs...)
}()

// FlagText names flags instead of the fields they set.
func FlagText(s string) string { return flagReplacer.Replace(s) }

// FlagErrors rewrites an error of a DGDR built from flags so that it names
// the flags: a validation error lists its causes as "invalid flags: --itl:
// Invalid value: -5: --itl must be positive; ...", any other error has its
// field paths replaced.
func FlagErrors(err error) error {
	if err == nil {
		return nil
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) && apierrors.IsInvalid(err) && se.Status().Details != nil && len(se.Status().Details.Causes) > 0 {
		var parts []string
		for _, c := range se.Status().Details.Causes {
			msg := c.Message
			if c.Field != "" {
				msg = c.Field + ": " + msg
			}
			parts = append(parts, FlagText(msg))
		}
		return errors.New("invalid flags: " + strings.Join(parts, "; "))
	}
	return flagError{err}
}

// flagError keeps the wrapped error for errors.Is (context.Canceled).
type flagError struct{ err error }

func (e flagError) Error() string { return FlagText(e.err.Error()) }
func (e flagError) Unwrap() error { return e.err }
