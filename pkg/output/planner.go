package output

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// plannerDefaults are the SLA planner's parser defaults (profiler.md §13):
// values equal to them are not rendered, so operator-injected env vars win.
var plannerDefaults = map[string]string{
	"environment":                        "kubernetes",
	"backend":                            "vllm",
	"mode":                               "disagg",
	"adjustment_interval":                "180",
	"max_gpu_budget":                     "8",
	"min_endpoint":                       "1",
	"ttft":                               "500.0",
	"itl":                                "50.0",
	"load_predictor":                     "arima",
	"profile_results_dir":                "profiling_results",
	"metric_pulling_prometheus_endpoint": "http://prometheus-kube-prometheus-prometheus.monitoring.svc.cluster.local:9090",
	"no_correction":                      "false",
	"no_operation":                       "false",
}

// plannerOnlyFlags are further flags of the pinned planner with no default
// worth comparing; keys outside both sets are passed through with a warning.
var plannerOnlyFlags = map[string]bool{
	"namespace": true, "prefill_engine_num_gpu": true, "decode_engine_num_gpu": true,
	"log_dir": true, "load_prediction_window_size": true, "metric_reporting_prometheus_port": true,
}

// PlannerArgs renders the Planner's arguments (profiler.md §13): the shared
// settings (backend, ttft, itl) and unprefixed planner keys sorted by name,
// then planner_-prefixed keys sorted, defaults skipped, and the profiler's
// own engine sizes and results dir appended.
func PlannerArgs(r *results.Results, in Inputs) ([]string, error) {
	args, _, err := plannerArgs(r, in)
	return args, err
}

func plannerArgs(r *results.Results, in Inputs) ([]string, []string, error) {
	if err := checkSelection(r); err != nil {
		return nil, nil, err
	}
	var warnings []string
	shared := map[string]any{
		"backend": cmp.Or(r.Input.Backend, in.Settings.Backend),
		"ttft":    slaValue(in, profileconfig.KeySLATTFT, r.Input.SLA.TTFT, in.Settings.SLA.TTFT),
		"itl":     slaValue(in, profileconfig.KeySLAITL, r.Input.SLA.ITL, in.Settings.SLA.ITL),
	}
	if in.DGDR != nil && shared["backend"] == "" {
		shared["backend"] = in.DGDR.Spec.Backend
	}
	prefixed := map[string]any{}
	keys := make([]string, 0, len(in.Settings.Planner))
	for k := range in.Settings.Planner {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := profileconfig.CamelToSnake(k)
		if rest, ok := strings.CutPrefix(name, "planner_"); ok {
			prefixed[rest] = in.Settings.Planner[k]
		} else {
			shared[name] = in.Settings.Planner[k]
		}
		base := strings.TrimPrefix(name, "planner_")
		if _, known := plannerDefaults[base]; !known && !plannerOnlyFlags[base] {
			warnings = append(warnings, fmt.Sprintf("planner.%s is not a flag of the pinned SLA planner; passing it through as --%s", k, strings.ReplaceAll(base, "_", "-")))
		}
	}
	for k := range prefixed {
		delete(shared, k) // the prefixed spelling wins
	}
	var out []string
	for _, group := range []map[string]any{shared, prefixed} {
		names := make([]string, 0, len(group))
		for k := range group {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			flag := "--" + strings.ReplaceAll(name, "_", "-")
			switch flag {
			case "--namespace", "--prefill-engine-num-gpu", "--decode-engine-num-gpu", "--profile-results-dir":
				continue // set below or injected by the operator (DYN_NAMESPACE)
			}
			v, ok, err := renderArg(name, group[name])
			if err != nil {
				return nil, nil, err
			}
			if !ok || isPlannerDefault(name, v) {
				continue
			}
			if b, isBool := group[name].(bool); isBool {
				if b {
					out = append(out, flag)
				}
				continue
			}
			out = append(out, flag+"="+v)
		}
	}
	out = append(out,
		fmt.Sprintf("--prefill-engine-num-gpu=%d", r.Selection.Prefill.Mapping.N),
		fmt.Sprintf("--decode-engine-num-gpu=%d", r.Selection.Decode.Mapping.N),
		"--profile-results-dir="+PlannerProfileMountPath)
	return out, warnings, nil
}

// slaValue keeps the SLA number as written in the config (200 stays 200,
// TV-18) when it is the value profiled; a what-if SLA is rendered as a float.
func slaValue(in Inputs, k profileconfig.Key, profiled, setting float64) any {
	want := profiled
	if want == 0 {
		want = setting
	}
	if in.DGDR != nil && in.DGDR.Spec.ProfilingConfig.Config != nil {
		if c, err := profileconfig.FromJSON(in.DGDR.Spec.ProfilingConfig.Config); err == nil {
			if v, _, ok := c.Lookup(k); ok {
				if n, isNum := v.(json.Number); isNum {
					if f, err := n.Float64(); err == nil && f == want {
						return n
					}
				}
			}
		}
	}
	if want == 0 {
		return nil
	}
	return want
}

// renderArg renders a value with Python str() semantics; ok is false for null.
func renderArg(name string, v any) (string, bool, error) {
	switch t := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return t, t != "", nil
	case bool:
		return strconv.FormatBool(t), true, nil
	case json.Number:
		return string(t), true, nil
	case float64:
		return pyFloat(t), true, nil
	case int:
		return strconv.Itoa(t), true, nil
	case int64:
		return strconv.FormatInt(t, 10), true, nil
	}
	return "", false, fmt.Errorf("planner.%s is a %T; planner arguments take a single string, number or boolean, so give one value", name, v)
}

func isPlannerDefault(name, v string) bool {
	def, ok := plannerDefaults[name]
	if !ok {
		return false
	}
	if v == def {
		return true
	}
	a, errA := strconv.ParseFloat(v, 64)
	b, errB := strconv.ParseFloat(def, 64)
	return errA == nil && errB == nil && a == b // 500 == 500.0, as Python compares
}

// pyFloat formats like Python's repr(float): 200.0, 0.5, 1e-05, 1e+16.
func pyFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if f != 0 {
		if e := math.Floor(math.Log10(math.Abs(f))); e < -4 || e >= 16 {
			s := strconv.FormatFloat(f, 'e', -1, 64)
			return s
		}
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// PlannerProfileData is the data of ConfigMap planner-profile-data
// (profiler.md §12.5): prefill_raw_data.json and decode_raw_data.json, with
// prefill_isl and max_kv_tokens as integers.
func PlannerProfileData(r *results.Results) (map[string]string, error) {
	if r == nil {
		return nil, fmt.Errorf("results are nil; run the profile before rendering planner-profile-data")
	}
	p, d := r.PrefillInterpolation, r.DecodeInterpolation
	if p == nil || len(p.ISL) < minPrefillInterpolation {
		n := 0
		if p != nil {
			n = len(p.ISL)
		}
		return nil, fmt.Errorf("results.prefillInterpolation has %d points; the planner needs at least %d, so raise sweep.prefillInterpolationGranularity or the context length", n, minPrefillInterpolation)
	}
	if d == nil || len(d.KVUsage) == 0 {
		return nil, fmt.Errorf("results.decodeInterpolation has no points; the decode grid must be profiled (check max_kv_tokens in the log)")
	}
	if err := checkPrefillInterpolation(p); err != nil {
		return nil, err
	}
	if err := checkDecodeInterpolation(d); err != nil {
		return nil, err
	}
	isl, err := intsOf("results.prefillInterpolation.prefill_isl", p.ISL)
	if err != nil {
		return nil, err
	}
	var pb bytes.Buffer
	pb.WriteString(`{"prefill_isl": `)
	writeInts(&pb, isl)
	pb.WriteString(`, "prefill_ttft": `)
	writeFloats(&pb, p.TTFTMs)
	pb.WriteString(`, "prefill_thpt_per_gpu": `)
	writeFloats(&pb, p.ThptPerGPU)
	pb.WriteString("}")

	var db bytes.Buffer
	for i, a := range []struct {
		name string
		v    []float64
	}{{"x_kv_usage", d.KVUsage}, {"y_context_length", d.ContextLength}, {"z_itl", d.ITLMs}, {"z_thpt_per_gpu", d.ThptPerGPU}} {
		if i == 0 {
			db.WriteString("{")
		} else {
			db.WriteString(", ")
		}
		fmt.Fprintf(&db, "%q: ", a.name)
		writeFloats(&db, a.v)
	}
	fmt.Fprintf(&db, `, "max_kv_tokens": %d}`, d.MaxKVTokens)
	return map[string]string{prefillRawDataJSON: pb.String(), decodeRawDataJSON: db.String()}, nil
}

func writeInts(b *bytes.Buffer, v []int64) {
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	b.WriteByte(']')
}

func writeFloats(b *bytes.Buffer, v []float64) {
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pyFloat(x))
	}
	b.WriteByte(']')
}

// ConfigWithPlanner renders config_with_planner.yaml (dgdr-api.md §8.3): the
// planner-profile-data ConfigMap, when both grids exist, then the DGD.
func ConfigWithPlanner(r *results.Results, in Inputs) ([]byte, error) {
	p, err := resolve(r, in)
	if err != nil {
		return nil, err
	}
	d, err := p.dgd(r)
	if err != nil {
		return nil, err
	}
	return p.multiDoc(r, d)
}

// MockerConfigWithPlanner renders mocker_config_with_planner.yaml (§14.3):
// the same graph with the engine simulator in place of the workers.
func MockerConfigWithPlanner(r *results.Results, in Inputs) ([]byte, error) {
	p, err := resolve(r, in)
	if err != nil {
		return nil, err
	}
	d, err := p.mocker()
	if err != nil {
		return nil, err
	}
	return p.multiDoc(r, d)
}

func (p *plan) multiDoc(r *results.Results, d *dgd.DynamoGraphDeployment) ([]byte, error) {
	var docs [][]byte
	if p.plannerData {
		data, err := PlannerProfileData(r)
		if err != nil {
			return nil, err
		}
		meta := map[string]any{"name": p.configMapName, "labels": p.labels}
		if p.namespace != "" {
			meta["namespace"] = p.namespace
		}
		cm, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
		if err != nil {
			return nil, fmt.Errorf("encoding ConfigMap %s: %w", p.configMapName, err)
		}
		docs = append(docs, cm)
	}
	y, err := DGDYAML(d)
	if err != nil {
		return nil, err
	}
	docs = append(docs, y)
	return bytes.Join(docs, []byte("---\n")), nil
}

// DGDYAML renders a DGD without the empty status and creationTimestamp that
// the Go types would otherwise carry.
func DGDYAML(d *dgd.DynamoGraphDeployment) ([]byte, error) {
	return manifestYAML(d, "DGD "+d.Name)
}

// manifestYAML is obj as a manifest to apply: YAML without an empty status
// or a null creationTimestamp.
func manifestYAML(obj any, what string) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", what, err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", what, err)
	}
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	}
	if md, ok := m["metadata"].(map[string]any); ok && md["creationTimestamp"] == nil {
		delete(md, "creationTimestamp")
	}
	y, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", what, err)
	}
	return y, nil
}

// mocker is §14.3: Frontend, prefill and decode simulator workers reading the
// profile data, and the Planner with --backend=mocker (appended if absent, P11).
func (p *plan) mocker() (*dgd.DynamoGraphDeployment, error) {
	d := p.skeleton()
	fe, err := p.frontend()
	if err != nil {
		return nil, err
	}
	d.Spec.Services[serviceFrontend] = fe
	for _, w := range []struct{ sub, role string }{{subPrefill, "--is-prefill-worker"}, {subDecode, "--is-decode-worker"}} {
		args := []string{"--model-path", p.modelPath, "--model-name", p.model, w.role}
		eps := extraPodSpec{MainContainer: &container{Image: p.image, Command: []string{"python3", "-m", "dynamo.mocker"}}}
		if p.plannerData {
			args = append(args, "--planner-profile-data", PlannerProfileMountPath)
			p.mountProfileData(&eps)
		}
		eps.MainContainer.Args = args
		raw, err := rawPodSpec(eps)
		if err != nil {
			return nil, err
		}
		d.Spec.Services[w.sub] = &dgd.ServiceSpec{ComponentType: componentWorker, SubComponentType: w.sub,
			Replicas: int32p(1), VolumeMounts: p.modelMounts(), ExtraPodSpec: raw}
	}
	args := make([]string, 0, len(p.plannerArgs)+1)
	replaced := false
	for _, a := range p.plannerArgs {
		if strings.HasPrefix(a, "--backend=") {
			a, replaced = "--backend=mocker", true
		}
		args = append(args, a)
	}
	if !replaced {
		args = append(args, "--backend=mocker")
	}
	return p.finish(d, args)
}
