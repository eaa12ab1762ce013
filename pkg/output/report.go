package output

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"path"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

type reportData struct {
	R           *results.Results
	Frontier    []results.FrontierRow
	Title       string
	Suggestions []string
	Images      []template.HTML
	DGD         string
	Generator   string
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
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}tr.sel{background:#fff3c4;font-weight:bold}td.l,th.l{text-align:left}
.sla{color:#c00}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}
figure{display:inline-block;margin:.5em}img{max-width:100%;border:1px solid #ddd}
</style></head><body>
<h1>{{.Title}}</h1>
{{with .R.Input}}<p>Model <b>{{.Model}}</b>, backend <b>{{.Backend}}</b>{{if .System}}, system <b>{{.System}}</b>{{end}}, {{.GPUsPerNode}} GPUs per node{{if .IsMoE}}, MoE{{end}}.</p>
<h2>SLA</h2>
<ul class="sla"><li>ISL {{.SLA.ISL}} tokens, OSL {{.SLA.OSL}} tokens</li><li>TTFT ≤ {{.SLA.TTFT}} ms</li><li>ITL ≤ {{.SLA.ITL}} ms</li></ul>{{end}}
<h2>Recommendation</h2>
<pre>{{range .Suggestions}}{{.}}
{{end}}</pre>
{{with .R.Selection}}<table><tr><th class="l">Phase</th><th class="l">Mapping</th><th>GPUs</th><th>Latency (ms)</th><th>Throughput (tokens/s/GPU)</th><th class="l">Meets SLA</th></tr>
{{with .Prefill}}<tr><td class="l">prefill</td><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{f2 .LatencyMs}}</td><td>{{f2 .ThptPerGPU}}</td><td class="l">{{.MeetsSLA}}</td></tr>{{end}}
{{with .Decode}}<tr><td class="l">decode</td><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{f2 .LatencyMs}}</td><td>{{f2 .ThptPerGPU}}</td><td class="l">{{.MeetsSLA}}</td></tr>{{end}}
</table>
<p>Selection rule: <b>{{or .Rule "upstream"}}</b>{{if eq .Rule "frontier"}}: the highest throughput per GPU at each mapping's SLA frontier{{else}}: Dynamo's rule on the coarse sweep{{end}}.
{{with .CoarseDecode}}{{if $.R.Selection.Decode}}Dynamo's rule on the coarse sweep alone would pick decode {{.Mapping.Label}} at concurrency {{.Concurrency}}: {{f2 .ThptPerGPU}} tokens/s/GPU{{if gt .ThptPerGPU 0.0}} ({{ratio $.R.Selection.Decode.ThptPerGPU .ThptPerGPU}}× less){{end}}.{{end}}{{end}}</p>{{end}}
{{with .Frontier}}<h2>SLA frontier</h2>
<p>How far each mapping goes within the targets: the largest ISL a prefill engine serves within TTFT {{$.R.Input.SLA.TTFT}} ms (batch 1), and the largest concurrency a decode engine serves within ITL {{$.R.Input.SLA.ITL}} ms, found by bisection on the measured curve. “&gt;=” marks a lower bound (the search ran out of points).</p>
<table><tr><th class="l">Phase</th><th class="l">Mapping</th><th>GPUs</th><th>Max within SLA</th><th>Latency (ms)</th><th>Throughput (tokens/s/GPU)</th><th>Coarse sweep's best (tokens/s/GPU)</th><th class="l">Bound</th></tr>
{{range .}}<tr{{if .Chosen}} class="sel"{{end}}><td class="l">{{.Phase}}</td><td class="l">{{.Mapping}}</td><td>{{.GPUs}}</td><td>{{.Reach}}</td><td>{{dash .LatencyMs}}</td><td>{{dash .ThptPerGPU}}</td><td>{{dash .CoarseThptPerGPU}}</td><td class="l">{{.Bound}}</td></tr>
{{end}}</table>{{end}}
{{with .R.Warnings}}<h2>Warnings</h2><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .Images}}<h2>Plots</h2>{{range .}}{{.}}{{end}}{{end}}
<h2>Prefill sweep</h2>
{{if .R.Prefill}}<table><tr><th class="l">Mapping</th><th>GPUs</th><th>ISL</th><th>TTFT (ms)</th><th>Throughput (tokens/s/GPU)</th></tr>
{{range .R.Prefill}}<tr{{if selP $.R .}} class="sel"{{end}}><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{.ISL}}</td><td>{{f2 .TTFTMs}}</td><td>{{f2 .ThptPerGPU}}</td></tr>
{{end}}</table>{{else}}<p>No prefill points.</p>{{end}}
<h2>Decode sweep</h2>
{{if .R.Decode}}<table><tr><th class="l">Mapping</th><th>GPUs</th><th>Concurrency</th><th>Context (tokens)</th><th>ITL (ms)</th><th>Throughput (tokens/s/GPU)</th><th>Max KV tokens</th><th class="l">Point</th></tr>
{{range .R.Decode}}<tr{{if selD $.R .}} class="sel"{{end}}><td class="l">{{.Mapping.Label}}</td><td>{{.Mapping.N}}</td><td>{{.Concurrency}}</td><td>{{printf "%.0f" .ContextLength}}</td><td>{{f2 .ITLMs}}</td><td>{{f2 .ThptPerGPU}}</td><td>{{.MaxKVTokens}}</td><td class="l">{{if .Frontier}}frontier search{{else}}sweep{{end}}</td></tr>
{{end}}</table>{{else}}<p>No decode points.</p>{{end}}
{{with .R.Plan.Dropped}}<h2>Dropped candidates</h2><table><tr><th class="l">Phase</th><th class="l">Mapping</th><th class="l">Reason</th></tr>
{{range .}}<tr><td class="l">{{.Phase}}</td><td class="l">{{.Mapping.Label}}</td><td class="l">{{.Reason}}</td></tr>{{end}}</table>{{end}}
<h2>Generated DynamoGraphDeployment</h2>
<pre>{{.DGD}}</pre>
<p><small>{{.Generator}}</small></p>
</body></html>
`))

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
		Generator: "kubectl-dgdr " + cmp.Or(r.Versions.Plugin, version.Get().Version, "dev")}
	for _, p := range reportPlots {
		if b, ok := plots[p.file]; ok {
			// Built by hand: escaping 100s of kB of base64 (which holds no
			// HTML-special characters) through the template is slow.
			t := html.EscapeString(p.title)
			data.Images = append(data.Images, template.HTML(fmt.Sprintf( //nolint:gosec // constant captions and base64 only
				`<figure><img alt="%s" src="data:image/png;base64,%s"><figcaption>%s</figcaption></figure>`,
				t, base64.StdEncoding.EncodeToString(b), t)))
		}
	}
	if d != nil {
		y, err := DGDYAML(d)
		if err != nil {
			return nil, err
		}
		data.DGD = string(y)
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", FileReport, err)
	}
	return buf.Bytes(), nil
}
