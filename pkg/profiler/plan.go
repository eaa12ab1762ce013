package profiler

import (
	"fmt"
	"math"
	"strings"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Constants of the reference profiler (profiler.md §4, §6, §7, §12).
const (
	ModelGPUMemFracMax       = 0.9 // MODEL_GPU_MEM_FRAC_MAX
	MoEMaxGPUFactor          = 8   // MOE_MODEL_MAX_NUM_GPU_FACTOR
	MoEMaxNodes              = 4   // the seed: MoE max is four nodes
	MinPrefillInterpPoints   = 4   // the planner's cubic interp1d (P7)
	DefaultGPUsPerNode       = 8
	fallbackMinGPUs          = 1
	fallbackMaxGPUs          = 4
	PrefillMaxNumTokensPerDP = 32768
)

// moeArchitectures are the only architectures the profiler treats as MoE
// (profiler.md §3.2); other MoE checkpoints are swept as dense TP.
var moeArchitectures = map[string]bool{
	"DeepseekV3ForCausalLM":  true,
	"DeepseekV32ForCausalLM": true,
	"Qwen3MoeForCausalLM":    true,
}

// moeAdditionalTP lists MoE architectures that also sweep TP=n.
var moeAdditionalTP = map[string]bool{"Qwen3MoeForCausalLM": true}

// IsMoEArchitecture is the profiler's MoE rule.
func IsMoEArchitecture(arch string) bool { return moeArchitectures[arch] }

// ModelInfo is what planning needs to know about the model (profiler.md §3.2).
// A zero count means unknown: the matching filter is skipped with a warning.
type ModelInfo struct {
	Name         string
	Architecture string
	SizeMiB      float64
	IsMoE        bool
	MaxContext   int
	Heads        int
	KVHeads      int
	NumExperts   int
	Intermediate int
	QuantBlock   int
}

// GPUCounts is profile_num_gpus: the powers of two in [min, max] (§4.2).
func GPUCounts(min, max int) []int {
	var out []int
	for n := 1; n > 0 && n <= max; n *= 2 {
		if n >= min {
			out = append(out, n)
		}
	}
	return out
}

// Hardware is the GPU summary the search space is derived from.
type Hardware struct {
	System      string
	GPUsPerNode int
	VRAMMiB     int
}

// SearchSpace is the resolved min/max GPUs per engine and node size.
type SearchSpace struct {
	MinGPUs, MaxGPUs, GPUsPerNode int
}

// ResolveSearchSpace fills only the zero values of user (profiler.md §4.1,
// P5): min from the model size and GPU memory, max one node for dense and
// max(4 nodes, 8×min) for MoE. Fallbacks 1/4/8 apply when no GPU is known.
func ResolveSearchSpace(user SearchSpace, hw Hardware, m ModelInfo, log *Logger) (SearchSpace, error) {
	s := user
	if s.GPUsPerNode == 0 {
		if hw.GPUsPerNode > 0 {
			s.GPUsPerNode = hw.GPUsPerNode
		} else {
			log.Warnf("GPU discover is disabled and num_gpus_per_node is not specified, setting to %d", DefaultGPUsPerNode)
			s.GPUsPerNode = DefaultGPUsPerNode
		}
	}
	known := hw.VRAMMiB > 0 && m.SizeMiB > 0
	if s.MinGPUs == 0 {
		if known {
			s.MinGPUs = int(math.Ceil(m.SizeMiB / ModelGPUMemFracMax / float64(hw.VRAMMiB)))
			if s.MinGPUs < 1 {
				s.MinGPUs = 1
			}
		} else {
			log.Warnf("GPU discover is disabled and min_num_gpus_per_engine is not specified, setting to %d", fallbackMinGPUs)
			s.MinGPUs = fallbackMinGPUs
		}
	}
	if s.MaxGPUs == 0 {
		switch {
		case !known && hw.GPUsPerNode == 0:
			log.Warnf("GPU discover is disabled and max_num_gpus_per_engine is not specified, setting to %d", fallbackMaxGPUs)
			s.MaxGPUs = fallbackMaxGPUs
		case m.IsMoE:
			s.MaxGPUs = max(MoEMaxNodes*s.GPUsPerNode, MoEMaxGPUFactor*s.MinGPUs)
		default:
			s.MaxGPUs = s.GPUsPerNode
		}
	}
	if s.MinGPUs > s.MaxGPUs {
		return s, noSearchSpace(user, s, hw, m)
	}
	if user.MinGPUs == 0 || user.MaxGPUs == 0 {
		log.Infof("Auto-generated search space for model %s on the cluster with %dx%s GPUs per node: %d to %d",
			m.Name, s.GPUsPerNode, hw.System, s.MinGPUs, s.MaxGPUs)
	}
	return s, nil
}

// noSearchSpace explains an empty GPU range with a fix that works: a
// minimum the user set above what an engine may use is lowered; a model
// too large for its maximum gets that maximum raised, unless it is a dense
// model larger than a node, whose TP engine cannot grow past the node: then
// the GPUs with enough memory are named.
func noSearchSpace(user, s SearchSpace, hw Hardware, m ModelInfo) error {
	where := fmt.Sprintf("model %s on %s with %d GPUs per node", m.Name, hw.System, s.GPUsPerNode)
	if user.MinGPUs > 0 && user.MaxGPUs == 0 {
		return fmt.Errorf("No valid GPU configuration found for %s: hardware.minNumGpusPerEngine %d is above the %d GPUs one engine may use "+
			"(a dense model's tensor parallelism stays within a node); set hardware.minNumGpusPerEngine to at most %d",
			where, user.MinGPUs, s.MaxGPUs, s.MaxGPUs)
	}
	if m.IsMoE || s.MinGPUs <= s.GPUsPerNode {
		return fmt.Errorf("No valid GPU configuration found for %s: the model needs at least %d GPUs per engine but hardware.maxNumGpusPerEngine is %d; "+
			"set hardware.maxNumGpusPerEngine to %d or more", where, s.MinGPUs, s.MaxGPUs, nextPow2(s.MinGPUs))
	}
	var fit []string
	for _, name := range estimator.Systems() {
		sys, err := estimator.LookupSystem(name)
		if err != nil || name == hw.System || sys.MemoryMiB == 0 {
			continue
		}
		if need := int(math.Ceil(m.SizeMiB / ModelGPUMemFracMax / float64(sys.MemoryMiB))); need <= sys.GPUsPerNode {
			fit = append(fit, fmt.Sprintf("%s (%d GPUs)", name, nextPow2(need)))
		}
	}
	fix := "no GPU system the estimator knows holds it within a node: profile a quantised checkpoint (FP8/FP4) of the model"
	if len(fit) > 0 {
		fix = "set sweep.aicSystem to a GPU with more memory: " + strings.Join(fit, ", ")
	}
	return fmt.Errorf("No valid GPU configuration found for %s: the model's %.0f GiB of weights need at least %d GPUs per engine, more than a node; "+
		"a dense model's tensor-parallel engine stays within a node, so more GPUs per engine do not help; %s",
		where, m.SizeMiB/1024, s.MinGPUs, fix)
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// Phase names a sweep.
type Phase string

// The two phases.
const (
	Prefill Phase = "prefill"
	Decode  Phase = "decode"
)

// NewMapping builds TP=n, TEP=n or DEP=n with its derived sizes (§4.3).
// On one GPU there is nothing to split: TEP=1 and DEP=1 are TP=1, and are
// named so (never "Suggested prefill TEP:1").
func NewMapping(kind string, n int) results.Mapping {
	if n == 1 {
		kind = "TP"
	}
	switch kind {
	case "TEP":
		return results.Mapping{Kind: kind, N: n, TP: n, EP: n, AttnDP: 1}
	case "DEP":
		return results.Mapping{Kind: kind, N: n, TP: 1, EP: n, AttnDP: n}
	default:
		return results.Mapping{Kind: "TP", N: n, TP: n, EP: 1, AttnDP: 1}
	}
}

// CandidateKinds lists the mapping kinds swept for a phase (§4.3, this
// project's DeepSeek-style split: TEP for prefill, DEP for decode).
func CandidateKinds(phase Phase, m ModelInfo) []string {
	if !m.IsMoE {
		return []string{"TP"}
	}
	k := []string{"DEP"}
	if phase == Prefill {
		k = []string{"TEP"}
	}
	if moeAdditionalTP[m.Architecture] {
		k = append(k, "TP")
	}
	return k
}

// FilterOptions are the rules beyond upstream's divisibility checks.
type FilterOptions struct {
	GPUsPerNode int
	// AICHeadRule enforces heads/TP >= 4 (simulation mode, §4.4).
	AICHeadRule bool
}

// CheckMapping applies the filters of §4.4 (+ rule 5, the AIC head rule
// and the one-node TP rule of §4.5) in order. It returns the rejection
// reason ("" when the mapping is valid) and warnings for unknown values.
func CheckMapping(mp results.Mapping, m ModelInfo, o FilterOptions) (reason string, warnings []string) {
	label := mp.Label()
	div := func(name string, value int, divName string, divisor int) string {
		if value == 0 {
			warnings = append(warnings, fmt.Sprintf("Skipping %s divisibility check for %s: %s is unknown", name, label, name))
			return ""
		}
		if divisor <= 1 || value%divisor == 0 {
			return ""
		}
		return fmt.Sprintf("Invalid mapping %s: %s=%d not divisible by %s=%d", label, name, value, divName, divisor)
	}
	checks := []func() string{
		func() string { return div("num_kv_heads", m.KVHeads, "tp_size", mp.TP) },
		func() string {
			if !m.IsMoE && mp.EP <= 1 {
				return "" // a dense model has no experts to split: nothing is unknown
			}
			return div("num_experts", m.NumExperts, "expert_split", mp.EP)
		},
		func() string { return div("intermediate_size", m.Intermediate, "tp_size", mp.TP) },
		func() string {
			if m.QuantBlock <= 0 || mp.TP <= 1 || m.Intermediate == 0 {
				return ""
			}
			return div("intermediate_size // tp_size", m.Intermediate/mp.TP, "quantization_block_size", m.QuantBlock)
		},
		func() string { return div("num_attention_heads", m.Heads, "tp_size", mp.TP) },
		func() string {
			if !o.AICHeadRule || m.Heads == 0 || mp.TP <= 1 {
				return ""
			}
			if err := estimator.AICCheckTP(m.Heads, mp.TP); err != nil {
				return fmt.Sprintf("Invalid mapping %s: %v (AI Configurator rule in simulation mode; the largest allowed TP is %d)",
					label, err, estimator.AICMaxTP(m.Heads))
			}
			return ""
		},
		func() string {
			if mp.Kind != "TP" || o.GPUsPerNode <= 0 || mp.N <= o.GPUsPerNode {
				return ""
			}
			return fmt.Sprintf("Invalid mapping %s: TP size %d exceeds GPUs per node %d; use TEP/DEP for multi-node engines", label, mp.N, o.GPUsPerNode)
		},
	}
	for _, c := range checks {
		if r := c(); r != "" {
			return r, warnings
		}
	}
	return "", warnings
}

// BuildPlan resolves the GPU counts and the candidate mappings per phase,
// logging every dropped candidate with its reason.
func BuildPlan(space SearchSpace, m ModelInfo, o FilterOptions, log *Logger) (results.Plan, error) {
	counts := GPUCounts(space.MinGPUs, space.MaxGPUs)
	plan := results.Plan{MinGPUs: space.MinGPUs, MaxGPUs: space.MaxGPUs, GPUCounts: counts}
	if len(counts) == 0 {
		return plan, fmt.Errorf("No power-of-two GPU count in [%d, %d]: set hardware.minNumGpusPerEngine and hardware.maxNumGpusPerEngine so that the range holds 1, 2, 4, 8, ...",
			space.MinGPUs, space.MaxGPUs)
	}
	log.Infof("Profiling GPU counts: %s", PyInts(counts))
	o.GPUsPerNode = space.GPUsPerNode
	for _, phase := range []Phase{Prefill, Decode} {
		for _, n := range counts {
			seen := map[results.Mapping]bool{}
			for _, kind := range CandidateKinds(phase, m) {
				mp := NewMapping(kind, n)
				if seen[mp] {
					continue // TEP=1 and TP=1 are one engine
				}
				seen[mp] = true
				reason, warns := CheckMapping(mp, m, o)
				for _, w := range warns {
					log.Warnf("%s", w)
				}
				if reason != "" {
					log.Warnf("%s", reason)
					plan.Dropped = append(plan.Dropped, results.DroppedMapping{Phase: string(phase), Mapping: mp, Reason: reason})
					continue
				}
				if phase == Prefill {
					plan.PrefillMappings = append(plan.PrefillMappings, mp)
				} else {
					plan.DecodeMappings = append(plan.DecodeMappings, mp)
				}
			}
		}
	}
	if len(plan.PrefillMappings) == 0 || len(plan.DecodeMappings) == 0 {
		return plan, noMapping(plan, space, m, o)
	}
	return plan, nil
}

// noMapping explains a plan whose candidates were all rejected, naming the
// GPU counts up to a node whose mappings pass the same filters.
func noMapping(plan results.Plan, space SearchSpace, m ModelInfo, o FilterOptions) error {
	var ok []int
	for _, n := range GPUCounts(1, space.GPUsPerNode) {
		for _, kind := range CandidateKinds(Decode, m) {
			if reason, _ := CheckMapping(NewMapping(kind, n), m, o); reason == "" {
				ok = append(ok, n)
				break
			}
		}
	}
	fix := "check the model's head and expert counts"
	if len(ok) > 0 {
		fix = fmt.Sprintf("the GPU counts whose mappings pass are %s: set hardware.minNumGpusPerEngine and hardware.maxNumGpusPerEngine within them", PyInts(ok))
	}
	return fmt.Errorf("every candidate mapping for GPU counts %s was rejected (%d dropped, first: %s); %s",
		PyInts(plan.GPUCounts), len(plan.Dropped), firstReason(plan.Dropped), fix)
}

func firstReason(d []results.DroppedMapping) string {
	if len(d) == 0 {
		return "none"
	}
	return d[0].Reason
}

// PyInts renders a Python-style list, e.g. [1, 2, 4, 8].
func PyInts(v []int) string {
	b := []byte{'['}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',', ' ')
		}
		b = fmt.Appendf(b, "%d", x)
	}
	return string(append(b, ']'))
}
