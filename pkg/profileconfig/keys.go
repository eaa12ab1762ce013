package profileconfig

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
var Sections = []string{"deployment", "engine", "hardware", "sweep", "sla", "aic", "planner"}

// SLAKeys are the keys the sla block may hold: the workload (isl, osl) and
// the targets (ttft and itl, or v1beta1's e2eLatency or optimizationType).
var SLAKeys = []string{"isl", "osl", "ttft", "itl", "e2eLatency", "optimizationType"}
