package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
)

// ANSI colours; every coloured cell of a column uses codes of equal length,
// so tabwriter's widths stay right.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
)

type painter struct{ on bool }

func (p painter) paint(code, s string) string {
	if !p.on {
		return s
	}
	return code + s + reset
}

func (p painter) state(s string) string {
	switch v1alpha1.State(s) {
	case v1alpha1.StateReady:
		return p.paint(green, s)
	case v1alpha1.StateFailed, v1alpha1.StateDeploymentDeleted:
		return p.paint(red, s)
	}
	return p.paint(yellow, s)
}

// Table is the list view as a metav1.Table, rendered by kubectl's printer.
func Table(rows []Summary, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Model", Type: "string"},
		{Name: "Backend", Type: "string"},
		{Name: "State", Type: "string"},
		{Name: "Prefill", Type: "string"},
		{Name: "Decode", Type: "string"},
		{Name: "SLA (TTFT/ITL)", Type: "string", Priority: 1},
		{Name: "Meets SLA", Type: "string", Priority: 1},
		{Name: "Age", Type: "string"},
	}}
	for _, r := range rows {
		obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace}}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{r.Name, util.Escape(r.Model), util.Escape(r.Backend), util.Escape(r.State), r.Prefill, r.Decode, r.SLA, r.MeetsSLA, age(r.Created, now)},
			Object: runtimeObject(obj),
		})
	}
	return t
}

func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// PrintView renders the sectioned detail view.
func PrintView(w io.Writer, v *View, now time.Time, color bool) error {
	p := painter{on: color}
	var b strings.Builder
	section := func(title string) { fmt.Fprintf(&b, "\n%s\n", p.paint(bold, title)) }
	tw := func(f func(*tabwriter.Writer)) {
		t := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		f(t)
		_ = t.Flush()
	}
	fmt.Fprintf(&b, "%s %s/%s\n", p.paint(bold, "DynamoGraphDeploymentRequest"), util.Escape(v.Namespace), util.Escape(v.Name))
	tw(func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "State:\t%s\n", p.state(util.Escape(v.State)))
		fmt.Fprintf(t, "Model:\t%s\n", util.Escape(v.Model))
		fmt.Fprintf(t, "Backend:\t%s\n", util.Escape(v.Backend))
		fmt.Fprintf(t, "Auto-apply:\t%t\n", v.AutoApply)
		fmt.Fprintf(t, "Age:\t%s\n", age(v.CreationTimestamp, now))
	})

	section("SLA and workload")
	if v.SLA != nil {
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintf(t, "ISL / OSL:\t%d / %d tokens\n", v.SLA.ISL, v.SLA.OSL)
			fmt.Fprintf(t, "TTFT target:\t%g ms\n", v.SLA.TTFT)
			fmt.Fprintf(t, "ITL target:\t%g ms\n", v.SLA.ITL)
		})
	} else {
		b.WriteString("  (not readable from spec.profilingConfig.config)\n")
	}

	section("Hardware found")
	if h := v.Hardware; h != nil {
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintf(t, "GPU:\t%s (%d MiB)\n", dash(util.Escape(h.Product)), h.MemoryMiB)
			fmt.Fprintf(t, "System:\t%s\n", dash(util.Escape(h.System)))
			fmt.Fprintf(t, "GPUs per node:\t%d\n", h.GPUsPerNode)
			fmt.Fprintf(t, "GPU nodes:\t%d of %d checked (%d GPUs)\n", h.Nodes, h.NodesChecked, h.TotalGPUs)
			fmt.Fprintf(t, "Source:\t%s\n", dash(util.Escape(h.Source)))
		})
	} else {
		b.WriteString("  (not profiled yet)\n")
	}

	section("Sweep (* = chosen)")
	if len(v.Sweep) > 0 {
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintln(t, "  \tPHASE\tMAPPING\tGPUS\tLATENCY (ms)\tTHROUGHPUT/GPU\tCONCURRENCY\tMEETS SLA")
			for _, r := range v.Sweep {
				mark, meets := " ", "no"
				if r.Chosen {
					mark = "*"
				}
				if r.MeetsSLA {
					meets = "yes"
				}
				conc := "-"
				if r.Concurrency > 0 {
					conc = fmt.Sprint(r.Concurrency)
				}
				line := fmt.Sprintf("%s\t%s\t%s\t%d\t%.2f\t%.1f\t%s\t%s", mark, r.Phase, r.Mapping, r.GPUs, r.LatencyMs, r.ThptPerGPU, conc, meets)
				fmt.Fprintln(t, line)
			}
		})
	} else {
		b.WriteString("  (no results)\n")
	}

	if len(v.Frontier) > 0 {
		section("SLA frontier (max within the SLA; * = chosen)")
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintln(t, "  \tPHASE\tMAPPING\tMAX\tLATENCY (ms)\tTHROUGHPUT/GPU\tCOARSE BEST/GPU\tBOUND")
			for _, f := range v.Frontier {
				mark := " "
				if f.Chosen {
					mark = "*"
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%.2f\t%.1f\t%.1f\t%s\n", mark, f.Phase, f.Mapping, f.Reach(), f.LatencyMs, f.ThptPerGPU, f.CoarseThptPerGPU, f.Bound)
			}
		})
	}

	section("Recommendation")
	if s := v.Recommendation; s != nil && s.Prefill != nil && s.Decode != nil {
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintf(t, "Prefill:\t%s\t%.2f ms TTFT\t%.1f tok/s/GPU\n", p.paint(green, s.Prefill.Mapping.Label()), s.Prefill.LatencyMs, s.Prefill.ThptPerGPU)
			fmt.Fprintf(t, "Decode:\t%s\t%.2f ms ITL\t%.1f tok/s/GPU\n", p.paint(green, s.Decode.Mapping.Label()), s.Decode.LatencyMs, s.Decode.ThptPerGPU)
		})
	} else {
		b.WriteString("  (none yet)\n")
	}

	section("Conditions")
	if len(v.Conditions) > 0 {
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintln(t, "  TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
			for _, c := range v.Conditions {
				st := string(c.Status)
				switch c.Status {
				case metav1.ConditionTrue:
					st = p.paint(green, st)
				case metav1.ConditionFalse:
					st = p.paint(red, st)
				}
				fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\n", util.Escape(c.Type), st, util.Escape(c.Reason), age(c.LastTransitionTime, now), util.Escape(c.Message))
			}
		})
	} else {
		b.WriteString("  (none)\n")
	}

	section("Generated DynamoGraphDeployment")
	if d := v.Deployment; d != nil {
		state := "not applied"
		if d.Applied {
			state = dash(util.Escape(d.State))
			if d.Ready {
				state = p.paint(green, state+" (ready)")
			}
		}
		tw(func(t *tabwriter.Writer) {
			fmt.Fprintf(t, "Name:\t%s/%s\n", util.Escape(d.Namespace), util.Escape(d.Name))
			fmt.Fprintf(t, "Services:\t%s\n", util.Escape(strings.Join(d.Services, ", ")))
			fmt.Fprintf(t, "State:\t%s\n", state)
		})
	} else {
		b.WriteString("  (none yet)\n")
	}

	section("Next step")
	fmt.Fprintf(&b, "  %s\n", util.Escape(v.Next))
	if len(v.Errors) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.paint(red, "Errors"))
		for _, e := range v.Errors {
			fmt.Fprintf(&b, "  %s\n", util.Escape(e))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
