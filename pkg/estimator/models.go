package estimator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Model is the architecture the estimator needs, as read from a HF config.json.
type Model struct {
	Name, HFID, AICName string
	Architecture        string
	// Aliases are extra HF ids with the same shape (FP8 variants, distills).
	Aliases []string

	Layers, Hidden, Heads, KVHeads, HeadDim, Intermediate, Vocab, MaxContext int
	TiedEmbeddings                                                           bool

	// MoE: routed experts, experts per token, expert intermediate size,
	// shared experts; DenseLayers leading layers keep a dense MLP (DeepSeek).
	NumExperts, TopK, ExpertIntermediate, SharedExperts, DenseLayers int

	// MLA (DeepSeek): latent ranks and head splits.
	KVLoraRank, QLoraRank, RopeHeadDim, NopeHeadDim, VHeadDim int

	// WeightDtype is the checkpoint's default: bf16, fp8 or fp4.
	WeightDtype string
	// ExpertOnlyQuant marks checkpoints that quantise only the routed
	// experts and keep attention in BF16 (gpt-oss's MXFP4).
	ExpertOnlyQuant bool
}

// IsMoE reports whether the MLP is a routed mixture of experts.
func (m *Model) IsMoE() bool { return m != nil && m.NumExperts > 1 && m.TopK > 0 }

// IsMLA reports DeepSeek-style multi-head latent attention.
func (m *Model) IsMLA() bool { return m != nil && m.KVLoraRank > 0 }

// headDim is d from the config, else h/n_h (Qwen3 has h != n_h·d).
func (m *Model) headDim() int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 {
		return m.Hidden / m.Heads
	}
	return 0
}

func llama(name, hf, aic string, l, h, nh, kv, inter, vocab, ctx int, aliases ...string) Model {
	return Model{Name: name, HFID: hf, AICName: aic, Architecture: "LlamaForCausalLM", Aliases: aliases,
		Layers: l, Hidden: h, Heads: nh, KVHeads: kv, HeadDim: 128, Intermediate: inter, Vocab: vocab, MaxContext: ctx, WeightDtype: "bf16"}
}

func qwen3(name, hf, aic string, l, h, nh, inter int, tied bool, aliases ...string) Model {
	return Model{Name: name, HFID: hf, AICName: aic, Architecture: "Qwen3ForCausalLM", Aliases: aliases,
		Layers: l, Hidden: h, Heads: nh, KVHeads: 8, HeadDim: 128, Intermediate: inter, Vocab: 151936, MaxContext: 40960,
		TiedEmbeddings: tied, WeightDtype: "bf16"}
}

// catalog is spec/estimator.md §8 (values from each model's config.json).
var catalog = func() []Model {
	deepseek := Model{Name: "DeepSeek-V3", HFID: "deepseek-ai/DeepSeek-V3", AICName: "DEEPSEEK_V3", Architecture: "DeepseekV3ForCausalLM",
		Aliases: []string{"deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-V3.1"},
		Layers:  61, Hidden: 7168, Heads: 128, KVHeads: 128, HeadDim: 192, Intermediate: 18432, Vocab: 129280, MaxContext: 163840,
		NumExperts: 256, TopK: 8, ExpertIntermediate: 2048, SharedExperts: 1, DenseLayers: 3,
		KVLoraRank: 512, QLoraRank: 1536, RopeHeadDim: 64, NopeHeadDim: 128, VHeadDim: 128, WeightDtype: "fp8"}
	r1 := deepseek
	r1.Name, r1.HFID, r1.AICName, r1.Aliases = "DeepSeek-R1", "deepseek-ai/DeepSeek-R1", "DEEPSEEK_R1", []string{"deepseek-ai/DeepSeek-R1-0528"}
	r1fp4 := deepseek
	r1fp4.Name, r1fp4.HFID, r1fp4.AICName, r1fp4.Aliases, r1fp4.WeightDtype = "DeepSeek-R1-NVFP4", "nvidia/DeepSeek-R1-NVFP4", "",
		[]string{"nvidia/DeepSeek-V3.1-NVFP4", "nvidia/DeepSeek-R1-0528-FP4"}, "fp4"
	l8fp8 := llama("Llama-3.1-8B-Instruct-FP8", "nvidia/Llama-3.1-8B-Instruct-FP8", "", 32, 4096, 32, 8, 14336, 128256, 131072)
	l8fp8.WeightDtype = "fp8"
	l70fp8 := llama("Llama-3.1-70B-Instruct-FP8", "nvidia/Llama-3.1-70B-Instruct-FP8", "", 80, 8192, 64, 8, 28672, 128256, 131072)
	l70fp8.WeightDtype = "fp8"
	q32fp8 := qwen3("Qwen3-32B-FP8", "Qwen/Qwen3-32B-FP8", "", 64, 5120, 64, 25600, false, "Qwen/Qwen3-32B-FP8-Static-PerTensor")
	q32fp8.WeightDtype = "fp8"
	q32fp4 := qwen3("Qwen3-32B-NVFP4", "nvidia/Qwen3-32B-NVFP4", "", 64, 5120, 64, 25600, false)
	q32fp4.WeightDtype = "fp4"
	q235 := Model{Name: "Qwen3-235B-A22B", HFID: "Qwen/Qwen3-235B-A22B", AICName: "QWEN3_235B", Architecture: "Qwen3MoeForCausalLM",
		Layers: 94, Hidden: 4096, Heads: 64, KVHeads: 4, HeadDim: 128, Intermediate: 12288, Vocab: 151936, MaxContext: 40960,
		NumExperts: 128, TopK: 8, ExpertIntermediate: 1536, WeightDtype: "bf16"}
	q235fp8 := q235
	q235fp8.Name, q235fp8.HFID, q235fp8.AICName, q235fp8.WeightDtype = "Qwen3-235B-A22B-FP8", "Qwen/Qwen3-235B-A22B-FP8", "", "fp8"
	gptoss := func(name, hf, aic string, layers, experts int) Model {
		return Model{Name: name, HFID: hf, AICName: aic, Architecture: "GptOssForCausalLM",
			Layers: layers, Hidden: 2880, Heads: 64, KVHeads: 8, HeadDim: 64, Intermediate: 2880, Vocab: 201088, MaxContext: 131072,
			NumExperts: experts, TopK: 4, ExpertIntermediate: 2880, WeightDtype: "fp4", ExpertOnlyQuant: true}
	}
	mixtral := func(name, hf, aic string, l, h, nh, inter, ctx int) Model {
		return Model{Name: name, HFID: hf, AICName: aic, Architecture: "MixtralForCausalLM",
			Layers: l, Hidden: h, Heads: nh, KVHeads: 8, HeadDim: 128, Intermediate: inter, Vocab: 32000, MaxContext: ctx,
			NumExperts: 8, TopK: 2, ExpertIntermediate: inter, WeightDtype: "bf16"}
	}
	q25 := func(name, hf, aic string, l, h, nh, kv, inter, vocab, ctx int, aliases ...string) Model {
		m := llama(name, hf, aic, l, h, nh, kv, inter, vocab, ctx, aliases...)
		m.Architecture = "Qwen2ForCausalLM"
		return m
	}
	nemo := llama("Mistral-Nemo-Instruct-2407", "mistralai/Mistral-Nemo-Instruct-2407", "", 40, 5120, 32, 8, 14336, 131072, 131072)
	nemo.Architecture = "MistralForCausalLM"
	return []Model{
		qwen3("Qwen3-0.6B", "Qwen/Qwen3-0.6B", "QWEN3_0.6B", 28, 1024, 16, 3072, true),
		qwen3("Qwen3-1.7B", "Qwen/Qwen3-1.7B", "QWEN3_1.7B", 28, 2048, 16, 6144, true),
		qwen3("Qwen3-8B", "Qwen/Qwen3-8B", "QWEN3_8B", 36, 4096, 32, 12288, false),
		qwen3("Qwen3-14B", "Qwen/Qwen3-14B", "", 40, 5120, 40, 17408, false),
		qwen3("Qwen3-32B", "Qwen/Qwen3-32B", "QWEN3_32B", 64, 5120, 64, 25600, false),
		q32fp8, q32fp4,
		{Name: "Qwen3-30B-A3B", HFID: "Qwen/Qwen3-30B-A3B", AICName: "QWEN3_30B_A3B", Architecture: "Qwen3MoeForCausalLM",
			Layers: 48, Hidden: 2048, Heads: 32, KVHeads: 4, HeadDim: 128, Intermediate: 6144, Vocab: 151936, MaxContext: 40960,
			NumExperts: 128, TopK: 8, ExpertIntermediate: 768, WeightDtype: "bf16"},
		q235, q235fp8,
		q25("Qwen2.5-7B", "Qwen/Qwen2.5-7B", "QWEN2.5_7B", 28, 3584, 28, 4, 18944, 152064, 32768, "Qwen/Qwen2.5-7B-Instruct"),
		q25("Qwen2.5-32B", "Qwen/Qwen2.5-32B", "QWEN2.5_32B", 64, 5120, 40, 8, 27648, 152064, 32768, "Qwen/Qwen2.5-32B-Instruct"),
		q25("Qwen2.5-72B", "Qwen/Qwen2.5-72B", "QWEN2.5_72B", 80, 8192, 64, 8, 29568, 152064, 32768, "Qwen/Qwen2.5-72B-Instruct"),
		llama("Llama-2-7B", "meta-llama/Llama-2-7b-hf", "LLAMA2_7B", 32, 4096, 32, 32, 11008, 32000, 4096),
		llama("Llama-2-13B", "meta-llama/Llama-2-13b-hf", "LLAMA2_13B", 40, 5120, 40, 40, 13824, 32000, 4096),
		llama("Llama-2-70B", "meta-llama/Llama-2-70b-hf", "LLAMA2_70B", 80, 8192, 64, 8, 28672, 32000, 4096),
		llama("CodeLlama-34B", "codellama/CodeLlama-34b-Instruct-hf", "", 48, 8192, 64, 8, 22016, 32000, 16384),
		llama("Yi-34B", "01-ai/Yi-34B", "", 60, 7168, 56, 8, 20480, 64000, 4096),
		nemo,
		llama("Llama-3.1-8B", "meta-llama/Llama-3.1-8B", "LLAMA3.1_8B", 32, 4096, 32, 8, 14336, 128256, 131072,
			"meta-llama/Meta-Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct"),
		l8fp8,
		llama("DeepSeek-R1-Distill-Llama-8B", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "", 32, 4096, 32, 8, 14336, 128256, 131072),
		llama("Llama-3.1-70B", "meta-llama/Llama-3.1-70B", "LLAMA3.1_70B", 80, 8192, 64, 8, 28672, 128256, 131072,
			"meta-llama/Meta-Llama-3.1-70B", "meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Meta-Llama-3.1-70B-Instruct"),
		llama("Llama-3.3-70B", "meta-llama/Llama-3.3-70B-Instruct", "", 80, 8192, 64, 8, 28672, 128256, 131072),
		l70fp8,
		llama("Llama-3.1-405B", "meta-llama/Llama-3.1-405B", "LLAMA3.1_405B", 126, 16384, 128, 8, 53248, 128256, 131072,
			"meta-llama/Meta-Llama-3.1-405B", "meta-llama/Llama-3.1-405B-Instruct"),
		deepseek, r1, r1fp4,
		mixtral("Mixtral-8x7B", "mistralai/Mixtral-8x7B-v0.1", "MOE_Mixtral8x7B", 32, 4096, 32, 14336, 32768),
		mixtral("Mixtral-8x22B", "mistralai/Mixtral-8x22B-v0.1", "MOE_Mixtral8x22B", 56, 6144, 48, 16384, 65536),
		gptoss("gpt-oss-20b", "openai/gpt-oss-20b", "GPT_OSS_20B", 24, 32),
		gptoss("gpt-oss-120b", "openai/gpt-oss-120b", "GPT_OSS_120B", 36, 128),
	}
}()

// normKey folds case and treats '.', '-' and '_' alike, so QWEN3_0.6B and
// QWEN3_0_6B name the same model.
func normKey(s string) string {
	// Admission calls this for every review: map runes instead of building a Replacer.
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' {
			return '_'
		}
		return unicode.ToLower(r)
	}, strings.TrimSpace(s))
}

// catalogIndex maps every normalised id of a catalog model (HF id, AI
// Configurator id, name, aliases) to its position; orgless holds the same
// ids without the org ("qwen3_32b" for "Qwen/Qwen3-32B"). Built once: the
// webhook looks a model up on every review.
var catalogIndex, catalogOrgless = func() (full, orgless map[string]int) {
	full, orgless = map[string]int{}, map[string]int{}
	for i := range catalog {
		m := &catalog[i]
		for _, id := range append([]string{m.HFID, m.AICName, m.Name}, m.Aliases...) {
			if id == "" {
				continue
			}
			k := normKey(id)
			if _, dup := full[k]; !dup { // the first model to claim an id keeps it
				full[k] = i
			}
			if j := strings.LastIndex(k, "/"); j >= 0 {
				k = k[j+1:]
			}
			if _, dup := orgless[k]; !dup {
				orgless[k] = i
			}
		}
	}
	return full, orgless
}()

// LookupModel finds a catalog model by HF id (with or without the org), by
// any alias, or by AI Configurator id. The result is a copy.
func LookupModel(name string) (*Model, error) {
	key := normKey(name)
	if key == "" {
		return nil, errors.New("model name is empty: pass a Hugging Face id (e.g. Qwen/Qwen3-32B), an AI Configurator id (e.g. QWEN3_32B) or --model-config with a local config.json")
	}
	i, ok := catalogIndex[key]
	if !ok {
		i, ok = catalogOrgless[key]
	}
	if !ok {
		hint := ""
		if s := SuggestModel(name); s != "" {
			hint = fmt.Sprintf("did you mean %s? ", s)
		}
		return nil, fmt.Errorf("unknown model %q: %sit is not in the built-in catalog (kubectl dgdr models lists it); supply its architecture with "+
			"--model-config pointing at the model's Hugging Face config.json (a file, or the folder that holds it)", name, hint)
	}
	c := catalog[i]
	c.Aliases = append([]string(nil), c.Aliases...)
	return &c, nil
}

// Models lists the catalog's HF ids, sorted.
func Models() []string {
	out := make([]string, 0, len(catalog))
	for _, m := range catalog {
		out = append(out, m.HFID)
	}
	sort.Strings(out)
	return out
}

// hfConfig is the subset of a HF config.json the estimator reads.
type hfConfig struct {
	Architectures         []string         `json:"architectures"`
	ModelType             string           `json:"model_type"`
	NumHiddenLayers       *float64         `json:"num_hidden_layers"`
	HiddenSize            *float64         `json:"hidden_size"`
	NumAttentionHeads     *float64         `json:"num_attention_heads"`
	NumKeyValueHeads      *float64         `json:"num_key_value_heads"`
	HeadDim               *float64         `json:"head_dim"`
	IntermediateSize      *float64         `json:"intermediate_size"`
	VocabSize             *float64         `json:"vocab_size"`
	MaxPositionEmbeddings *float64         `json:"max_position_embeddings"`
	TieWordEmbeddings     *bool            `json:"tie_word_embeddings"`
	TorchDtype            string           `json:"torch_dtype"`
	Dtype                 string           `json:"dtype"`
	NumLocalExperts       *float64         `json:"num_local_experts"`
	NumExperts            *float64         `json:"num_experts"`
	NRoutedExperts        *float64         `json:"n_routed_experts"`
	NumExpertsPerTok      *float64         `json:"num_experts_per_tok"`
	MoEIntermediateSize   *float64         `json:"moe_intermediate_size"`
	NSharedExperts        *float64         `json:"n_shared_experts"`
	FirstKDenseReplace    *float64         `json:"first_k_dense_replace"`
	KVLoraRank            *float64         `json:"kv_lora_rank"`
	QLoraRank             *float64         `json:"q_lora_rank"`
	QKRopeHeadDim         *float64         `json:"qk_rope_head_dim"`
	QKNopeHeadDim         *float64         `json:"qk_nope_head_dim"`
	VHeadDim              *float64         `json:"v_head_dim"`
	Quantization          *json.RawMessage `json:"quantization_config"`
	TextConfig            *hfConfig        `json:"text_config"`
}

const maxConfigBytes = 8 << 20

// LoadModelConfig reads a HF config.json (or a folder holding one).
func LoadModelConfig(path string) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model config %q: %w (pass a config.json file or the folder that holds it)", path, err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model config %q: %w (pass a config.json file or the folder that holds it)", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("model config %q: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("model config %q is larger than %d bytes; is it really a config.json?", path, maxConfigBytes)
	}
	m, err := ParseModelConfig(data)
	if err != nil {
		return nil, fmt.Errorf("model config %q: %w", path, err)
	}
	if m.Name == "" {
		m.Name = filepath.Base(filepath.Dir(path))
	}
	return m, nil
}

// ParseModelConfig builds a Model from config.json bytes.
func ParseModelConfig(data []byte) (*Model, error) {
	var c hfConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	arch := ""
	if len(c.Architectures) > 0 {
		arch = c.Architectures[0]
	}
	// Multimodal wrappers keep the language model under text_config.
	if c.TextConfig != nil && c.NumHiddenLayers == nil {
		t := *c.TextConfig
		t.TextConfig = nil
		if len(t.Architectures) == 0 {
			t.Architectures = c.Architectures
		}
		if t.Quantization == nil {
			t.Quantization = c.Quantization
		}
		c = t
	}
	var errs []string
	geti := func(field string, p *float64, def int, required bool) int {
		if p == nil {
			if required {
				errs = append(errs, field+" is missing")
			}
			return def
		}
		v := *p
		if math.IsNaN(v) || v < 0 || v > 1<<30 || v != math.Trunc(v) {
			errs = append(errs, fmt.Sprintf("%s = %v is not a non-negative integer below 2^30", field, v))
			return def
		}
		return int(v)
	}
	m := &Model{Architecture: arch}
	m.Layers = geti("num_hidden_layers", c.NumHiddenLayers, 0, true)
	m.Hidden = geti("hidden_size", c.HiddenSize, 0, true)
	m.Heads = geti("num_attention_heads", c.NumAttentionHeads, 0, true)
	m.KVHeads = geti("num_key_value_heads", c.NumKeyValueHeads, m.Heads, false)
	m.HeadDim = geti("head_dim", c.HeadDim, 0, false)
	m.Intermediate = geti("intermediate_size", c.IntermediateSize, 0, false)
	m.Vocab = geti("vocab_size", c.VocabSize, 0, true)
	m.MaxContext = geti("max_position_embeddings", c.MaxPositionEmbeddings, 0, false)
	if c.TieWordEmbeddings != nil {
		m.TiedEmbeddings = *c.TieWordEmbeddings
	}
	for _, p := range []struct {
		f string
		v *float64
	}{{"num_local_experts", c.NumLocalExperts}, {"num_experts", c.NumExperts}, {"n_routed_experts", c.NRoutedExperts}} {
		if p.v != nil {
			m.NumExperts = geti(p.f, p.v, 0, false)
			break
		}
	}
	m.TopK = geti("num_experts_per_tok", c.NumExpertsPerTok, 0, false)
	m.ExpertIntermediate = geti("moe_intermediate_size", c.MoEIntermediateSize, m.Intermediate, false)
	m.SharedExperts = geti("n_shared_experts", c.NSharedExperts, 0, false)
	m.DenseLayers = geti("first_k_dense_replace", c.FirstKDenseReplace, 0, false)
	m.KVLoraRank = geti("kv_lora_rank", c.KVLoraRank, 0, false)
	m.QLoraRank = geti("q_lora_rank", c.QLoraRank, 0, false)
	m.RopeHeadDim = geti("qk_rope_head_dim", c.QKRopeHeadDim, 0, false)
	m.NopeHeadDim = geti("qk_nope_head_dim", c.QKNopeHeadDim, 0, false)
	m.VHeadDim = geti("v_head_dim", c.VHeadDim, 0, false)
	if m.IsMLA() && m.HeadDim == 0 {
		m.HeadDim = m.NopeHeadDim + m.RopeHeadDim
	}
	m.WeightDtype = "bf16"
	if c.Quantization != nil {
		q := strings.ToLower(string(*c.Quantization))
		switch {
		case strings.Contains(q, "mxfp4"):
			// gpt-oss: modules_to_not_convert keeps attention in BF16.
			m.WeightDtype, m.ExpertOnlyQuant = "fp4", m.IsMoE()
		case strings.Contains(q, "fp4"):
			m.WeightDtype = "fp4"
		case strings.Contains(q, "fp8"):
			m.WeightDtype = "fp8"
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("unsupported model architecture %q: %s", arch, strings.Join(errs, "; "))
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// validate rejects shapes the cost model cannot handle.
func (m *Model) validate() error {
	if m == nil {
		return errors.New("model is nil")
	}
	bad := func(f string, v int) error {
		return fmt.Errorf("unsupported model architecture %q: %s = %d must be positive", m.Architecture, f, v)
	}
	switch {
	case m.Layers <= 0:
		return bad("num_hidden_layers", m.Layers)
	case m.Hidden <= 0:
		return bad("hidden_size", m.Hidden)
	case m.Heads <= 0:
		return bad("num_attention_heads", m.Heads)
	case m.KVHeads <= 0:
		return bad("num_key_value_heads", m.KVHeads)
	case m.Vocab <= 0:
		return bad("vocab_size", m.Vocab)
	case m.headDim() <= 0:
		return bad("head_dim", m.headDim())
	}
	if m.KVHeads > m.Heads {
		return fmt.Errorf("unsupported model architecture %q: num_key_value_heads %d > num_attention_heads %d", m.Architecture, m.KVHeads, m.Heads)
	}
	if !m.IsMoE() && m.Intermediate <= 0 {
		return bad("intermediate_size", m.Intermediate)
	}
	if m.IsMoE() {
		if m.TopK > m.NumExperts {
			return fmt.Errorf("unsupported model architecture %q: num_experts_per_tok %d > experts %d", m.Architecture, m.TopK, m.NumExperts)
		}
		if m.ExpertIntermediate <= 0 {
			return bad("moe_intermediate_size", m.ExpertIntermediate)
		}
		if m.DenseLayers > m.Layers {
			return fmt.Errorf("unsupported model architecture %q: first_k_dense_replace %d > layers %d", m.Architecture, m.DenseLayers, m.Layers)
		}
		if m.DenseLayers > 0 && m.Intermediate <= 0 {
			return bad("intermediate_size", m.Intermediate)
		}
	}
	if m.IsMLA() && (m.RopeHeadDim <= 0 || m.NopeHeadDim <= 0 || m.VHeadDim <= 0) {
		return fmt.Errorf("unsupported model architecture %q: MLA needs qk_rope_head_dim, qk_nope_head_dim and v_head_dim", m.Architecture)
	}
	return nil
}

// AICCheckTP is AI Configurator's (v0.1–v0.5) head rule, kept by this
// project for simulation mode and admission: heads % tp == 0 and heads/tp >= 4.
func AICCheckTP(heads, tp int) error {
	if tp < 1 || heads%tp != 0 || heads/tp < 4 {
		return fmt.Errorf("num_heads %d should be divisible by tp_size %d and the division result should be >= 4", heads, tp)
	}
	return nil
}

// AICMaxTP is the largest power-of-two TP the AIC head rule allows (>= 1).
func AICMaxTP(heads int) int {
	best := 1
	for tp := 2; tp <= 1<<20 && tp <= heads; tp *= 2 {
		if AICCheckTP(heads, tp) == nil {
			best = tp
		}
	}
	return best
}
