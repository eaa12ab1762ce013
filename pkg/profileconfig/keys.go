package profileconfig

import "strings"

// The keys of spec/dgdr-api.md §4.2 that this project reads.
var (
	KeyOutputDir = Key{"", "outputDir", "output_dir"}

	KeyDeploymentModel     = Key{"deployment", "model", ""}
	KeyDeploymentNamespace = Key{"deployment", "namespace", ""}
	KeyDeploymentService   = Key{"deployment", "serviceName", "service_name"}
	KeyDeploymentImage     = Key{"deployment", "dgdImage", "dgd_image"}
	KeyDeploymentTimeout   = Key{"deployment", "deploymentTimeout", "deployment_timeout"}
	KeyEngineBackend       = Key{"engine", "backend", ""}
	KeyEngineConfig        = Key{"engine", "config", ""}
	KeyEngineMaxContext    = Key{"engine", "maxContextLength", "max_context_length"}
	KeyEngineIsMoE         = Key{"engine", "isMoeModel", "is_moe_model"}
	KeyEngineMinGPUs       = Key{"engine", "minNumGpusPerEngine", ""}
	KeyEngineMaxGPUs       = Key{"engine", "maxNumGpusPerEngine", ""}
	KeyHardwareMinGPUs     = Key{"hardware", "minNumGpusPerEngine", "min_num_gpus_per_engine"}
	KeyHardwareMaxGPUs     = Key{"hardware", "maxNumGpusPerEngine", "max_num_gpus_per_engine"}
	KeyHardwareGPUsPerNode = Key{"hardware", "numGpusPerNode", "num_gpus_per_node"}
	KeyHardwareDiscovery   = Key{"hardware", "enableGpuDiscovery", "enable_gpu_discovery"}
	KeyHardwareSystem      = Key{"hardware", "system", ""}
	KeyHardwareGPUModel    = Key{"hardware", "gpuModel", ""}
	KeyHardwareGPUVramMiB  = Key{"hardware", "gpuVramMib", ""}
	KeyHardwareGPUType     = Key{"hardware", "gpu_type", ""}
	KeySweepUseAIC         = Key{"sweep", "useAiConfigurator", "use_ai_configurator"}
	KeySweepAICSystem      = Key{"sweep", "aicSystem", "aic_system"}
	KeySweepAICHfID        = Key{"sweep", "aicHfId", "aic_hf_id"}
	KeySweepAICBackend     = Key{"sweep", "aicBackend", "aic_backend"}
	KeySweepAICVersion     = Key{"sweep", "aicBackendVersion", "aic_backend_version"}
	KeySweepAICModelName   = Key{"sweep", "aicModelName", "aic_model_name"}
	KeySweepPrefillGran    = Key{"sweep", "prefillInterpolationGranularity", "prefill_interpolation_granularity"}
	KeySweepDecodeGran     = Key{"sweep", "decodeInterpolationGranularity", "decode_interpolation_granularity"}
	KeySweepDryRun         = Key{"sweep", "dryRun", "dry_run"}
	KeySweepPickWithWebui  = Key{"sweep", "pickWithWebui", "pick_with_webui"}
	KeySweepWebuiPort      = Key{"sweep", "webuiPort", "webui_port"}
	KeySweepMinGPUsDocOnly = Key{"sweep", "min_num_gpus", ""}
	KeySweepMaxGPUsDocOnly = Key{"sweep", "max_num_gpus", ""}
	KeyAICSystem           = Key{"aic", "system", ""}
	KeyAICModelName        = Key{"aic", "model_name", ""}
	KeyAICBackendVersion   = Key{"aic", "backend_version", ""}
	KeySLAISL              = Key{"sla", "isl", ""}
	KeySLAOSL              = Key{"sla", "osl", ""}
	KeySLATTFT             = Key{"sla", "ttft", ""}
	KeySLAITL              = Key{"sla", "itl", ""}
	KeySLAE2E              = Key{"sla", "e2eLatency", ""}
	KeySLAOptimize         = Key{"sla", "optimizationType", ""}
	KeyModelCachePVCName   = Key{"deployment", "modelCache", ""} // object: pvcName, pvcPath, mountPath
	KeyLegacyReadyTimeoutS = Key{"", "deployment_ready_timeout_s", ""}
)

// Sections are the config's known object-valued sections.
var Sections = []string{"deployment", "engine", "hardware", "sweep", "sla", "aic", "planner", "workload"}

// SLAKeys are the keys the sla block may hold: the workload (isl, osl) and
// the targets (ttft and itl, or v1beta1's e2eLatency or optimizationType).
var SLAKeys = []string{"isl", "osl", "ttft", "itl", "e2eLatency", "optimizationType"}

// allKeys are the Key values above, for the accepted-key lists.
var allKeys = []Key{KeyOutputDir, KeyDeploymentModel, KeyDeploymentNamespace, KeyDeploymentService, KeyDeploymentImage,
	KeyDeploymentTimeout, KeyEngineBackend, KeyEngineConfig, KeyEngineMaxContext, KeyEngineIsMoE, KeyEngineMinGPUs,
	KeyEngineMaxGPUs, KeyHardwareMinGPUs, KeyHardwareMaxGPUs, KeyHardwareGPUsPerNode, KeyHardwareDiscovery,
	KeyHardwareSystem, KeyHardwareGPUModel, KeyHardwareGPUVramMiB, KeyHardwareGPUType, KeySweepUseAIC, KeySweepAICSystem,
	KeySweepAICHfID, KeySweepAICBackend, KeySweepAICVersion, KeySweepAICModelName, KeySweepPrefillGran,
	KeySweepDecodeGran, KeySweepDryRun, KeySweepPickWithWebui, KeySweepWebuiPort, KeySweepMinGPUsDocOnly,
	KeySweepMaxGPUsDocOnly, KeyAICSystem, KeyAICModelName, KeyAICBackendVersion, KeySLAISL, KeySLAOSL, KeySLATTFT,
	KeySLAITL, KeySLAE2E, KeySLAOptimize, KeyModelCachePVCName, KeyLegacyReadyTimeoutS}

// extraKeys are accepted keys that have no Key of their own: the sections
// themselves, what the v1beta1 conversion stores (workload, the discovered
// GPU), and the spellings other Dynamo releases wrote.
var extraKeys = map[string][]string{
	"":           {"deployment", "engine", "hardware", "sweep", "sla", "aic", "planner", "workload"},
	"deployment": {"model_cache_pvc_name", "model_cache_pvc_path", "model_cache_mount_path"},
	"engine":     {"min_num_gpus_per_engine", "max_num_gpus_per_engine"},
	"hardware":   {"totalGpus", "deviceType"},
	"workload":   {"concurrency", "requestRate"},
	"modelCache": {"pvcName", "pvcPath", "mountPath", "modelPathInPvc", "pvcMountPath"},
}

// AcceptedKeys lists, per block ("" is the top level, modelCache is
// deployment.modelCache), every key the profiler of Dynamo 0.6.1 to 1.0
// or this project reads, in each spelling, and the documented keys that
// have no effect (admission warns about those). planner is open-ended and
// has its own list (PlannerFlags).
var AcceptedKeys = func() map[string][]string {
	out := map[string][]string{}
	for block, keys := range extraKeys {
		out[block] = append(out[block], keys...)
	}
	for _, k := range allKeys {
		out[k.Section] = append(out[k.Section], k.spellings()...)
	}
	return out
}()

// PlannerFlags are the SLA planner's flags of Dynamo 0.6.1 to 1.0, by
// their snake_case name: planner.<key> is one of them in any spelling
// (camelCase, kebab-case, with or without a planner_ prefix).
var PlannerFlags = []string{
	"environment", "namespace", "backend", "mode", "no_operation", "log_dir", "adjustment_interval",
	"max_gpu_budget", "min_endpoint", "decode_engine_num_gpu", "prefill_engine_num_gpu", "profile_results_dir",
	"ttft", "itl", "load_predictor", "load_predictor_log1p", "prophet_window_size", "load_predictor_warmup_trace",
	"kalman_q_level", "kalman_q_trend", "kalman_r", "kalman_min_points", "metric_pulling_prometheus_endpoint",
	"metric_reporting_prometheus_port", "no_correction", "model_name", "enable_throughput_scaling",
	"disable_throughput_scaling", "enable_loadbased_scaling", "loadbased_router_metrics_url",
	"loadbased_adjustment_interval", "loadbased_learning_window", "loadbased_scaling_down_sensitivity",
	"loadbased_metric_samples", "loadbased_min_observations",
}

// PlannerFlag is the planner flag a planner-section key names, in
// snake_case without the planner_ prefix.
func PlannerFlag(key string) string {
	return strings.TrimPrefix(CamelToSnake(key), "planner_")
}
