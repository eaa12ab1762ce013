package output

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"path"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

type reportData struct {
	R           *results.Results
	Frontier    []results.FrontierRow
	Title       string
	Banner      banner
	Suggestions []string
	Warnings    []string
	NextSteps   []nextStep
	// Plots says whether any chart is inlined (they are streamed in
	// between the "top" and "bottom" templates).
	Plots     bool
	DGD       string
	Generator string
}

// banner is the verdict at the top of the report: green when the
// recommendation meets both targets, red with what missed and by how much.
type banner struct {
	Met   bool
	Lines []string
}

// nextStep is one thing to do after profiling, with the exact commands.
type nextStep struct {
	Text     string
	Commands []string
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f2": func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"dash": func(f float64) string {
		if f == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", f)
	},
	"ratio": func(a, b float64) string { return fmt.Sprintf("%.1f", a/b) },
	"selP": func(r *results.Results, p results.PrefillPoint) bool {
		return r.Selection.Prefill != nil && r.Selection.Prefill.Mapping == p.Mapping
	},
	"selD": func(r *results.Results, p results.DecodePoint) bool {
		c := r.Selection.Decode
		return c != nil && c.Mapping == p.Mapping && (c.Concurrency == 0 || c.Concurrency == p.Concurrency)
	},
	"meets": func(latency, target float64) bool { return target <= 0 || latency <= target },
}).Parse(`{{define "top"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1.5em;color:#1f2328;line-height:1.4}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
th{background:#f6f8fa}tr.sel{background:#fff3c4;font-weight:bold}td.l,th.l{text-align:left}
pre{background:#f6f8fa;padding:.8em 1em;overflow:auto;font-size:13px;border-radius:6px}
.banner{padding:.9em 1.2em;border-radius:8px;color:#fff;font-size:1.05em;margin:1em 0}
.banner strong{font-size:1.2em;display:block;margin-bottom:.2em}
.banner ul{margin:.3em 0 0;padding-left:1.2em}
.banner.met{background:#1a7f37}.banner.missed{background:#b42318}
.meets{color:#1a7f37;font-weight:600}.misses{color:#b42318;font-weight:600}
.plots{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1em}
@media (max-width:900px){.plots{grid-template-columns:minmax(0,1fr)}}
figure{margin:0}figure img{width:100%;height:auto;border:1px solid #d0d7de;border-radius:4px}
figcaption{text-align:center;font-size:.9em;color:#57606a}
ol.steps li{margin-bottom:.6em}ol.steps pre{margin:.3em 0}
</style></head><body>
<h1>{{.Title}}</h1>
{{with .R.Input}}<p>Model <b>{{.Model}}</b>, backend <b>{{.Backend}}</b>{{if .System}}, system <b>{{.System}}</b>{{end}}, {{.GPUsPerNode}} GPUs per node{{if .IsMoE}}, MoE{{end}}.
Workload ISL {{.SLA.ISL}} tokens, OSL {{.SLA.OSL}} tokens; targets TTFT ≤ {{.SLA.TTFT}} ms, ITL ≤ {{.SLA.ITL}} ms.</p>{{end}}
<div id="sla-banner" class="banner {{if .Banner.Met}}met{{else}}missed{{end}}" role="status">
<strong>{{if .Banner.Met}}SLA met{{else}}SLA missed{{end}}</strong>
<ul>{{range .Banner.Lines}}<li>{{.}}</li>{{end}}</ul>
</div>
<h2>Recommendation</h2>
<pre>{{range .Suggestions}}{{.}}
{{end}}</pre>
{{with .R.Selection}}<table id="recommendation"><tr><th class="l">Phase</th><th class="l">Mapping</th><th>GPUs</th><th>Latency (ms)</th><th>Target (ms)</th><th>Throughput (tokens/s/GPU)</th><th class="l">SLA</th></tr>
{{with .Prefill}}<tr><td class="l">prefill</td><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{f2 .LatencyMs}}</td><td>{{$.R.Input.SLA.TTFT}}</td><td>{{f2 .ThptPerGPU}}</td>{{template "sla" .MeetsSLA}}</tr>{{end}}
{{with .Decode}}<tr><td class="l">decode</td><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{f2 .LatencyMs}}</td><td>{{$.R.Input.SLA.ITL}}</td><td>{{f2 .ThptPerGPU}}</td>{{template "sla" .MeetsSLA}}</tr>{{end}}
</table>
<p>Selection rule: <b>{{or .Rule "upstream"}}</b>{{if eq .Rule "frontier"}}: the highest throughput per GPU at each mapping's SLA frontier{{else}}: Dynamo's rule on the coarse sweep{{end}}.
{{with .CoarseDecode}}{{if $.R.Selection.Decode}}Dynamo's rule on the coarse sweep alone would pick decode {{.Mapping.Label}} at concurrency {{.Concurrency}}: {{f2 .ThptPerGPU}} tokens/s/GPU{{if gt .ThptPerGPU 0.0}} ({{ratio $.R.Selection.Decode.ThptPerGPU .ThptPerGPU}}× less){{end}}.{{end}}{{end}}</p>{{end}}
{{with .NextSteps}}<h2>Next steps</h2>
<ol class="steps">{{range .}}<li>{{.Text}}{{range .Commands}}<pre>{{.}}</pre>{{end}}</li>{{end}}</ol>{{end}}
{{with .Warnings}}<h2>Warnings</h2><ul id="warnings">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .Frontier}}<h2>SLA frontier</h2>
<p>How far each mapping goes within the targets: the largest ISL a prefill engine serves within TTFT {{$.R.Input.SLA.TTFT}} ms (batch 1), and the largest concurrency a decode engine serves within ITL {{$.R.Input.SLA.ITL}} ms, found by bisection on the measured curve. “&gt;=” marks a lower bound (the search ran out of points).</p>
<table><tr><th class="l">Phase</th><th class="l">Mapping</th><th>GPUs</th><th>Max within SLA</th><th>Latency (ms)</th><th>Throughput (tokens/s/GPU)</th><th>Coarse sweep's best (tokens/s/GPU)</th><th class="l">Bound</th></tr>
{{range .}}<tr{{if .Chosen}} class="sel"{{end}}><td class="l">{{.Phase}}</td><td class="l">{{.Mapping}}</td><td>{{.GPUs}}</td><td>{{.Reach}}</td><td>{{dash .LatencyMs}}</td><td>{{dash .ThptPerGPU}}</td><td>{{dash .CoarseThptPerGPU}}</td><td class="l">{{.Bound}}</td></tr>
{{end}}</table>{{end}}
{{if .Plots}}<h2>Plots</h2><div class="plots">{{end}}{{end}}
{{define "bottom"}}{{if .Plots}}</div>{{end}}
<h2>Prefill sweep</h2>
{{if .R.Prefill}}<table id="prefill-sweep"><tr><th class="l">Mapping</th><th>GPUs</th><th>ISL</th><th>TTFT (ms)</th><th>Throughput (tokens/s/GPU)</th><th class="l">SLA (TTFT ≤ {{.R.Input.SLA.TTFT}} ms)</th></tr>
{{range .R.Prefill}}<tr{{if selP $.R .}} class="sel"{{end}}><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{.ISL}}</td><td>{{f2 .TTFTMs}}</td><td>{{f2 .ThptPerGPU}}</td>{{template "sla" meets .TTFTMs $.R.Input.SLA.TTFT}}</tr>
{{end}}</table>{{else}}<p>No prefill points.</p>{{end}}
<h2>Decode sweep</h2>
{{if .R.Decode}}<table id="decode-sweep"><tr><th class="l">Mapping</th><th>GPUs</th><th>Concurrency</th><th>Context (tokens)</th><th>ITL (ms)</th><th>Throughput (tokens/s/GPU)</th><th>Max KV tokens</th><th class="l">Point</th><th class="l">SLA (ITL ≤ {{.R.Input.SLA.ITL}} ms)</th></tr>
{{range .R.Decode}}<tr{{if selD $.R .}} class="sel"{{end}}><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{.Concurrency}}</td><td>{{printf "%.0f" .ContextLength}}</td><td>{{f2 .ITLMs}}</td><td>{{f2 .ThptPerGPU}}</td><td>{{.MaxKVTokens}}</td><td class="l">{{if .Frontier}}frontier search{{else}}sweep{{end}}</td>{{template "sla" meets .ITLMs $.R.Input.SLA.ITL}}</tr>
{{end}}</table>{{else}}<p>No decode points.</p>{{end}}
{{with .R.Plan.Dropped}}<h2>Dropped candidates</h2><table><tr><th class="l">Phase</th><th class="l">Mapping</th><th class="l">Reason</th></tr>
{{range .}}<tr><td class="l">{{.Phase}}</td><td class="l">{{.Mapping.Label}}</td><td class="l">{{.Reason}}</td></tr>{{end}}</table>{{end}}
<h2>Generated DynamoGraphDeployment</h2>
<pre>{{.DGD}}</pre>
<p><small>{{.Generator}}</small></p>
</body></html>
{{end}}
{{define "sla"}}{{if .}}<td class="l meets">✓ meets</td>{{else}}<td class="l misses">✗ misses</td>{{end}}{{end}}`))

// reportPlots lists the charts in reading order with their captions.
var reportPlots = []struct{ file, title string }{
	{FilePrefillPerformance, "Prefill performance"},
	{FileDecodePerformance, "Decode performance"},
	{path.Join(DirPrefillInterpolation, FilePrefillTTFTInterp), "Prefill TTFT vs ISL"},
	{path.Join(DirPrefillInterpolation, FilePrefillThptInterp), "Prefill throughput vs ISL"},
	{path.Join(DirDecodeInterpolation, FileDecodeITLInterp), "Decode ITL by KV usage"},
	{path.Join(DirDecodeInterpolation, FileDecodeThptInterp), "Decode throughput by KV usage"},
	{FileCostSLA, "Cost under different SLAs"},
}

// Report renders report.html: one self-contained page, plots inlined as
// data: URIs, readable offline.
func Report(r *results.Results, in Inputs, d *dgd.DynamoGraphDeployment, plots map[string][]byte) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("results are nil; nothing to report")
	}
	data := reportData{R: r, Suggestions: r.SuggestedLines(), Frontier: r.FrontierRows(),
		Title:     fmt.Sprintf("SLA profile: %s on %s", r.Input.Model, r.Input.Backend),
		Banner:    slaBanner(r),
		Generator: "kubectl-dgdr " + cmp.Or(r.Versions.Plugin, version.Get().Version, "dev")}
	data.Warnings = reportWarnings(r.Warnings, !data.Banner.Met)
	data.NextSteps = nextSteps(r, in, d)
	if d != nil {
		y, err := DGDYAML(d)
		if err != nil {
			return nil, err
		}
		data.DGD = string(y)
	}
	var size int
	for _, p := range reportPlots {
		size += base64.StdEncoding.EncodedLen(len(plots[p.file])) + 256
		data.Plots = data.Plots || len(plots[p.file]) > 0
	}
	// One buffer of about the final size: the page is mostly the plots'
	// base64, which is streamed into it rather than built as strings first.
	var buf bytes.Buffer
	buf.Grow(size + 2*len(data.DGD) + 256*(len(r.Prefill)+len(r.Decode)) + 32<<10)
	if err := reportTemplate.ExecuteTemplate(&buf, "top", data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", FileReport, err)
	}
	for _, p := range reportPlots {
		if b := plots[p.file]; len(b) > 0 {
			writeFigure(&buf, p.title, b)
		}
	}
	if err := reportTemplate.ExecuteTemplate(&buf, "bottom", data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", FileReport, err)
	}
	return buf.Bytes(), nil
}

// writeFigure writes one chart as a <figure> with its PNG inlined.
func writeFigure(buf *bytes.Buffer, title string, png []byte) {
	t := html.EscapeString(title)
	buf.WriteString(`<figure><img alt="` + t + `" src="data:image/png;base64,`)
	enc := base64.NewEncoder(base64.StdEncoding, buf)
	_, _ = enc.Write(png) // a bytes.Buffer never fails
	_ = enc.Close()
	buf.WriteString(`"><figcaption>` + t + `</figcaption></figure>`)
}

// slaBanner checks each selected engine against its target.
func slaBanner(r *results.Results) banner {
	b := banner{Met: true}
	for _, c := range []struct {
		phase, metric string
		target        float64
		c             *results.Choice
	}{{"prefill", "TTFT", r.Input.SLA.TTFT, r.Selection.Prefill}, {"decode", "ITL", r.Input.SLA.ITL, r.Selection.Decode}} {
		if c.c == nil {
			continue
		}
		on := fmt.Sprintf("%s %s (%d GPU(s))", c.phase, c.c.Mapping.Label(), c.c.Mapping.N)
		if c.c.MeetsSLA {
			b.Lines = append(b.Lines, fmt.Sprintf("%s %.2f ms ≤ %s ms target on %s.", c.metric, c.c.LatencyMs, fmtNum(c.target), on))
			continue
		}
		b.Met = false
		over := c.c.LatencyMs - c.target
		line := fmt.Sprintf("%s %.2f ms on %s, the best the sweep found, is %.2f ms over the %s ms target", c.metric, c.c.LatencyMs, on, over, fmtNum(c.target))
		if c.target > 0 {
			line += fmt.Sprintf(" (%.1f× the target)", c.c.LatencyMs/c.target)
		}
		b.Lines = append(b.Lines, line+".")
	}
	if !b.Met {
		b.Lines = append(b.Lines, "The files below deploy that closest configuration. To meet the SLA, relax the missed target (sla.ttft / sla.itl), "+
			"allow more GPUs per engine (hardware.maxNumGpusPerEngine) or profile on faster GPUs.")
	}
	return b
}

// slaMissPrefixes start the warnings that only restate a missed target,
// which the red banner already says with the numbers: the profiler's
// (profiler.MsgTTFTUnmet, MsgITLUnmet) and the webhook's feasibility check.
var slaMissPrefixes = []string{
	"No engine configuration satisfies the TTFT requirement",
	"No engine configuration satisfies the ITL requirement",
	"SLA cannot be met:",
}

// reportWarnings drops repeats and, under a red banner, the warnings that
// restate it.
func reportWarnings(ws []string, missed bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range ws {
		if seen[w] {
			continue
		}
		seen[w] = true
		if missed && hasAnyPrefix(w, slaMissPrefixes) {
			continue
		}
		out = append(out, w)
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// nextSteps says how to deploy what was profiled: the Hugging Face token
// Secret the workers read (envFromSecret), then the DGD, through a DGDR
// with kubectl dgdr or as generated with kubectl apply.
func nextSteps(r *results.Results, in Inputs, d *dgd.DynamoGraphDeployment) []nextStep {
	ns := ""
	if d != nil {
		ns = d.Namespace
	}
	nsFlag := ""
	if ns != "" {
		nsFlag = " -n " + ns
	}
	where := "the namespace the DGD will run in"
	if ns != "" {
		where = "namespace " + ns
	}
	steps := []nextStep{{
		Text: fmt.Sprintf("Create the Secret %s in %s: every worker reads HF_TOKEN from it to download %s, and its pods do not start without it.", hfTokenSecret, where, r.Input.Model),
		Commands: []string{"export HF_TOKEN=<your Hugging Face token>\n" +
			"kubectl create secret generic " + hfTokenSecret + " --from-literal=HF_TOKEN=\"$HF_TOKEN\"" + nsFlag},
	}}
	name := ""
	inCluster := false
	if in.DGDR != nil {
		name = in.DGDR.Name
		inCluster = in.DGDR.UID != "" // read from the API server
	}
	switch {
	case inCluster && in.DGDR.Spec.AutoApply:
		steps = append(steps, nextStep{Text: "The DGDR has autoApply: the DGD is deployed for you. Follow it with:",
			Commands: []string{"kubectl dgdr status " + name + " -n " + in.DGDR.Namespace}})
	case inCluster:
		steps = append(steps, nextStep{Text: "Deploy the DGD and wait until it serves:",
			Commands: []string{"kubectl dgdr apply " + name + " -n " + in.DGDR.Namespace + " --wait"}})
	case in.DGDR != nil:
		// The request as profiled: a file with the flags applied, or the
		// flags alone, so the cluster profiles exactly this.
		req := *in.DGDR
		req.Status = v1alpha1.DynamoGraphDeploymentRequestStatus{}
		reqNS := "" // the manifest's own namespace, else the current one
		if req.Namespace != "" {
			reqNS = " -n " + req.Namespace
		}
		if y, err := manifestYAML(&req, "DGDR "+name); err == nil {
			text := "Deploy through a DGDR, the request profiled here: the cluster validates it, profiles it and keeps its status."
			cmds := "kubectl dgdr create -f - <<'EOF'\n" + string(y) + "EOF\n" + "kubectl dgdr profile " + name + reqNS
			if req.Spec.AutoApply {
				text += " It has autoApply, so profile goes on to deploy the DGD."
			} else {
				cmds += "\nkubectl dgdr apply " + name + reqNS + " --wait"
			}
			steps = append(steps, nextStep{Text: text, Commands: []string{cmds}})
		}
		fallthrough
	default:
		text := "Deploy the DGD profiled here as it is (" + FileConfigWithPlanner + " is next to this report):"
		if len(steps) > 1 {
			text = "Or deploy the DGD profiled here as it is (" + FileConfigWithPlanner + " is next to this report):"
		}
		steps = append(steps, nextStep{Text: text, Commands: []string{"kubectl apply -f " + FileConfigWithPlanner + nsFlag}})
	}
	return steps
}
