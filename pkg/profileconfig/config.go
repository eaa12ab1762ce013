// Package profileconfig is a view over the free-form
// spec.profilingConfig.config of a DGDR. It looks keys up camelCase first and
// snake_case second, as the profiler does, reports type errors with full field
// paths, and edits the document without renaming, reordering or dropping keys.
package profileconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// BasePath is the field path of the config inside a DGDR.
var BasePath = field.NewPath("spec", "profilingConfig", "config")

// Config wraps the decoded document. Numbers are json.Number, so an integer
// stays an integer (200, not 200.0) when it is forwarded to the planner.
type Config struct {
	Root map[string]any

	// docStyle caches the document's snake and camel key counts, taken
	// when the first new key needs them, for the keys added after it.
	docStyle *[2]int
}

// parseErrorText is the profiler's message for an unparsable config.
const parseErrorText = "Failed to parse config string. Expected Python dict literal, YAML, or JSON format. Examples: {'sla': {'isl': 3000}} or sla: {isl: 3000}"

// Parse reads a YAML or JSON object. Python-style literals (single quotes,
// True/False/None) are accepted as the profiler accepts them.
func Parse(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Config{Root: map[string]any{}}, nil
	}
	c, err := parseYAML(data)
	if err == nil {
		return c, nil
	}
	if c2, err2 := parseYAML(pythonToYAML(data)); err2 == nil {
		return c2, nil
	}
	return nil, fmt.Errorf("%s: %v", parseErrorText, err)
}

func parseYAML(data []byte) (*Config, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	return decodeJSON(j)
}

var pyLiteral = regexp.MustCompile(`\bTrue\b|\bFalse\b|\bNone\b|'`)

// pythonToYAML turns the common Python dict-literal spellings into YAML flow syntax.
func pythonToYAML(data []byte) []byte {
	return pyLiteral.ReplaceAllFunc(data, func(m []byte) []byte {
		switch string(m) {
		case "True":
			return []byte("true")
		case "False":
			return []byte("false")
		case "None":
			return []byte("null")
		}
		return []byte(`"`)
	})
}

func decodeJSON(j []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if v == nil {
		return &Config{Root: map[string]any{}}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the config must be an object, got %s", typeName(v))
	}
	return &Config{Root: m}, nil
}

// FromJSON decodes spec.profilingConfig.config. A nil value is an empty config.
func FromJSON(j *apiextensionsv1.JSON) (*Config, error) {
	if j == nil || len(j.Raw) == 0 || string(j.Raw) == "null" {
		return &Config{Root: map[string]any{}}, nil
	}
	return decodeJSON(j.Raw)
}

// JSON encodes the config for spec.profilingConfig.config.
func (c *Config) JSON() (*apiextensionsv1.JSON, error) {
	b, err := appendJSON(make([]byte, 0, 512), c.Root)
	if err != nil {
		return nil, err
	}
	return &apiextensionsv1.JSON{Raw: b}, nil
}

// DeepCopy returns an independent copy.
func (c *Config) DeepCopy() *Config {
	return &Config{Root: deepCopy(c.Root).(map[string]any)}
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// Key names one setting: its section ("" for the top level) and its two spellings.
type Key struct {
	Section string
	Camel   string
	Snake   string
}

// Path is the field path of the key under the spelling given.
func (k Key) Path(spelling string) *field.Path {
	p := BasePath
	if k.Section != "" {
		p = p.Child(k.Section)
	}
	return p.Child(spelling)
}

// String is the dotted camelCase name, e.g. "sla.ttft".
func (k Key) String() string {
	if k.Section == "" {
		return k.Camel
	}
	return k.Section + "." + k.Camel
}

// spellings lists the distinct spellings, camelCase first.
func (k Key) spellings() []string {
	if k.Snake == "" || k.Snake == k.Camel {
		return []string{k.Camel}
	}
	return []string{k.Camel, k.Snake}
}

// SectionMap returns a section, nil when absent, or an error when it is not
// an object (the upstream "must be an object" message, with the path).
func (c *Config) SectionMap(name string) (map[string]any, *field.Error) {
	v, ok := c.Root[name]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, field.Invalid(BasePath.Child(name), v,
			fmt.Sprintf("profilingConfig.config.%s must be an object, got %s", name, typeName(v)))
	}
	return m, nil
}

// Lookup returns the first non-null value of the key, camelCase first, with
// the spelling that held it.
func (c *Config) Lookup(k Key) (value any, spelling string, ok bool) {
	m := c.Root
	if k.Section != "" {
		var err *field.Error
		if m, err = c.SectionMap(k.Section); err != nil || m == nil {
			return nil, "", false
		}
	}
	for _, s := range k.spellings() {
		if v, found := m[s]; found && v != nil {
			return v, s, true
		}
	}
	return nil, "", false
}

// Set writes the key under the spelling already present, or under the
// spelling the rest of its section uses, so no second spelling is created.
func (c *Config) Set(k Key, v any) error {
	m := c.Root
	if k.Section != "" {
		sec, err := c.SectionMap(k.Section)
		if err != nil {
			return err
		}
		if sec == nil {
			sec = map[string]any{}
			c.Root[k.Section] = sec
		}
		m = sec
	}
	for _, s := range k.spellings() {
		if _, found := m[s]; found {
			m[s] = v
			return nil
		}
	}
	m[c.preferredSpelling(k, m)] = v
	return nil
}

// preferredSpelling follows the section's style, then the document's; snake
// case (the documented samples' style) when nothing tells. A style is the
// majority of the keys that show one, ties going to snake case, so the
// answer does not depend on map order.
func (c *Config) preferredSpelling(k Key, section map[string]any) string {
	if k.Snake == "" {
		return k.Camel
	}
	snake, camel := styleCounts(section)
	if snake == 0 && camel == 0 {
		if c.docStyle == nil {
			var n [2]int
			var walk func(map[string]any)
			walk = func(m map[string]any) {
				sn, cm := styleCounts(m)
				n[0], n[1] = n[0]+sn, n[1]+cm
				for _, v := range m {
					if sub, ok := v.(map[string]any); ok {
						walk(sub)
					}
				}
			}
			walk(c.Root)
			c.docStyle = &n
		}
		snake, camel = c.docStyle[0], c.docStyle[1]
	}
	return pickSpelling(k, snake, camel)
}

// SpellingIn is how k would be spelled in section: camelCase when most of
// its styled keys are camelCase, otherwise snake_case.
func SpellingIn(k Key, section map[string]any) string {
	snake, camel := styleCounts(section)
	return pickSpelling(k, snake, camel)
}

func pickSpelling(k Key, snake, camel int) string {
	if k.Snake == "" || camel > snake {
		return k.Camel
	}
	return k.Snake
}

// styleCounts counts a map's snake_case keys and camelCase keys; all-lower
// keys such as "isl" show neither.
func styleCounts(m map[string]any) (snake, camel int) {
	for key := range m {
		for i := 0; i < len(key); i++ {
			if key[i] == '_' {
				snake++
				break
			}
			if 'A' <= key[i] && key[i] <= 'Z' {
				camel++
				break
			}
		}
	}
	return snake, camel
}

// typeName names a decoded JSON value's type the way users think of it.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, int, int64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
