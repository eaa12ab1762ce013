package admission

import (
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

const baseConfig = `
sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}
hardware: {min_num_gpus_per_engine: 1, max_num_gpus_per_engine: 8}
`

// mk builds a valid vLLM DGDR for Qwen3-0.6B with the given config, written
// as YAML, or as raw JSON when it starts with "json:".
func mk(t testing.TB, config string) *v1alpha1.DynamoGraphDeploymentRequest {
	t.Helper()
	var raw []byte
	if rest, ok := strings.CutPrefix(config, "json:"); ok {
		raw = []byte(rest)
	} else {
		j, err := yaml.YAMLToJSON([]byte(config))
		if err != nil {
			t.Fatalf("config YAML: %v", err)
		}
		raw = j
	}
	return &v1alpha1.DynamoGraphDeploymentRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "nvidia.com/v1alpha1", Kind: "DynamoGraphDeploymentRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: "qwen", Namespace: "team-a"},
		Spec: v1alpha1.DynamoGraphDeploymentRequestSpec{
			Model:   "Qwen/Qwen3-0.6B",
			Backend: "vllm",
			ProfilingConfig: v1alpha1.ProfilingConfigSpec{
				ProfilerImage: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1",
				Config:        &apiextensionsv1.JSON{Raw: raw},
			},
		},
	}
}

const (
	cfgPath = "spec.profilingConfig.config"
	slaP    = cfgPath + ".sla"
	hwP     = cfgPath + ".hardware"
	sweepP  = cfgPath + ".sweep"
	aicQwen = `
sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}
sweep: {use_ai_configurator: true}
aic: {system: h200_sxm}
`
)

// invalidCases are distinct invalid inputs, each with the exact field path
// of the error and a fragment of its message.
var invalidCases = []struct {
	name   string
	config string
	mod    func(*v1alpha1.DynamoGraphDeploymentRequest)
	path   string
	msg    string
}{
	// spec (E1, E10, backend)
	{"empty model", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Model = "" },
		"spec.model", "model is required; set spec.model"},
	{"blank model", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Model = "  " },
		"spec.model", "model is required"},
	{"empty backend", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Backend = "" },
		"spec.backend", "backend is required; set spec.backend to vllm, sglang, trtllm or auto"},
	{"unknown backend", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Backend = "tensorrt" },
		"spec.backend", `Unsupported value: "tensorrt": supported values: "vllm", "sglang", "trtllm"`},
	{"mocker backend", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Backend = "mocker" },
		"spec.backend", "invalid backend: mocker (must be vllm, sglang, or trtllm); to run the engine simulator set spec.useMocker: true"},
	{"empty profiler image", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.ProfilingConfig.ProfilerImage = "" },
		"spec.profilingConfig.profilerImage", "spec.profilingConfig.profilerImage is required; set it to the runtime image"},
	{"profiler image with a space", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.ProfilingConfig.ProfilerImage = "nvcr.io/x:1 --privileged"
	}, "spec.profilingConfig.profilerImage", "must be an image reference without spaces"},
	{"configMapRef without name", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.ProfilingConfig.ConfigMapRef = &v1alpha1.ConfigMapKeySelector{}
	}, "spec.profilingConfig.configMapRef.name", "configMapRef.name is required"},
	{"configMapRef bad key", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.ProfilingConfig.ConfigMapRef = &v1alpha1.ConfigMapKeySelector{Name: "base", Key: "a/b"}
	}, "spec.profilingConfig.configMapRef.key", "configMapRef.key must be a ConfigMap key"},
	// deploymentOverrides (E9, E11)
	{"managed label dgdr name", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{Labels: map[string]string{"dgdr.nvidia.com/name": "x"}}
	}, "spec.deploymentOverrides.labels[dgdr.nvidia.com/name]", "spec.deploymentOverrides.labels[dgdr.nvidia.com/name] is managed by the DGDR controller and cannot be overridden"},
	{"managed label managed-by", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{Labels: map[string]string{"nvidia.com/managed-by": "me"}}
	}, "spec.deploymentOverrides.labels[nvidia.com/managed-by]", "is managed by the DGDR controller"},
	{"bad label value", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{Labels: map[string]string{"team": "a b"}}
	}, "spec.deploymentOverrides.labels", "a valid label must be"},
	{"override name not DNS", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{Name: "Bad_Name"}
	}, "spec.deploymentOverrides.name", "spec.deploymentOverrides.name: a lowercase RFC 1123 subdomain"},
	{"override namespace not DNS", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{Namespace: "Team A"}
	}, "spec.deploymentOverrides.namespace", "must be a namespace name"},
	// config shape (E2, E3, E4)
	{"no config", "", func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.ProfilingConfig.Config = nil },
		cfgPath, "spec.profilingConfig.config is required and must not be empty; add at least the sla block"},
	{"config is a list", "json:[1,2]", nil, cfgPath, "failed to parse spec.profilingConfig.config: the config must be an object, got list"},
	{"config is not JSON", "json:{sla", nil, cfgPath, "failed to parse spec.profilingConfig.config"},
	{"sla is a string", `sla: fast`, nil, slaP, "profilingConfig.config.sla must be an object, got string"},
	{"deployment is a number", baseConfig + "deployment: 5\n", nil, cfgPath + ".deployment", "profilingConfig.config.deployment must be an object, got number"},
	{"engine is a list", baseConfig + "engine: [vllm]\n", nil, cfgPath + ".engine", "profilingConfig.config.engine must be an object, got list"},
	{"hardware is a string", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: h100}`, nil, hwP, "profilingConfig.config.hardware must be an object, got string"},
	{"sweep is a bool", baseConfig + "sweep: true\n", nil, sweepP, "profilingConfig.config.sweep must be an object, got boolean"},
	{"planner is a number", baseConfig + "planner: 3\n", nil, cfgPath + ".planner", "profilingConfig.config.planner must be an object, got number"},
	// SLA (E6, E12, E15)
	{"isl as string", `sla: {isl: "3000", osl: 150, ttft: 200, itl: 20}`, nil, slaP + ".isl", "sla.isl must be an integer, not a string; remove the quotes (isl: 3000)"},
	{"ttft as string", `sla: {isl: 3000, osl: 150, ttft: "200", itl: 20}`, nil, slaP + ".ttft", "sla.ttft must be a number, not a string; remove the quotes (ttft: 200)"},
	{"itl with unit", `sla: {isl: 3000, osl: 150, ttft: 200, itl: 20ms}`, nil, slaP + ".itl", "sla.itl must be a number, not a string"},
	{"fractional isl", `sla: {isl: 3000.5, osl: 150, ttft: 200, itl: 20}`, nil, slaP + ".isl", "sla.isl must be an integer"},
	{"zero isl", `sla: {isl: 0, osl: 150, ttft: 200, itl: 20}`, nil, slaP + ".isl", "sla.isl must be positive"},
	{"negative osl", `sla: {isl: 3000, osl: -1, ttft: 200, itl: 20}`, nil, slaP + ".osl", "sla.osl must be positive"},
	{"negative ttft", `sla: {isl: 3000, osl: 150, ttft: -5, itl: 20}`, nil, slaP + ".ttft", "sla.ttft must be positive"},
	{"zero itl", `sla: {isl: 3000, osl: 150, ttft: 200, itl: 0}`, nil, slaP + ".itl", "sla.itl must be positive"},
	{"ttft below 0.01 ms", `sla: {isl: 3000, osl: 150, ttft: 0.001, itl: 20}`, nil, slaP + ".ttft", "sla.ttft (0.001 ms) is below 0.01 ms"},
	{"absurd isl", `sla: {isl: 20000000, osl: 150, ttft: 200, itl: 20}`, nil, slaP + ".isl", "sla.isl (20000000 tokens) is above 10000000"},
	{"non-finite ttft", `json:{"sla":{"isl":3000,"osl":150,"ttft":1e999,"itl":20}}`, nil, slaP + ".ttft", "must be a finite number: this one is beyond the range of a 64-bit float"},
	{"boolean itl", `sla: {isl: 3000, osl: 150, ttft: 200, itl: true}`, nil, slaP + ".itl", "sla.itl must be a number, got boolean"},
	{"typo tftt", `sla: {isl: 3000, osl: 150, ttft: 200, itl: 20, tftt: 100}`, nil, slaP + ".tftt", `unknown key "tftt" in sla: did you mean ttft?`},
	{"unknown sla key", `sla: {isl: 3000, osl: 150, ttft: 200, itl: 20, e2e: 1000}`, nil, slaP + ".e2e", "the sla block takes only isl, osl, ttft and itl (or e2eLatency"},
	{"e2e beside ttft", `sla: {isl: 3000, osl: 150, ttft: 200, e2eLatency: 5000}`, nil, slaP + ".ttft", "sla.ttft and sla.e2eLatency (5000 ms) are alternatives"},
	{"e2e negative", `sla: {isl: 3000, osl: 150, e2eLatency: -1}`, nil, slaP + ".e2eLatency", "sla.e2eLatency must be at least 0.01 ms"},
	{"optimization unknown", `sla: {isl: 3000, osl: 150, optimizationType: cost}`, nil, slaP + ".optimizationType", `Unsupported value: "cost": supported values: "latency", "throughput"`},
	{"context overflow", `sla: {isl: 40000, osl: 2000, ttft: 2000, itl: 20}`, nil, slaP + ".isl",
		"sla.isl + sla.osl (40000 + 2000 = 42000 tokens) exceeds the max context of Qwen/Qwen3-0.6B (40960 tokens)"},
	// hardware (E5, E15)
	{"min above max", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {min_num_gpus_per_engine: 4, max_num_gpus_per_engine: 2}}`, nil,
		hwP + ".min_num_gpus_per_engine", "invalid GPU range: minNumGpusPerEngine (4) cannot be greater than maxNumGpusPerEngine (2)"},
	{"min above max camel", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {minNumGpusPerEngine: 8, maxNumGpusPerEngine: 4}}`, nil,
		hwP + ".minNumGpusPerEngine", "invalid GPU range: minNumGpusPerEngine (8) cannot be greater than maxNumGpusPerEngine (4)"},
	{"zero max", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {max_num_gpus_per_engine: 0}}`, nil,
		hwP + ".max_num_gpus_per_engine", "hardware.maxNumGpusPerEngine must be an integer of at least 1"},
	{"huge max", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {max_num_gpus_per_engine: 4096}}`, nil,
		hwP + ".max_num_gpus_per_engine", "(4096) is above 1024 GPUs"},
	{"gpus per node as string", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {num_gpus_per_node: "8"}}`, nil,
		hwP + ".num_gpus_per_node", "hardware.numGpusPerNode must be an integer, not a string; remove the quotes (num_gpus_per_node: 8)"},
	{"fractional min", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {minNumGpusPerEngine: 1.5}}`, nil,
		hwP + ".minNumGpusPerEngine", "hardware.minNumGpusPerEngine must be an integer"},
	{"no power of two", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {min_num_gpus_per_engine: 3, max_num_gpus_per_engine: 3}}`, nil,
		hwP + ".max_num_gpus_per_engine", "no power-of-two GPU count in [3, 3]"},
	{"discovery as string", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {enable_gpu_discovery: "yes"}}`, nil,
		hwP + ".enable_gpu_discovery", "hardware.enableGpuDiscovery must be a boolean (true or false), got string"},
	// sweep (E7, E15)
	{"AIC flag as string", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {use_ai_configurator: "true"}}`, nil,
		sweepP + ".use_ai_configurator", "sweep.useAiConfigurator must be a boolean (true or false), got string; remove the quotes (use_ai_configurator: true)"},
	{"dry run as number", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {dryRun: 1}}`, nil,
		sweepP + ".dryRun", "sweep.dryRun must be a boolean (true or false), got number"},
	{"decode granularity 1", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {decode_interpolation_granularity: 1}}`, nil,
		sweepP + ".decode_interpolation_granularity", "sweep.decodeInterpolationGranularity must be >= 2"},
	{"prefill granularity 0", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {prefillInterpolationGranularity: 0}}`, nil,
		sweepP + ".prefillInterpolationGranularity", "sweep.prefillInterpolationGranularity must be >= 1"},
	{"decode granularity huge", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {decode_interpolation_granularity: 1000}}`, nil,
		sweepP + ".decode_interpolation_granularity", "sweep.decodeInterpolationGranularity must be <= 64"},
	{"granularity as string", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {prefill_interpolation_granularity: "16"}}`, nil,
		sweepP + ".prefill_interpolation_granularity", "must be an integer, not a string"},
	{"webui port out of range", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {webui_port: 70000}}`, nil,
		sweepP + ".webui_port", "sweep.webuiPort must be <= 65535"},
	// AI Configurator (E14)
	{"AIC head rule", aicQwen + "hardware: {max_num_gpus_per_engine: 8}\n", nil, hwP + ".max_num_gpus_per_engine",
		"num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4; set spec.profilingConfig.config.hardware.max_num_gpus_per_engine to 4"},
	{"AIC head rule camel", aicQwen + "hardware: {maxNumGpusPerEngine: 16}\n", nil, hwP + ".maxNumGpusPerEngine",
		"num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4; set spec.profilingConfig.config.hardware.maxNumGpusPerEngine to 4"},
	{"AIC min too large", aicQwen + "hardware: {min_num_gpus_per_engine: 8, max_num_gpus_per_engine: 8}\n", nil, hwP + ".min_num_gpus_per_engine",
		"num_heads 16 should be divisible by tp_size 8 and the division result should be >= 4; set spec.profilingConfig.config.hardware.min_num_gpus_per_engine to 1 and hardware.max_num_gpus_per_engine to 4"},
	{"AIC unknown system", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {use_ai_configurator: true, aic_system: h300_sxm}}`, nil,
		sweepP + ".aic_system", `sweep.aicSystem "h300_sxm" is not a system the estimator knows; set aic_system to one of a100_sxm`},
	{"AIC without system", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {use_ai_configurator: true}}`, nil,
		sweepP + ".aic_system", "AI Configurator mode (sweep.use_ai_configurator: true) needs a GPU system"},
	{"AIC unknown model", aicQwen, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Model = "acme/secret-7b" },
		"spec.model", `AI Configurator mode: model "acme/secret-7b" is not in the estimator's catalog; set spec.profilingConfig.config.sweep.aic_hf_id`},
	{"AIC unknown hf id", aicQwen, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		setRaw(d, `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"sweep":{"use_ai_configurator":true,"aic_system":"h100_sxm","aic_hf_id":"acme/x"}}`)
	}, sweepP + ".aic_hf_id", `AI Configurator mode: model "acme/x" is not in the estimator's catalog`},
	{"AIC unknown model name", aicQwen, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
		d.Spec.Model = "acme/secret-7b"
		setRaw(d, `{"sla":{"isl":3000,"osl":150,"ttft":200,"itl":20},"sweep":{"use_ai_configurator":true},"aic":{"system":"h200_sxm","model_name":"SECRET_7B"}}`)
	}, cfgPath + ".aic.model_name", `neither spec.model "acme/secret-7b" nor the AI Configurator model name "SECRET_7B" is in the estimator's catalog`},
	// key spellings (E13)
	{"camel and snake differ", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, hardware: {maxNumGpusPerEngine: 4, max_num_gpus_per_engine: 8}}`, nil,
		hwP + ".max_num_gpus_per_engine", "conflicts with spec.profilingConfig.config.hardware.maxNumGpusPerEngine (4): the same setting is given in camelCase and snake_case with different values; keep one of them"},
	{"AIC flag both spellings", `{sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}, sweep: {useAiConfigurator: false, use_ai_configurator: true}}`, nil,
		sweepP + ".use_ai_configurator", "conflicts with spec.profilingConfig.config.sweep.useAiConfigurator (false)"},
	// other typed keys and the planner (E15)
	{"deployment namespace not DNS", baseConfig + "deployment: {namespace: Not_Valid}\n", nil, cfgPath + ".deployment.namespace",
		"deployment.namespace must be a namespace name"},
	{"deployment timeout zero", baseConfig + "deployment: {deploymentTimeout: 0}\n", nil, cfgPath + ".deployment.deploymentTimeout",
		"deployment.deploymentTimeout must be >= 1"},
	{"max context as string", baseConfig + "engine: {max_context_length: \"8k\"}\n", nil, cfgPath + ".engine.max_context_length",
		"engine.maxContextLength must be an integer, not a string"},
	{"aic system as list", baseConfig + "aic: {system: [h100_sxm]}\n", nil, cfgPath + ".aic.system", "aic.system must be a string, got list"},
	{"planner min endpoint as string", baseConfig + "planner: {planner_min_endpoint: \"2\"}\n", nil, cfgPath + ".planner.planner_min_endpoint",
		"planner.planner_min_endpoint must be an integer, not a string; remove the quotes (planner_min_endpoint: 2)"},
	{"planner interval fractional", baseConfig + "planner: {adjustmentInterval: 1.5}\n", nil, cfgPath + ".planner.adjustmentInterval",
		"planner.adjustmentInterval must be an integer"},
	{"planner bool as string", baseConfig + "planner: {no_operation: \"yes\"}\n", nil, cfgPath + ".planner.no_operation",
		"planner.no_operation must be a boolean (true or false), got string"},
	{"planner ttft negative", baseConfig + "planner: {planner_ttft: -1}\n", nil, cfgPath + ".planner.planner_ttft",
		"planner.planner_ttft must be positive (milliseconds)"},
	// strict keys in every block (E16)
	{"hardware typo", baseConfig[:len(baseConfig)-len("max_num_gpus_per_engine: 8}\n")] + "max_num_gpu_per_engine: 2}\n", nil, hwP + ".max_num_gpu_per_engine",
		`unknown key "max_num_gpu_per_engine" in hardware: did you mean max_num_gpus_per_engine? The hardware block takes only`},
	{"sweep typo", baseConfig + "sweep: {use_ai_configurtor: true}\n", nil, sweepP + ".use_ai_configurtor",
		`unknown key "use_ai_configurtor" in sweep: did you mean use_ai_configurator?`},
	{"aic typo", baseConfig + "aic: {sytem: h200_sxm}\n", nil, cfgPath + ".aic.sytem", `unknown key "sytem" in aic: did you mean system?`},
	{"engine typo", baseConfig + "engine: {maxContextLenght: 8192}\n", nil, cfgPath + ".engine.maxContextLenght",
		`did you mean maxContextLength?`},
	{"deployment typo", baseConfig + "deployment: {dgdImag: x}\n", nil, cfgPath + ".deployment.dgdImag", `did you mean dgdImage?`},
	{"model cache typo", baseConfig + "deployment: {modelCache: {pvcNme: cache}}\n", nil, cfgPath + ".deployment.modelCache.pvcNme",
		`unknown key "pvcNme" in deployment.modelCache: did you mean pvcName?`},
	{"top-level typo", baseConfig + "hardwre: {num_gpus_per_node: 8}\n", nil, cfgPath + ".hardwre",
		`unknown key "hardwre" in spec.profilingConfig.config: did you mean hardware?`},
	{"unknown section", baseConfig + "tuning: {fast: true}\n", nil, cfgPath + ".tuning", "the spec.profilingConfig.config block takes only aic, deployment"},
	{"planner typo", baseConfig + "planner: {plannerMinEndpint: 2}\n", nil, cfgPath + ".planner.plannerMinEndpint",
		`did you mean minEndpoint (the planner's --min-endpoint)?`},
	{"planner predictor as number", baseConfig + "planner: {load_predictor: [arima]}\n", nil, cfgPath + ".planner.load_predictor",
		"planner.load_predictor must be a string, got list"},
}

func setRaw(d *v1alpha1.DynamoGraphDeploymentRequest, j string) {
	d.Spec.ProfilingConfig.Config = &apiextensionsv1.JSON{Raw: []byte(j)}
}

func TestValidateRejects(t *testing.T) {
	if len(invalidCases) < 45 {
		t.Fatalf("want at least 45 invalid inputs, have %d", len(invalidCases))
	}
	seen := map[string]bool{}
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			if seen[tc.name] {
				t.Fatalf("duplicate case name %q", tc.name)
			}
			seen[tc.name] = true
			d := mk(t, tc.config)
			if tc.mod != nil {
				tc.mod(d)
			}
			_, errs := Validate(d)
			requireError(t, errs, tc.path, tc.msg)
			// The same object through Default then Validate (the webhook's
			// order and the plugin's) is refused with the same cause.
			d2 := d.DeepCopy()
			if _, derr := Default(d2); derr == nil {
				_, errs2 := Validate(d2)
				requireError(t, errs2, tc.path, tc.msg)
			} else if !strings.Contains(derr.Error(), tc.msg) {
				t.Errorf("Default failed with %v; want it to mention %q", derr, tc.msg)
			}
			// And no error anywhere is a bare "invalid".
			for _, e := range errs {
				if strings.TrimSpace(strings.ToLower(e.Detail)) == "invalid" || e.Field == "" {
					t.Errorf("error without a field or a fix: %v", e)
				}
			}
		})
	}
}

// requireError fails unless errs holds an error at exactly path whose
// text contains msg.
func requireError(t *testing.T, errs field.ErrorList, path, msg string) {
	t.Helper()
	for _, e := range errs {
		if e.Field == path && strings.Contains(e.Error(), msg) {
			return
		}
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	t.Fatalf("want an error at %s containing %q; got:\n  %s", path, msg, strings.Join(got, "\n  "))
}

func TestExamplesAccepted(t *testing.T) {
	for _, n := range exampleNames {
		t.Run(n, func(t *testing.T) {
			d := loadExample(t, n)
			if _, err := Default(d); err != nil {
				t.Fatalf("Default: %v", err)
			}
			ws, errs := Validate(d)
			if len(errs) > 0 {
				t.Fatalf("example refused: %v", errs.ToAggregate())
			}
			for _, w := range ws {
				if strings.Contains(w, "SLA cannot be met") {
					t.Errorf("example %s draws an infeasibility warning: %s", n, w)
				}
			}
		})
	}
}

// What upstream defaults instead of refusing is admitted with a warning that
// names the values profiling will use.
func TestValidateDefaultsWithWarnings(t *testing.T) {
	cases := []struct {
		name, config string
		mod          func(*v1alpha1.DynamoGraphDeploymentRequest)
		warning      string
	}{
		{"no sla", "json:{}", nil, "spec.profilingConfig.config.sla is not set: profiling uses the profiler's defaults (isl 3000, osl 500, ttft 50 ms, itl 10 ms)"},
		{"missing isl", `sla: {osl: 150, ttft: 200, itl: 20}`, nil, "sla does not set isl: profiling uses the profiler's defaults (isl 3000)"},
		{"missing ttft and itl", `sla: {isl: 3000, osl: 150}`, nil, "sla does not set ttft, itl: profiling uses the profiler's defaults (ttft 50 ms, itl 10 ms)"},
		{"null ttft", `sla: {isl: 3000, osl: 150, ttft: null, itl: 20}`, nil, "sla does not set ttft"},
		{"MoE without gpus per node", `{sla: {isl: 2048, osl: 512, ttft: 300, itl: 25}, hardware: {max_num_gpus_per_engine: 16}}`,
			func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Model = "deepseek-ai/DeepSeek-R1" },
			"hardware.num_gpus_per_node is not set for the MoE model deepseek-ai/DeepSeek-R1: profiling in the cluster takes it from the GPU nodes, profiling without a cluster assumes 8 GPUs per node"},
		{"backend auto from the image", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) { d.Spec.Backend = "auto" },
			"spec.backend is auto: profiling uses vllm (spec.profilingConfig.profilerImage nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1 is the vllm runtime)"},
		{"backend auto from workers image", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
			d.Spec.Backend = "auto"
			d.Spec.DeploymentOverrides = &v1alpha1.DeploymentOverridesSpec{WorkersImage: "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.7.1"}
		}, "profiling uses sglang (spec.deploymentOverrides.workersImage nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.7.1 is the sglang runtime)"},
		{"backend auto, nothing names one", baseConfig, func(d *v1alpha1.DynamoGraphDeploymentRequest) {
			d.Spec.Backend = "auto"
			d.Spec.ProfilingConfig.ProfilerImage = "registry.example.com/dynamo-frontend:1.0.0"
		}, "profiling uses vllm (no runtime image or engine.backend names one; vllm is the profiler's default)"},
		{"e2e alone", `sla: {isl: 3000, osl: 150, e2eLatency: 5000}`, nil, ""},
		{"optimization alone", `sla: {isl: 3000, osl: 150, optimizationType: throughput}`, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := mk(t, tc.config)
			if tc.mod != nil {
				tc.mod(d)
			}
			if _, err := Default(d); err != nil {
				t.Fatal(err)
			}
			ws, errs := Validate(d)
			if len(errs) > 0 {
				t.Fatalf("refused: %v", errs.ToAggregate())
			}
			if tc.warning == "" {
				for _, w := range ws {
					if strings.Contains(w, "sla") {
						t.Errorf("unexpected SLA warning: %s", w)
					}
				}
				return
			}
			for _, w := range ws {
				if strings.Contains(w, tc.warning) {
					return
				}
			}
			t.Errorf("no warning containing %q in:\n  %s", tc.warning, strings.Join(ws, "\n  "))
		})
	}
}

// A planner key far from every planner flag is passed on with a warning
// (planner flags change with each Dynamo release); each block's own keys,
// in both spellings, are accepted.
func TestStrictKeysAcceptKnownAndWarnOnForeignPlannerFlags(t *testing.T) {
	d := mk(t, baseConfig+`planner: {plannerMinEndpoint: 2, adjustment-interval: 60, my_custom_flag: 1}
sweep: {useAiConfigurator: false, prefill_interpolation_granularity: 8}
deployment: {model_cache_pvc_name: cache, modelCache: {pvcName: cache, modelPathInPvc: m}}
workload: {concurrency: 4}
output_dir: /data
`)
	warns, errs := Validate(d)
	if len(errs) != 0 {
		t.Fatalf("accepted keys refused: %v", errs)
	}
	found := false
	for _, w := range warns {
		if strings.Contains(w, "planner.my_custom_flag is not a flag of the SLA planner") && strings.Contains(w, "--my-custom-flag") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no warning for the foreign planner flag: %q", warns)
	}
}
