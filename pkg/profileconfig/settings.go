package profileconfig

import (
	"cmp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Settings is the typed reading of a config, with the profiler's defaults
// filled in where the profiler has them. The SLA has no defaults: a missing
// value stays zero and validation (pkg/admission) rejects it.
type Settings struct {
	OutputDir string

	Model          string // deployment.model
	Namespace      string // deployment.namespace
	DGDImage       string // deployment.dgd_image
	ServiceName    string
	ModelCache     ModelCache
	DeployTimeoutS int64

	Backend          string // engine.backend
	EngineConfig     string // engine.config
	MaxContextLength int64

	MinGPUs     int64 // 0: derive from the model and GPU
	MaxGPUs     int64 // 0: derive
	GPUsPerNode int64 // 0: discover, else 8
	System      string
	GPUModel    string
	GPUVramMiB  int64

	UseAIC             bool
	AICHfID            string
	AICModelName       string
	AICBackend         string
	AICBackendVersion  string
	PrefillGranularity int64
	DecodeGranularity  int64
	DryRun             bool

	SLA SLA

	// Planner holds the planner section as written, for the planner's args.
	Planner map[string]any
}

// SLA is the workload and latency target.
type SLA struct {
	ISL  int64   `json:"isl"`
	OSL  int64   `json:"osl"`
	TTFT float64 `json:"ttft"`
	ITL  float64 `json:"itl"`
}

// ModelCache is deployment.modelCache.
type ModelCache struct {
	PVCName   string
	PVCPath   string
	MountPath string
}

// Defaults the profiler applies.
const (
	DefaultPrefillGranularity = 16
	DefaultDecodeGranularity  = 6
	DefaultOutputDir          = "profiling_results"
	DefaultDeployTimeoutS     = 1800
	DefaultModelCacheMount    = "/opt/model-cache"
)

// Settings reads every known key; type errors come back with field paths.
func (c *Config) Settings() (Settings, field.ErrorList) {
	var errs field.ErrorList
	str := func(k Key) string {
		v, _, err := c.String(k)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	integer := func(k Key) int64 {
		v, _, err := c.Int(k)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	boolean := func(k Key) bool {
		v, _, err := c.Bool(k)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	number := func(k Key) float64 {
		v, _, err := c.Float(k)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	for _, sec := range Sections {
		if _, err := c.SectionMap(sec); err != nil {
			errs = append(errs, err)
		}
	}

	s := Settings{
		OutputDir:          str(KeyOutputDir),
		Model:              str(KeyDeploymentModel),
		Namespace:          str(KeyDeploymentNamespace),
		DGDImage:           str(KeyDeploymentImage),
		ServiceName:        str(KeyDeploymentService),
		DeployTimeoutS:     integer(KeyDeploymentTimeout),
		Backend:            str(KeyEngineBackend),
		EngineConfig:       str(KeyEngineConfig),
		MaxContextLength:   integer(KeyEngineMaxContext),
		MinGPUs:            integer(KeyHardwareMinGPUs),
		MaxGPUs:            integer(KeyHardwareMaxGPUs),
		GPUsPerNode:        integer(KeyHardwareGPUsPerNode),
		GPUModel:           str(KeyHardwareGPUModel),
		GPUVramMiB:         integer(KeyHardwareGPUVramMiB),
		UseAIC:             boolean(KeySweepUseAIC),
		AICHfID:            str(KeySweepAICHfID),
		AICBackend:         str(KeySweepAICBackend),
		PrefillGranularity: integer(KeySweepPrefillGran),
		DecodeGranularity:  integer(KeySweepDecodeGran),
		DryRun:             boolean(KeySweepDryRun),
		SLA: SLA{
			ISL:  integer(KeySLAISL),
			OSL:  integer(KeySLAOSL),
			TTFT: number(KeySLATTFT),
			ITL:  number(KeySLAITL),
		},
	}
	// Several places name the same thing; the first set wins (profiler.md §2.2).
	s.System = strings.ToLower(cmp.Or(str(KeySweepAICSystem), str(KeyAICSystem), str(KeyHardwareSystem)))
	s.AICModelName = cmp.Or(str(KeySweepAICModelName), str(KeyAICModelName))
	s.AICBackendVersion = cmp.Or(str(KeySweepAICVersion), str(KeyAICBackendVersion))

	if s.OutputDir == "" {
		s.OutputDir = DefaultOutputDir
	}
	if s.DeployTimeoutS == 0 {
		s.DeployTimeoutS = integer(KeyLegacyReadyTimeoutS)
	}
	if s.DeployTimeoutS == 0 {
		s.DeployTimeoutS = DefaultDeployTimeoutS
	}
	if s.PrefillGranularity == 0 {
		s.PrefillGranularity = DefaultPrefillGranularity
	}
	if s.DecodeGranularity == 0 {
		s.DecodeGranularity = DefaultDecodeGranularity
	}
	if dep, _ := c.SectionMap("deployment"); dep != nil {
		if mc, ok := dep["modelCache"].(map[string]any); ok {
			mcfg := &Config{Root: map[string]any{"modelCache": mc}}
			get := func(name string) string {
				v, _, err := mcfg.String(Key{"modelCache", name, ""})
				if err != nil {
					errs = append(errs, field.Invalid(BasePath.Child("deployment", "modelCache", name), err.BadValue, err.Detail))
				}
				return v
			}
			// Upstream's v1beta1 conversion wrote the second spellings.
			s.ModelCache = ModelCache{PVCName: get("pvcName"), PVCPath: cmp.Or(get("pvcPath"), get("modelPathInPvc")),
				MountPath: cmp.Or(get("mountPath"), get("pvcMountPath"))}
		}
	}
	if s.ModelCache.MountPath == "" {
		s.ModelCache.MountPath = DefaultModelCacheMount
	}
	if p, _ := c.SectionMap("planner"); p != nil {
		s.Planner = p
	}
	return s, errs
}

// ModelID is the model to look up: sweep.aicHfId, else deployment.model.
func (s Settings) ModelID() string { return cmp.Or(s.AICHfID, s.Model) }
