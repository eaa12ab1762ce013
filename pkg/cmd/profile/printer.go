package profile

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cmd/util"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler/grid"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

type pflagFlag = pflag.Flag

func isTerminal(w io.Writer) bool { return printers.IsTerminal(w) }

// print writes -o json|yaml, or the human summary: the header, the full
// sweep tables, the seed's two "Suggested" lines and the files written.
func (o *Options) print(r *results.Results, files []string) error {
	if o.printer != nil {
		return o.printStructured(r)
	}
	WriteSummary(o.Out, r)
	fmt.Fprintf(o.Out, "\nWrote %d files to %s:\n", len(files), o.OutputDir)
	for _, f := range files {
		fmt.Fprintf(o.Out, "  %s\n", filepath.Join(o.OutputDir, f))
	}
	return nil
}

// WriteSummary is the human summary of a profile.
func WriteSummary(w io.Writer, r *results.Results) {
	in := r.Input
	fmt.Fprintf(w, "Profiled %s (%s) on %s, %d GPUs per node\n", in.Model, in.Backend, in.System, in.GPUsPerNode)
	fmt.Fprintf(w, "Workload ISL %d, OSL %d; SLA TTFT %s ms, ITL %s ms\n", in.SLA.ISL, in.SLA.OSL, num(in.SLA.TTFT), num(in.SLA.ITL))
	fmt.Fprintf(w, "GPU counts %s\n", profiler.PyInts(r.Plan.GPUCounts))
	for _, d := range r.Plan.Dropped {
		fmt.Fprintf(w, "  dropped %s %s: %s\n", d.Phase, d.Mapping.Label(), strings.TrimPrefix(d.Reason, "Invalid mapping "+d.Mapping.Label()+": "))
	}

	fmt.Fprintf(w, "\nPrefill sweep (ISL %d)\n", in.SLA.ISL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MAPPING\tGPUS\tTTFT (ms)\tTHROUGHPUT (tokens/s/GPU)\tSLA")
	for _, p := range r.Prefill {
		mark := chosenMark(r.Selection.Prefill, p.Mapping, 0, 0)
		fmt.Fprintf(tw, "%s %s\t%d\t%.2f\t%.2f\t%s\n", mark, p.Mapping.Label(), p.Mapping.N, p.TTFTMs, p.ThptPerGPU, meets(p.TTFTMs, in.SLA.TTFT))
	}
	_ = tw.Flush()

	fmt.Fprintf(w, "\nDecode sweep (ISL %d, OSL %d)\n", in.SLA.ISL, in.SLA.OSL)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// POINT tells the coarse sweep's points from the frontier search's.
	point := func(results.DecodePoint) string { return "" }
	header := "  MAPPING\tGPUS\tCONCURRENCY\tITL (ms)\tTHROUGHPUT (tokens/s/GPU)\tSLA"
	if r.Frontier != nil {
		header += "\tPOINT"
		point = func(d results.DecodePoint) string {
			if d.Frontier {
				return "\tfrontier"
			}
			return "\tsweep"
		}
	}
	fmt.Fprintln(tw, header)
	for _, d := range r.Decode {
		if !bracketsFrontier(r, d) {
			continue // the search's intermediate steps are in results.json
		}
		mark := chosenMark(r.Selection.Decode, d.Mapping, d.Concurrency, 1)
		fmt.Fprintf(tw, "%s %s\t%d\t%d\t%.2f\t%.2f\t%s%s\n", mark, d.Mapping.Label(), d.Mapping.N, d.Concurrency, d.ITLMs, d.ThptPerGPU, meets(d.ITLMs, in.SLA.ITL), point(d))
	}
	_ = tw.Flush()
	writeFrontier(w, r)
	fmt.Fprintln(w)
	// Admission warnings went to stderr already; the profile's own belong here.
	for _, warn := range r.Warnings {
		if profiler.IsResultWarning(warn) {
			fmt.Fprintf(w, "Warning: %s\n", warn)
		}
	}
	for _, l := range r.SuggestedLines() {
		fmt.Fprintln(w, l)
	}
}

// bracketsFrontier keeps the coarse points and, of the frontier search's,
// the two that bracket the target: the frontier and the step above it.
func bracketsFrontier(r *results.Results, d results.DecodePoint) bool {
	if !d.Frontier {
		return true
	}
	f := r.DecodeFrontierOf(d.Mapping)
	return f != nil && (d.Concurrency == f.Concurrency || d.Concurrency == f.NextConcurrency)
}

// writeFrontier is the SLA frontier table: how far each mapping goes
// within the targets, against the best point of the coarse sweep.
func writeFrontier(w io.Writer, r *results.Results) {
	rows := r.FrontierRows()
	if rows == nil {
		return
	}
	fmt.Fprintf(w, "\nSLA frontier (TTFT %s ms, ITL %s ms)\n", num(r.Input.SLA.TTFT), num(r.Input.SLA.ITL))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PHASE\tMAPPING\tMAX WITHIN SLA\tLATENCY (ms)\tTHROUGHPUT (tokens/s/GPU)\tCOARSE BEST (tokens/s/GPU)\tBOUND")
	for _, f := range rows {
		mark := " "
		if f.Chosen {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, f.Phase, f.Mapping, f.Reach(), orDash(f.LatencyMs), orDash(f.ThptPerGPU), orDash(f.CoarseThptPerGPU), f.Bound)
	}
	_ = tw.Flush()
}

func orDash(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// chosenMark stars the selected point (decode: the mapping and concurrency).
func chosenMark(c *results.Choice, m results.Mapping, conc int, decode int) string {
	if c == nil || c.Mapping != m || (decode == 1 && c.Concurrency != conc) {
		return " "
	}
	return "*"
}

func meets(lat, sla float64) string {
	if lat <= sla {
		return "ok"
	}
	return "miss"
}

func num(v float64) string { return fmt.Sprint(v) }

// printPlan is --dry-run: the plan and its estimated cost, nothing measured.
func (o *Options) printPlan(r *results.Results, j *job) error {
	if o.printer != nil {
		return o.printStructured(r)
	}
	w := o.Out
	in, p := r.Input, r.Plan
	fmt.Fprintf(w, "Plan for %s (%s) on %s, %d GPUs per node\n", in.Model, in.Backend, in.System, in.GPUsPerNode)
	fmt.Fprintf(w, "Workload ISL %d, OSL %d; SLA TTFT %s ms, ITL %s ms\n", in.SLA.ISL, in.SLA.OSL, num(in.SLA.TTFT), num(in.SLA.ITL))
	fmt.Fprintf(w, "GPUs per engine %d to %d; GPU counts %s\n", p.MinGPUs, p.MaxGPUs, profiler.PyInts(p.GPUCounts))
	fmt.Fprintf(w, "Prefill mappings: %s\n", labels(p.PrefillMappings))
	fmt.Fprintf(w, "Decode mappings:  %s\n", labels(p.DecodeMappings))
	for _, d := range p.Dropped {
		fmt.Fprintf(w, "  dropped %s %s: %s\n", d.Phase, d.Mapping.Label(), strings.TrimPrefix(d.Reason, "Invalid mapping "+d.Mapping.Label()+": "))
	}
	fmt.Fprintf(w, "Measurement points: %d prefill, up to %d decode, up to %d interpolation (context %d)\n",
		p.PrefillPoints, p.DecodePoints, p.InterpolationPoints, in.MaxContext)
	if p.FrontierPoints > 0 {
		fmt.Fprintf(w, "SLA frontier search: up to %d more points inside the sweep Jobs (%d per mapping, no extra Job), and %d extra grid Jobs near the SLA\n",
			p.FrontierPoints, grid.DefaultProbes, p.FrontierGridJobs)
	}
	fmt.Fprintf(w, "Estimated GPU time of an online run: %.2f GPU-hours\n", p.EstimatedGPUHours)
	fmt.Fprintln(w, "Dry run: nothing was measured and nothing was written.")
	return nil
}

func labels(ms []results.Mapping) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Label()
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// progress shows a bar on a terminal and one line per step otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	off   bool
	drawn bool
}

func newProgress(w io.Writer, tty, off bool) *progress {
	return &progress{w: w, tty: tty, off: off || w == nil}
}

const barWidth = 30

func (p *progress) update(done, total int, msg string) {
	if p.off || total <= 0 {
		return
	}
	if !p.tty {
		if done > 0 {
			fmt.Fprintf(p.w, "[%d/%d] %s\n", done, total, msg)
		}
		return
	}
	pc := done * 100 / total
	fill := done * barWidth / total
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %3d%% %s", strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill), pc, msg)
	p.drawn = true
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// printStructured is -o: results.json in place of the summary.
func (o *Options) printStructured(r *results.Results) error {
	return util.PrintData(o.printer, r, o.Out)
}
