package admission

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/suggest"
)

// Strict keys (E16): a key nothing reads is a typo more often than not
// (max_num_gpu_per_engine swept 1 to 8 in silence), so every block of the
// config refuses keys outside pc.AcceptedKeys, with the nearest accepted
// key. The planner block is open-ended: a near miss of a planner flag is
// refused, any other key is passed to the planner with a warning.

// acceptedSet is pc.AcceptedKeys as sets, built once.
var acceptedSet = func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for block, keys := range pc.AcceptedKeys {
		set := map[string]bool{}
		for _, k := range keys {
			set[k] = true
		}
		out[block] = set
	}
	return out
}()

var plannerFlagSet = func() map[string]bool {
	set := map[string]bool{}
	for _, f := range pc.PlannerFlags {
		set[f] = true
	}
	return set
}()

// takesText says what a block holds, for the messages: its keys in
// camelCase where they have one.
var takesText = func() map[string]string {
	out := map[string]string{
		"sla": "isl, osl, ttft and itl (or e2eLatency, or optimizationType, instead of ttft and itl)",
	}
	for block, keys := range pc.AcceptedKeys {
		if out[block] != "" {
			continue
		}
		camel := map[string]bool{}
		for _, k := range keys {
			camel[k] = true
		}
		var list []string
		snake := false
		for _, k := range keys {
			if c := pc.SnakeToCamel(k); c != k && camel[c] {
				snake = true
				continue // listed under its camelCase spelling
			}
			list = append(list, k)
		}
		sort.Strings(list)
		text := strings.Join(list, ", ")
		if snake {
			text += " (camelCase or snake_case)"
		}
		out[block] = text
	}
	return out
}()

// blockName is how a message names a block.
func blockName(block string) string {
	switch block {
	case "":
		return "spec.profilingConfig.config"
	case "modelCache":
		return "deployment.modelCache"
	}
	return block
}

// strictKeys checks every block that is an object (bad holds the ones
// that are not, already reported).
func (v *validator) strictKeys(bad map[string]bool) {
	v.unknownKeys(pc.BasePath, "", v.cfg.Root)
	for _, sec := range pc.Sections {
		if bad[sec] || sec == "planner" {
			continue
		}
		m, _ := v.cfg.SectionMap(sec)
		v.unknownKeys(pc.BasePath.Child(sec), sec, m)
		if sec == "deployment" {
			if mc, ok := m["modelCache"].(map[string]any); ok {
				v.unknownKeys(pc.BasePath.Child(sec, "modelCache"), "modelCache", mc)
			}
		}
	}
	if !bad["planner"] {
		v.plannerKeys()
	}
}

// unknownKeys reports m's keys outside the block's accepted ones, in key
// order. Past MaxReportedErrors only the count matters: no did-you-mean,
// so a hostile config costs one map lookup per key.
func (v *validator) unknownKeys(at *field.Path, block string, m map[string]any) {
	accepted := acceptedSet[block]
	var unknown []string
	for k := range m {
		if !accepted[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		v.unknown++
		msg := fmt.Sprintf("unknown key %q in %s: the %s block takes only %s", k, blockName(block), blockName(block), takesText[block])
		if v.unknown > MaxReportedErrors {
			v.err(field.Invalid(at.Child(k), "", msg))
			continue
		}
		if s := suggest.Closest(k, pc.AcceptedKeys[block]); s != "" {
			msg = fmt.Sprintf("unknown key %q in %s: did you mean %s? The %s block takes only %s", k, blockName(block), s, blockName(block), takesText[block])
		}
		v.err(field.Invalid(at.Child(k), shortValue(m[k]), msg))
	}
}

// plannerKeys refuses a near miss of a planner flag and warns about any
// other unknown key, which goes to the planner as a flag of its own.
func (v *validator) plannerKeys() {
	sec, _ := v.cfg.SectionMap("planner")
	var unknown []string
	for k := range sec {
		if !plannerFlagSet[pc.PlannerFlag(k)] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	at := pc.BasePath.Child("planner")
	quiet := 0
	defer func() {
		if quiet > 0 {
			v.warn("%d more keys of spec.profilingConfig.config.planner are not flags of the SLA planner of Dynamo 0.6.1 to 1.0", quiet)
		}
	}()
	for _, k := range unknown {
		v.unknown++
		flag := pc.PlannerFlag(k)
		near := ""
		if v.unknown <= MaxReportedErrors {
			near = suggest.Closest(flag, pc.PlannerFlags)
		}
		if near == "" && v.unknown > MaxReportedErrors {
			quiet++
			continue
		}
		if near == "" {
			v.warn("spec.profilingConfig.config.planner.%s is not a flag of the SLA planner of Dynamo 0.6.1 to 1.0; it is passed on as --%s, which an older planner refuses at start",
				k, strings.ReplaceAll(flag, "_", "-"))
			continue
		}
		v.err(field.Invalid(at.Child(k), shortValue(sec[k]), fmt.Sprintf(
			"unknown key %q in planner: did you mean %s (the planner's --%s)? The planner block takes the SLA planner's flags in camelCase, snake_case or kebab-case",
			k, pc.SnakeToCamel(near), strings.ReplaceAll(near, "_", "-"))))
	}
}
