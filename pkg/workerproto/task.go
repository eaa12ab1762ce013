package workerproto

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Task is what one measure container does. Its flags are the container's
// args; Args and BindFlags are inverse.
type Task struct {
	Phase   string
	Backend string
	Model   string // served model name
	Mapping results.Mapping

	ISLs          []int // prefill: each ISL; decode: each ISL of the grid (the sweep has one)
	OSL           int   // decode only
	Granularity   int   // decode concurrency points per ISL
	Concurrencies []int // decode: explicit list (overrides Granularity)
	MaxKVTokens   int   // >0: skip discovery

	EngineURL    string
	MetricsURL   string // default EngineURL + /metrics
	EngineLog    string // shared-volume log for the §15.7 fallback
	ReadyTimeout time.Duration
	Tokenizer    string

	ConfigMap string // result ConfigMap name ("" with OutputFile: local only)
	Rank      int    // node rank of a multi-node Job; >0 only waits
}

// BindFlags registers the task's flags.
func (t *Task) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&t.Phase, "phase", "", "prefill or decode")
	fs.StringVar(&t.Backend, "backend", "", "engine backend: vllm, sglang, trtllm or mocker")
	fs.StringVar(&t.Model, "model", "", "served model name")
	fs.StringVar(&t.Mapping.Kind, "mapping-kind", "TP", "parallel mapping kind: TP, TEP or DEP")
	fs.IntVar(&t.Mapping.N, "num-gpus", 1, "GPUs of the engine")
	fs.IntVar(&t.Mapping.TP, "tp", 0, "attention tensor-parallel size (0: from the kind)")
	fs.IntVar(&t.Mapping.EP, "ep", 0, "expert split (0: from the kind)")
	fs.IntVar(&t.Mapping.AttnDP, "attn-dp", 0, "attention data-parallel ranks (0: from the kind)")
	fs.IntSliceVar(&t.ISLs, "isl", nil, "input sequence lengths, comma-separated")
	fs.IntVar(&t.OSL, "osl", 0, "decode output sequence length")
	fs.IntVar(&t.Granularity, "granularity", DefaultGranularity, "decode concurrency points per ISL")
	fs.IntSliceVar(&t.Concurrencies, "concurrency", nil, "decode concurrencies (overrides --granularity)")
	fs.IntVar(&t.MaxKVTokens, "max-kv-tokens", 0, "KV capacity in tokens over all ranks (0: read from the engine)")
	fs.StringVar(&t.EngineURL, "engine-url", fmt.Sprintf("http://127.0.0.1:%d", DefaultEnginePort), "engine base URL")
	fs.StringVar(&t.MetricsURL, "metrics-url", "", "engine metrics URL (default: engine URL + /metrics)")
	fs.StringVar(&t.EngineLog, "engine-log", "", "engine log file for the KV-capacity fallback")
	fs.DurationVar(&t.ReadyTimeout, "ready-timeout", DefaultReadyTimeout, "how long to wait for the engine")
	fs.StringVar(&t.Tokenizer, "tokenizer", "", "tokenizer.json for exact prompt lengths")
	fs.StringVar(&t.ConfigMap, "configmap", "", "result ConfigMap name")
	fs.IntVar(&t.Rank, "rank", 0, "node rank in a multi-node Job (>0: wait for rank 0)")
}

// Args renders the task as flags (the Job's container args).
func (t Task) Args() []string {
	a := []string{
		"--phase=" + t.Phase, "--backend=" + t.Backend, "--model=" + t.Model,
		"--mapping-kind=" + t.Mapping.Kind, "--num-gpus=" + strconv.Itoa(t.Mapping.N),
		"--tp=" + strconv.Itoa(t.Mapping.TP), "--ep=" + strconv.Itoa(t.Mapping.EP), "--attn-dp=" + strconv.Itoa(t.Mapping.AttnDP),
		"--isl=" + joinInts(t.ISLs),
	}
	if t.Phase == PhaseDecode {
		a = append(a, "--osl="+strconv.Itoa(t.OSL), "--granularity="+strconv.Itoa(t.Granularity))
		if len(t.Concurrencies) > 0 {
			a = append(a, "--concurrency="+joinInts(t.Concurrencies))
		}
	}
	if t.MaxKVTokens > 0 {
		a = append(a, "--max-kv-tokens="+strconv.Itoa(t.MaxKVTokens))
	}
	if t.EngineURL != "" {
		a = append(a, "--engine-url="+t.EngineURL)
	}
	if t.MetricsURL != "" {
		a = append(a, "--metrics-url="+t.MetricsURL)
	}
	if t.EngineLog != "" {
		a = append(a, "--engine-log="+t.EngineLog)
	}
	if t.ReadyTimeout > 0 {
		a = append(a, "--ready-timeout="+t.ReadyTimeout.String())
	}
	if t.Tokenizer != "" {
		a = append(a, "--tokenizer="+t.Tokenizer)
	}
	if t.ConfigMap != "" {
		a = append(a, "--configmap="+t.ConfigMap)
	}
	return a
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// Normalize fills the mapping from its kind and defaults.
func (t *Task) Normalize() {
	t.Mapping.Kind = strings.ToUpper(strings.TrimSpace(t.Mapping.Kind))
	n := t.Mapping.N
	def := results.Mapping{Kind: t.Mapping.Kind, N: n, TP: n, EP: 1, AttnDP: 1}
	switch t.Mapping.Kind {
	case "TEP":
		def.EP = n
	case "DEP":
		def.TP, def.EP, def.AttnDP = 1, n, n
	}
	if t.Mapping.TP == 0 {
		t.Mapping.TP = def.TP
	}
	if t.Mapping.EP == 0 {
		t.Mapping.EP = def.EP
	}
	if t.Mapping.AttnDP == 0 {
		t.Mapping.AttnDP = def.AttnDP
	}
	if t.Granularity == 0 {
		t.Granularity = DefaultGranularity
	}
	if t.MetricsURL == "" && t.EngineURL != "" {
		t.MetricsURL = strings.TrimSuffix(t.EngineURL, "/") + "/metrics"
	}
	if t.ReadyTimeout == 0 {
		t.ReadyTimeout = DefaultReadyTimeout
	}
}

// Validate names the first bad field.
func (t *Task) Validate() error {
	m := t.Mapping
	switch {
	case t.Phase != PhasePrefill && t.Phase != PhaseDecode:
		return fmt.Errorf("--phase %q is not supported: use prefill or decode", t.Phase)
	case !slices.Contains([]string{BackendVLLM, BackendSGLang, BackendTRTLLM, BackendMocker}, t.Backend):
		return fmt.Errorf("--backend %q is not supported: use vllm, sglang, trtllm or mocker", t.Backend)
	case t.Model == "":
		return errors.New("--model is empty: set the served model name")
	case !slices.Contains([]string{"TP", "TEP", "DEP"}, m.Kind):
		return fmt.Errorf("--mapping-kind %q is not supported: use TP, TEP or DEP", m.Kind)
	case m.N < 1 || m.N > 1024:
		return fmt.Errorf("--num-gpus %d is out of range: use 1 to 1024", m.N)
	case m.TP < 1 || m.AttnDP < 1 || m.EP < 1 || m.TP*m.AttnDP != m.N:
		return fmt.Errorf("mapping %s: --tp %d × --attn-dp %d must equal --num-gpus %d", m.Label(), m.TP, m.AttnDP, m.N)
	case len(t.ISLs) == 0:
		return errors.New("--isl is empty: give at least one input sequence length")
	case t.EngineURL == "":
		return errors.New("--engine-url is empty: set the engine's base URL")
	case t.Rank < 0:
		return fmt.Errorf("--rank %d is negative", t.Rank)
	}
	for _, isl := range t.ISLs {
		if isl < 1 || isl > 1<<22 {
			return fmt.Errorf("--isl %d is out of range: use 1 to %d", isl, 1<<22)
		}
	}
	if t.Phase == PhaseDecode {
		if t.OSL < 2 || t.OSL > 1<<20 {
			return fmt.Errorf("--osl %d is out of range for decode: use 2 to %d (ITL needs two tokens)", t.OSL, 1<<20)
		}
		if t.Granularity < 1 || t.Granularity > 1000 {
			return fmt.Errorf("--granularity %d is out of range: use 1 to 1000", t.Granularity)
		}
		for _, c := range t.Concurrencies {
			if c < 1 || c > 100000 {
				return fmt.Errorf("--concurrency %d is out of range: use 1 to 100000", c)
			}
		}
	}
	return nil
}
