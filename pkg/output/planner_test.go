package output

import (
	"slices"
	"strings"
	"testing"
)

func TestPlannerArgs(t *testing.T) {
	cases := []struct {
		name, backend, config string
		want                  []string
		warn                  string
	}{
		{"TV-12 golden", "vllm", "", []string{"--itl=20", "--ttft=200"}, ""},
		{"TV-18 float stays float", "vllm", `{"sla":{"isl":3000,"osl":150,"ttft":200.5,"itl":20}}`, []string{"--itl=20", "--ttft=200.5"}, ""},
		{"backend other than default", "sglang", "", []string{"--backend=sglang", "--itl=20", "--ttft=200"}, ""},
		{"planner section", "vllm", `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{
			"adjustmentInterval":60,"planner_adjustment_interval":30,"minEndpoint":1,"no-operation":true,"noCorrection":false,
			"metricPullingPrometheusEndpoint":"http://prometheus-kube-prometheus-prometheus.monitoring.svc.cluster.local:9090",
			"planner_max_gpu_budget":16,"namespace":"x","profileResultsDir":"/elsewhere","customThing":"v","nothing":null}}`,
			[]string{"--custom-thing=v", "--itl=20", "--no-operation", "--ttft=200", "--adjustment-interval=30", "--max-gpu-budget=16"},
			"planner.customThing is not a flag"},
		{"default ttft as int is skipped", "vllm", `{"sla":{"isl":3000,"osl":150,"ttft":500,"itl":50}}`, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := typicalResults(tc.backend, mapping("TP", 2), mapping("TP", 4))
			in := typicalInputs(tc.backend, tc.config)
			r.Input.SLA = in.Settings.SLA
			got, warns, err := plannerArgs(r, in)
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(tc.want), "--prefill-engine-num-gpu=2", "--decode-engine-num-gpu=4", "--profile-results-dir=/workspace/profiling_results")
			if !slices.Equal(got, want) {
				t.Errorf("args\n got %q\nwant %q", got, want)
			}
			if tc.warn != "" && !slices.ContainsFunc(warns, func(s string) bool { return strings.Contains(s, tc.warn) }) {
				t.Errorf("warnings %q lack %q", warns, tc.warn)
			}
		})
	}
}

func TestPlannerArgsWhatIfSLA(t *testing.T) {
	// A what-if SLA (profile --from ... --ttft 100) differs from the config: it is rendered as profiled.
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	r.Input.SLA.TTFT = 100
	got, err := PlannerArgs(r, typicalInputs("vllm", ""))
	if err != nil || !slices.Contains(got, "--ttft=100.0") {
		t.Errorf("args = %q, %v", got, err)
	}
}

func TestPlannerArgsRejectsLists(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	in := typicalInputs("vllm", `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"planner":{"loadPredictor":["a","b"]}}`)
	if _, err := PlannerArgs(r, in); err == nil || !strings.Contains(err.Error(), "planner.load_predictor") || !strings.Contains(err.Error(), "give one value") {
		t.Errorf("want a list error naming the key, got %v", err)
	}
}

func TestMockerPlannerBackend(t *testing.T) {
	for _, backend := range []string{"vllm", "sglang"} {
		r := typicalResults(backend, mapping("TP", 1), mapping("TP", 1))
		p, err := resolve(r, typicalInputs(backend, ""))
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.mocker()
		if err != nil {
			t.Fatal(err)
		}
		args := mainContainer(t, d.Spec.Services["Planner"]).Args
		if n := countPrefix(args, "--backend="); n != 1 || !slices.Contains(args, "--backend=mocker") {
			t.Errorf("%s: mocker planner args %q need exactly one --backend=mocker (§19 P11)", backend, args)
		}
		w := mainContainer(t, d.Spec.Services["decode"])
		if !slices.Contains(w.Args, "--planner-profile-data") || len(w.VolumeMounts) != 1 || d.Spec.BackendFramework != "" {
			t.Errorf("%s: mocker decode worker %+v", backend, w)
		}
	}
}

func countPrefix(ss []string, p string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			n++
		}
	}
	return n
}

func TestPyFloat(t *testing.T) {
	for in, want := range map[float64]string{200: "200.0", 0.5: "0.5", 1e-5: "1e-05", 1e16: "1e+16", 2877.2123: "2877.2123", 0: "0.0", -3: "-3.0", 1234567: "1234567.0"} {
		if got := pyFloat(in); got != want {
			t.Errorf("pyFloat(%v) = %s, want %s", in, got, want)
		}
	}
}
