package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
)

// Recipe is the base DynamoGraphDeployment of profilingConfig.configMapRef
// (upstream mounts it as /config/disagg.yaml): a recipe whose worker flags
// (batching, memory, caching) the generated deployment and the online
// profiling engines keep, with the profiler's model and parallelism on top.
type Recipe struct {
	DGD *dgd.DynamoGraphDeployment
}

// ParseRecipe reads a base DGD from YAML: the DGD itself, or a ConfigMap
// whose key holds it (key "" takes the only key, else disagg.yaml).
func ParseRecipe(data []byte, key string) (*Recipe, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("not YAML: %w", err)
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		switch doc["kind"] {
		case "DynamoGraphDeployment":
			d := &dgd.DynamoGraphDeployment{}
			if err := json.Unmarshal(raw, d); err != nil {
				return nil, fmt.Errorf("DynamoGraphDeployment: %w", err)
			}
			return &Recipe{DGD: d}, nil
		case "ConfigMap":
			cm := &corev1.ConfigMap{}
			if err := json.Unmarshal(raw, cm); err != nil {
				return nil, fmt.Errorf("ConfigMap: %w", err)
			}
			return RecipeFromConfigMap(cm, key)
		}
	}
	return nil, fmt.Errorf("no DynamoGraphDeployment (or ConfigMap holding one) found")
}

// RecipeFromConfigMap reads the base DGD from key of cm (default
// disagg.yaml, as upstream; "" with one key takes that key).
func RecipeFromConfigMap(cm *corev1.ConfigMap, key string) (*Recipe, error) {
	if key == "" && len(cm.Data) == 1 {
		for k := range cm.Data {
			key = k
		}
	}
	if key == "" {
		key = "disagg.yaml"
	}
	v, ok := cm.Data[key]
	if !ok {
		return nil, fmt.Errorf("key %s not found in ConfigMap %s", key, cm.Name)
	}
	d := &dgd.DynamoGraphDeployment{}
	if err := yaml.Unmarshal([]byte(v), d); err != nil || d.Kind != "DynamoGraphDeployment" {
		return nil, fmt.Errorf("ConfigMap %s key %s is not a DynamoGraphDeployment (kind %q): %v", cm.Name, key, d.Kind, err)
	}
	return &Recipe{DGD: d}, nil
}

// WorkerArgs are the args of the recipe's worker for role (prefill or
// decode): the service with that subComponentType, else the worker whose
// name says the role. nil when the recipe has none.
func (r *Recipe) WorkerArgs(role string) []string {
	if r == nil || r.DGD == nil {
		return nil
	}
	var byName *dgd.ServiceSpec
	for name, svc := range r.DGD.Spec.Services {
		if svc == nil {
			continue
		}
		if svc.SubComponentType == role {
			return mainArgs(svc)
		}
		if byName == nil && strings.Contains(strings.ToLower(name), role) {
			byName = svc
		}
	}
	if byName != nil {
		return mainArgs(byName)
	}
	return nil
}

func mainArgs(svc *dgd.ServiceSpec) []string {
	if svc.ExtraPodSpec == nil {
		return nil
	}
	var eps struct {
		MainContainer struct {
			Args []string `json:"args"`
		} `json:"mainContainer"`
	}
	if json.Unmarshal(svc.ExtraPodSpec.Raw, &eps) != nil {
		return nil
	}
	return eps.MainContainer.Args
}

// notEngineFlags are flags of the Dynamo worker wrappers, or flags the
// profiling engine sets itself (model, parallelism, address): the online
// Jobs run the engine directly, so they drop them. The bool says whether
// the flag takes a value.
var notEngineFlags = map[string]bool{
	"--model": true, "--model-path": true, "--served-model-name": true, "--host": true, "--port": true,
	"--tensor-parallel-size": true, "--tp": true, "--tp-size": true, "--data-parallel-size": true, "--dp": true, "--dp-size": true,
	"--ep": true, "--ep-size": true, "--expert-parallel-size": true, "--pipeline-parallel-size": true,
	"--enable-expert-parallel": false, "--enable-dp-attention": false,
	"--is-prefill-worker": false, "--is-decode-worker": false,
	"--disaggregation-mode": true, "--disaggregation-transfer-backend": true, "--disaggregation-bootstrap-port": true,
	"--disaggregation-strategy": true, "--extra-engine-args": true, "--override-engine-args": true,
	"--connector": true, "--kv-transfer-config": true, "--endpoint": true, "--migration-limit": true,
}

// EngineArgs keeps the recipe flags of a worker that the engine itself
// takes (e.g. --max-num-batched-tokens 8192), for the online profiling Jobs.
func EngineArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(a, "=")
		valued, known := notEngineFlags[name]
		switch {
		case !known:
			out = append(out, a)
		case valued && !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--"):
			i++ // skip the value too
		}
	}
	return out
}

// dropEqualsForm copies args without the "--flag=value" spellings of names,
// which setArg (looking for "--flag value") would leave beside its own.
func dropEqualsForm(args []string, names ...string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		name, _, eq := strings.Cut(a, "=")
		if eq && slices.Contains(names, name) {
			continue
		}
		out = append(out, a)
	}
	return out
}
