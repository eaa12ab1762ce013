package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
)

// defaultWords are common English words that most BPE tokenizers encode as
// one token each after a space, so a prompt's token count is close to its
// word count and varies little between random draws.
const defaultWords = `the of and to in is was for that on with as by at from his her an were are which
this be or had not but have one all new more first also their after who two its has been other
time there when some these would into only year most made over can out may city such about up
many three them world than later used school where between part she both being then under well
during during film state through four area while since work known each early until states before
same life high best group day any five house could name year years national system because people
end family team several season game long three second just should water left place back south
north east west small large history major little number public local home series early war around
power form main among music based did own during took power order side field use like way made king
line even river around great old point best support case show set down right given book general`

// Vocabulary is the set of words prompts are drawn from.
type Vocabulary struct{ words []string }

// DefaultVocabulary is the built-in word list.
func DefaultVocabulary() Vocabulary {
	seen := map[string]bool{}
	var w []string
	for _, f := range strings.Fields(defaultWords) {
		if !seen[f] {
			seen[f] = true
			w = append(w, f)
		}
	}
	return Vocabulary{words: w}
}

// LoadTokenizerVocabulary reads a Hugging Face tokenizer.json and keeps the
// lowercase words that are one token with a leading space (byte-level BPE
// "Ġword" or SentencePiece "▁word"): prompts built from them have exactly
// one token per word, so only the chat template overhead is calibrated.
func LoadTokenizerVocabulary(path string) (Vocabulary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Vocabulary{}, fmt.Errorf("tokenizer file %s: %w", path, err)
	}
	return ParseTokenizerVocabulary(b)
}

// ParseTokenizerVocabulary is LoadTokenizerVocabulary on bytes.
func ParseTokenizerVocabulary(b []byte) (Vocabulary, error) {
	var tj struct {
		Model struct {
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return Vocabulary{}, fmt.Errorf("tokenizer.json is not valid JSON: %w", err)
	}
	// BPE/WordPiece vocabularies are maps; Unigram's is a list of [piece, score].
	var pieces []string
	var m map[string]int
	if err := json.Unmarshal(tj.Model.Vocab, &m); err == nil {
		for k := range m {
			pieces = append(pieces, k)
		}
	} else {
		var l [][]any
		if err := json.Unmarshal(tj.Model.Vocab, &l); err != nil {
			return Vocabulary{}, fmt.Errorf("tokenizer.json model.vocab is neither a map nor a list of [piece, score]: use a Hugging Face tokenizer.json")
		}
		for _, e := range l {
			if len(e) > 0 {
				if s, ok := e[0].(string); ok {
					pieces = append(pieces, s)
				}
			}
		}
	}
	var words []string
	for _, p := range pieces {
		var w string
		switch {
		case strings.HasPrefix(p, "Ġ"):
			w = strings.TrimPrefix(p, "Ġ")
		case strings.HasPrefix(p, "▁"):
			w = strings.TrimPrefix(p, "▁")
		default:
			continue
		}
		if len(w) >= 3 && len(w) <= 10 && isLowerASCII(w) {
			words = append(words, w)
		}
	}
	if len(words) < 50 {
		return Vocabulary{}, fmt.Errorf("tokenizer.json has %d single-token lowercase words (need at least 50): use the model's own tokenizer.json", len(words))
	}
	sort.Strings(words)
	if len(words) > 4000 {
		words = words[:4000]
	}
	return Vocabulary{words: words}, nil
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// Len is the number of words.
func (v Vocabulary) Len() int { return len(v.words) }

// Prompt is n random words from the vocabulary.
func (v Vocabulary) Prompt(rng *rand.Rand, n int) string {
	if n <= 0 || len(v.words) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.Grow(n * 6)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(v.words[rng.IntN(len(v.words))])
	}
	return sb.String()
}

// Calibration maps a word count to the server's prompt tokens:
// tokens ≈ Overhead + PerWord × words (Overhead is the chat template).
type Calibration struct {
	Overhead float64 `json:"overhead"`
	PerWord  float64 `json:"tokensPerWord"`
	// Words is the word count that gave exactly the target ISL.
	Words int `json:"words"`
	ISL   int `json:"isl"`
	// Requests is how many calibration requests were sent.
	Requests int `json:"requests"`
}

// Counter returns the server's prompt_tokens for a prompt of n words.
type Counter func(words int) (int, error)

// Calibrate finds the word count whose prompt is exactly isl tokens: two
// probes fit the affine model, then Newton steps on the integer count.
func Calibrate(isl int, count Counter) (Calibration, error) {
	c := Calibration{ISL: isl}
	if isl < 1 {
		return c, fmt.Errorf("isl %d is invalid: use at least 1 token", isl)
	}
	probe := func(w int) (int, error) {
		c.Requests++
		t, err := count(w)
		if err != nil {
			return 0, fmt.Errorf("calibration request with %d words: %w", w, err)
		}
		if t <= 0 {
			return 0, fmt.Errorf("calibration request with %d words: server reported usage.prompt_tokens=%d: the server must return usage (stream_options.include_usage)", w, t)
		}
		return t, nil
	}
	w1, w2 := 8, max(16, min(isl, 2048))
	t1, err := probe(w1)
	if err != nil {
		return c, err
	}
	t2, err := probe(w2)
	if err != nil {
		return c, err
	}
	c.PerWord = float64(t2-t1) / float64(w2-w1)
	if c.PerWord <= 0 {
		return c, fmt.Errorf("calibration: %d words gave %d tokens and %d words gave %d: prompt tokens do not grow with words", w1, t1, w2, t2)
	}
	c.Overhead = float64(t1) - c.PerWord*float64(w1)
	if float64(isl) < c.Overhead+c.PerWord {
		return c, fmt.Errorf("isl %d is shorter than the chat template (%.0f tokens): use a larger --isl", isl, c.Overhead+c.PerWord)
	}
	w := int(math.Round((float64(isl) - c.Overhead) / c.PerWord))
	for range 8 {
		w = max(w, 1)
		t, err := probe(w)
		if err != nil {
			return c, err
		}
		if t == isl {
			c.Words = w
			return c, nil
		}
		step := int(math.Round(float64(isl-t) / c.PerWord))
		if step == 0 {
			step = 1
			if t > isl {
				step = -1
			}
		}
		w += step
	}
	return c, fmt.Errorf("calibration did not reach exactly %d prompt tokens after %d requests (≈%.2f tokens per word): pass --tokenizer with the model's tokenizer.json", isl, c.Requests, c.PerWord)
}
