package admission

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	pc "github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// EngineConfigPath is where the profiling Job mounts configMapRef's key.
const EngineConfigPath = "/config/disagg.yaml"

// DefaultConfigMapKey is configMapRef.key's CRD default.
const DefaultConfigMapKey = "disagg.yaml"

// Default performs the injection of spec/dgdr-api.md §5 and §6.4 in place:
// deployment.model and engine.backend from the spec (with a warning when a
// different user value is overwritten), deployment.namespace, engine.config,
// deployment.dgd_image, hardware.max_num_gpus_per_engine in AI Configurator
// mode, and the CRD defaults. It keeps the user's key spellings and never
// adds a second spelling. It is idempotent, and on error the object is left
// unchanged (the error is an apierrors Invalid status naming the field).
//
// A missing config is left missing, so that validation reports it (E2).
func Default(dgdr *v1alpha1.DynamoGraphDeploymentRequest) (warnings []string, err error) {
	if dgdr == nil {
		return nil, nil
	}
	// A model name past the cap would be copied into the config, and the
	// patch sent back, only for validation to refuse it.
	if len(dgdr.Spec.Model) > MaxModelLen {
		return nil, InvalidError(dgdr.Name, field.ErrorList{field.TooLong(specPath.Child("model"), "", MaxModelLen)})
	}
	if ref := dgdr.Spec.ProfilingConfig.ConfigMapRef; ref != nil && ref.Key == "" {
		ref.Key = DefaultConfigMapKey
	}
	raw := dgdr.Spec.ProfilingConfig.Config
	if raw == nil || len(bytes.TrimSpace(raw.Raw)) == 0 || string(raw.Raw) == "null" {
		return nil, nil
	}
	if e := checkConfigJSON(raw.Raw); e != nil {
		return nil, InvalidError(dgdr.Name, field.ErrorList{e})
	}
	cfg, perr := pc.FromJSON(raw)
	if perr != nil {
		return nil, InvalidError(dgdr.Name, field.ErrorList{field.Invalid(pc.BasePath, shorten(string(raw.Raw)),
			"failed to parse spec.profilingConfig.config: "+perr.Error())})
	}
	var errs field.ErrorList
	for _, sec := range []string{"deployment", "engine", "hardware", "sweep"} {
		if _, e := cfg.SectionMap(sec); e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, InvalidError(dgdr.Name, errs)
	}

	d := &defaulter{cfg: cfg}
	s := &dgdr.Spec
	// auto is resolved when profiling (ForProfiling), not in the stored object.
	if s.Backend != "" && s.Backend != v1alpha1.BackendAuto {
		d.overwrite(pc.KeyEngineBackend, s.Backend, "spec.profilingConfig.config.engine.backend (%s) will be overwritten by spec.backend (%s)")
	}
	if s.Model != "" {
		d.overwrite(pc.KeyDeploymentModel, s.Model, "spec.profilingConfig.config.deployment.model (%s) will be overwritten by spec.model (%s)")
	}
	if dgdr.Namespace != "" && !hasKey(cfg, pc.KeyDeploymentNamespace) {
		d.set(pc.KeyDeploymentNamespace, dgdr.Namespace)
	}
	if s.ProfilingConfig.ConfigMapRef != nil {
		d.overwrite(pc.KeyEngineConfig, EngineConfigPath,
			"spec.profilingConfig.config.engine.config (%s) will be overwritten by %s, where spec.profilingConfig.configMapRef is mounted")
	}
	if o := s.DeploymentOverrides; o != nil && o.WorkersImage != "" {
		d.overwrite(pc.KeyDeploymentImage, o.WorkersImage,
			"spec.profilingConfig.config.deployment.dgd_image (%s) will be overwritten by spec.deploymentOverrides.workersImage (%s)")
	}
	d.aicMaxGPUs(dgdr)
	if !d.changed {
		return d.warns, nil
	}
	j, jerr := cfg.JSON()
	if jerr != nil {
		return nil, InvalidError(dgdr.Name, field.ErrorList{field.InternalError(pc.BasePath, jerr)})
	}
	dgdr.Spec.ProfilingConfig.Config = j
	return d.warns, nil
}

type defaulter struct {
	cfg     *pc.Config
	changed bool
	warns   []string
}

func (d *defaulter) set(k pc.Key, v any) {
	if d.cfg.Set(k, v) == nil {
		d.changed = true
	}
}

// overwrite sets k to want; a different non-empty user value draws a warning.
func (d *defaulter) overwrite(k pc.Key, want, warning string) {
	cur, _, ok := d.cfg.Lookup(k)
	if ok {
		if s, isStr := cur.(string); isStr && s == want {
			return
		}
		if s := fmt.Sprint(cur); s != "" {
			d.warns = append(d.warns, fmt.Sprintf(warning, s, want))
		}
	}
	d.set(k, want)
}

// aicMaxGPUs sets hardware.max_num_gpus_per_engine in AI Configurator mode
// when it is absent: the largest power of two AI Configurator accepts for the
// model's heads (heads divisible by TP, heads/TP >= 4), within the
// recommended size (one node dense, four nodes MoE), so profiling does not
// fail on the seed's "num_heads ... should be divisible by tp_size" error.
func (d *defaulter) aicMaxGPUs(dgdr *v1alpha1.DynamoGraphDeploymentRequest) {
	p := readPlan(dgdr, d.cfg)
	if !p.aic || p.maxPresent || p.model == nil || p.model.Heads <= 0 {
		return
	}
	limit := p.maxRecommended()
	n := aicMaxTP(p.model.Heads, limit)
	if n < 1 {
		return
	}
	hw, _ := d.cfg.SectionMap("hardware")
	sp := pc.SpellingIn(pc.KeyHardwareMaxGPUs, hw)
	if hw == nil {
		sp = pc.KeyHardwareMaxGPUs.Snake // a new section gets the documented spelling
	}
	d.set(pc.KeyHardwareMaxGPUs, json.Number(fmt.Sprint(n)))
	if _, got, _ := d.cfg.Lookup(pc.KeyHardwareMaxGPUs); got != "" {
		sp = got
	}
	d.warns = append(d.warns, fmt.Sprintf(
		"spec.profilingConfig.config.hardware.%s was not set; set it to %d, the largest power of two AI Configurator allows for %s "+
			"(%d attention heads: heads divisible by TP and heads/TP >= 4, at most %d GPUs per engine)",
		sp, n, p.modelID, p.model.Heads, limit))
}
