package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1beta1"
)

type spoke = v1alpha1.DynamoGraphDeploymentRequest
type hub = v1beta1.DynamoGraphDeploymentRequest

// The round trips, as the API server runs them: v1alpha1 objects are
// converted to v1beta1, stored, read back with the CRD's defaults and
// converted again; v1beta1 objects (always defaulted) go the other way.
func spokeRoundTrip(t testing.TB, a *spoke) *spoke {
	t.Helper()
	b := &hub{}
	if err := a.DeepCopy().ConvertTo(b); err != nil {
		t.Fatalf("ConvertTo: %v", err)
	}
	v1beta1.SetDefaults(b)
	b = reencode(t, b)
	back := &spoke{}
	if err := back.ConvertFrom(b); err != nil {
		t.Fatalf("ConvertFrom: %v", err)
	}
	return back
}

func hubRoundTrip(t testing.TB, b *hub) *hub {
	t.Helper()
	a := &spoke{}
	if err := a.ConvertFrom(b.DeepCopy()); err != nil {
		t.Fatalf("ConvertFrom: %v", err)
	}
	a = reencode(t, a)
	back := &hub{}
	if err := a.ConvertTo(back); err != nil {
		t.Fatalf("ConvertTo: %v", err)
	}
	return back
}

// reencode passes an object through JSON, as the API server does between
// the conversion webhook and storage.
func reencode[T any](t testing.TB, x *T) *T {
	t.Helper()
	raw, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonOf is the object as decoded JSON, numbers as written.
func jsonOf(t testing.TB, x any) any {
	t.Helper()
	raw, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sameJSON(t testing.TB, want, got any) bool {
	return reflect.DeepEqual(jsonOf(t, want), jsonOf(t, got))
}

// diffJSON lists the paths where two objects' JSON forms differ.
func diffJSON(t testing.TB, want, got any) string {
	var out []string
	var walk func(path string, a, b any)
	walk = func(path string, a, b any) {
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			keys := map[string]bool{}
			for k := range am {
				keys[k] = true
			}
			for k := range bm {
				keys[k] = true
			}
			for k := range keys {
				av, ain := am[k]
				bv, bin := bm[k]
				switch {
				case !ain:
					out = append(out, fmt.Sprintf("%s.%s: added %s", path, k, mustJSONString(bv)))
				case !bin:
					out = append(out, fmt.Sprintf("%s.%s: lost %s", path, k, mustJSONString(av)))
				default:
					walk(path+"."+k, av, bv)
				}
			}
			return
		}
		if !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s: %s became %s", path, mustJSONString(a), mustJSONString(b)))
		}
	}
	walk("", jsonOf(t, want), jsonOf(t, got))
	return strings.Join(out, "\n")
}

func mustJSONString(x any) string {
	b, _ := json.MarshalIndent(x, "", "  ")
	return string(b)
}

// filler makes objects of both versions with the values real objects hold:
// configs from the keys and spellings the profiler and upstream read (and
// some it does not), enum values with the odd invalid one, and the free-form
// members (dgd, planner, generated deployment) as JSON objects.
func filler(seed int64) *randfill.Filler {
	return randfill.NewWithSeed(seed).NilChance(0.35).NumElements(0, 3).MaxDepth(12).Funcs(
		func(j *apiextensionsv1.JSON, c randfill.Continue) {
			switch c.Intn(12) {
			case 0:
				j.Raw = []byte(`"sla: {isl: 3000}"`) // not an object: the CRD allows it through old objects
			default:
				j.Raw = mustMarshal(randomConfig(c.Rand))
			}
		},
		func(r *runtime.RawExtension, c randfill.Continue) {
			r.Raw = mustMarshal(randomObject(c.Rand, 2))
		},
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			m.Name = "dgdr-" + fmt.Sprint(c.Intn(100))
			m.Namespace = "team"
			if c.Intn(2) == 0 {
				m.Annotations = map[string]string{"example.com/note": word(c.Rand)}
			}
			if c.Intn(2) == 0 {
				m.Labels = map[string]string{"app": word(c.Rand)}
			}
		},
		func(cond *metav1.Condition, c randfill.Continue) {
			cond.Type = pick(c.Rand, "Validation", "Profiling", "SpecGenerated", "DeploymentReady", "Succeeded")
			cond.Status = metav1.ConditionStatus(pick(c.Rand, "True", "False", "Unknown"))
			cond.Reason = pick(c.Rand, "ProfilingRunning", "SpecGenerated", "ValidationFailed")
			cond.Message = word(c.Rand)
			cond.ObservedGeneration = int64(c.Intn(5))
			cond.LastTransitionTime = metav1.NewTime(time.Unix(1_700_000_000+int64(c.Intn(1000)), 0).UTC())
		},
		func(r *corev1.ResourceRequirements, c randfill.Continue) {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(pick(c.Rand, "1", "500m", "2"))}
			if c.Intn(2) == 0 {
				r.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(pick(c.Rand, "1Gi", "512Mi"))}
			}
		},
		func(j *batchv1.JobSpec, c randfill.Continue) {
			if c.Intn(2) == 0 {
				j.BackoffLimit = ptr(int32(c.Intn(4)))
			}
			pod := &j.Template.Spec
			if c.Intn(2) == 0 {
				ctr := corev1.Container{}
				if c.Intn(2) == 0 {
					ctr.Name = "profiler"
				}
				if c.Intn(2) == 0 {
					ctr.Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
				}
				pod.Containers = []corev1.Container{ctr}
			}
			if c.Intn(2) == 0 {
				pod.Tolerations = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}}
			}
			if c.Intn(2) == 0 {
				pod.NodeSelector = map[string]string{"pool": word(c.Rand)}
			}
			if c.Intn(3) == 0 {
				pod.ServiceAccountName = "profiler"
			}
		},
		func(s *v1alpha1.State, c randfill.Continue) {
			*s = v1alpha1.State(pick(c.Rand, "", "Initializing", "Pending", "Profiling", "Deploying", "Ready",
				"DeploymentDeleted", "Failed", "SomethingNew"))
		},
		func(p *v1beta1.Phase, c randfill.Continue) {
			*p = v1beta1.Phase(pick(c.Rand, "", "Pending", "Profiling", "Ready", "Deploying", "Deployed", "Failed"))
		},
		func(p *v1beta1.ProfilingPhase, c randfill.Continue) {
			*p = v1beta1.ProfilingPhase(pick(c.Rand, "", "Initializing", "SweepingDecode", "Done"))
		},
		func(b *v1beta1.BackendType, c randfill.Continue) {
			*b = v1beta1.BackendType(pick(c.Rand, "", "auto", "vllm", "sglang", "trtllm"))
		},
		func(s *v1beta1.SearchStrategy, c randfill.Continue) {
			*s = v1beta1.SearchStrategy(pick(c.Rand, "", "rapid", "thorough"))
		},
		func(s *v1beta1.GPUSKU, c randfill.Continue) {
			*s = v1beta1.GPUSKU(pick(c.Rand, "", "h100_sxm", "h200_sxm", "b200_sxm", "l40s"))
		},
		func(d *v1beta1.DeviceType, c randfill.Continue) {
			*d = v1beta1.DeviceType(pick(c.Rand, "", "cuda", "xpu"))
		},
		func(o *v1beta1.OptimizationType, c randfill.Continue) {
			*o = v1beta1.OptimizationType(pick(c.Rand, "", "latency", "throughput"))
		},
		func(f *float64, c randfill.Continue) {
			*f = []float64{0.5, 20, 200, 3000.25, 1e-3, 12345678}[c.Intn(6)]
		},
		func(s *v1alpha1.DynamoGraphDeploymentRequestSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			s.Backend = pick(c.Rand, "vllm", "sglang", "trtllm", "auto", "")
		},
	)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func pick(r *rand.Rand, vals ...string) string { return vals[r.Intn(len(vals))] }

func word(r *rand.Rand) string {
	return pick(r, "alpha", "beta", "H100_SXM", "h100_sxm", "latency", "gpu", "cuda", "/opt/models", "x y")
}

func ptr[T any](v T) *T { return &v }

// randomValue is a JSON value of any type; numbers are json.Number so that
// 200 and 200.0 stay as written.
func randomValue(r *rand.Rand, depth int) any {
	switch r.Intn(9) {
	case 0:
		return json.Number(fmt.Sprint(r.Intn(5000)))
	case 1:
		return json.Number(pick(r, "200.0", "0.5", "1e3", "-4", "8", "3000000000"))
	case 2, 3:
		return word(r)
	case 4:
		return r.Intn(2) == 0
	case 5:
		return nil
	case 6:
		if depth > 0 {
			return randomObject(r, depth-1)
		}
		return "leaf"
	case 7:
		return []any{json.Number("1"), "two"}
	default:
		return pick(r, "h200_sxm", "b200_sxm", "xpu", "throughput")
	}
}

func randomObject(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for i := r.Intn(4); i > 0; i-- {
		m[pick(r, "apiVersion", "kind", "metadata", "spec", "name", "x", "adjustment_interval", "ttft")] = randomValue(r, depth)
	}
	if r.Intn(2) == 0 {
		m["apiVersion"], m["kind"] = "nvidia.com/v1alpha1", "DynamoGraphDeployment"
		m["metadata"] = map[string]any{"name": word(r), "labels": map[string]any{"team": word(r)}}
	}
	return m
}

// configKeys are the config's sections and keys: the ones conversion maps
// (in every spelling), ones it does not, and typos.
var configKeys = map[string][]string{
	"sla":        {"isl", "osl", "ttft", "itl", "e2eLatency", "optimizationType", "tftt"},
	"hardware":   {"numGpusPerNode", "num_gpus_per_node", "system", "gpuVramMib", "totalGpus", "deviceType", "max_num_gpus_per_engine", "gpu_type"},
	"sweep":      {"useAiConfigurator", "use_ai_configurator", "aicSystem", "aic_system", "prefillInterpolationGranularity"},
	"aic":        {"system", "model_name"},
	"deployment": {"model", "namespace", "dgd_image", "modelCache"},
	"engine":     {"backend", "config", "is_moe_model"},
	"planner":    {"adjustment_interval", "plannerMinEndpoint", "load_predictor"},
	"workload":   {"concurrency", "requestRate"},
}

func randomConfig(r *rand.Rand) map[string]any {
	cfg := map[string]any{}
	for sec, keys := range configKeys {
		if r.Intn(3) == 0 {
			continue
		}
		if r.Intn(12) == 0 {
			cfg[sec] = word(r) // a section that is not an object
			continue
		}
		m := map[string]any{}
		for _, k := range keys {
			if r.Intn(2) == 0 {
				continue
			}
			m[k] = randomValue(r, 1)
			if k == "modelCache" && r.Intn(3) > 0 {
				mc := map[string]any{}
				for _, mk := range []string{"pvcName", "pvcPath", "modelPathInPvc", "mountPath", "pvcMountPath"} {
					if r.Intn(2) == 0 {
						mc[mk] = word(r)
					}
				}
				m[k] = mc
			}
		}
		cfg[sec] = m
	}
	if r.Intn(3) == 0 {
		cfg["output_dir"] = "/data"
	}
	return cfg
}

func randomSpoke(seed int64) *spoke {
	a := &spoke{}
	filler(seed).Fill(a)
	a.APIVersion, a.Kind = v1alpha1.GroupVersion.String(), v1alpha1.DGDRKind
	return a
}

func randomHub(t testing.TB, seed int64) *hub {
	b := &hub{}
	filler(seed).Fill(b)
	b.APIVersion, b.Kind = v1beta1.GroupVersion.String(), v1beta1.DGDRKind
	v1beta1.SetDefaults(b) // stored objects always carry the defaults
	return reencode(t, b)
}

const roundTrips = 1500

// TestConversionRoundTripV1alpha1 converts random v1alpha1 objects to
// v1beta1 and back: every field, every config key and spelling survives.
func TestConversionRoundTripV1alpha1(t *testing.T) {
	saved := 0
	for seed := int64(0); seed < roundTrips; seed++ {
		a := randomSpoke(seed)
		if seed%2 == 1 {
			// One that v1beta1 can hold whole: what a v1beta1 object maps to.
			a = &spoke{}
			if err := a.ConvertFrom(randomHub(t, seed)); err != nil {
				t.Fatal(err)
			}
			delete(a.Annotations, v1alpha1.AnnotationV1beta1Fields)
		}
		a = reencode(t, a)
		got := spokeRoundTrip(t, a)
		if !sameJSON(t, a, got) {
			t.Fatalf("seed %d: v1alpha1 → v1beta1 → v1alpha1 changed the object:\n%s", seed, diffJSON(t, a, got))
		}
		b := &hub{}
		if err := a.ConvertTo(b); err != nil {
			t.Fatal(err)
		}
		if _, ok := b.Annotations[v1alpha1.AnnotationV1alpha1Fields]; ok {
			saved++
		}
	}
	// Both paths ran: objects v1beta1 holds whole, and ones that needed the annotation.
	if saved == 0 || saved == roundTrips {
		t.Errorf("%d of %d objects needed the annotation: the generator does not cover both cases", saved, roundTrips)
	}
}

// TestConversionRoundTripV1beta1 converts random v1beta1 objects to
// v1alpha1 and back.
func TestConversionRoundTripV1beta1(t *testing.T) {
	saved := 0
	for seed := int64(0); seed < roundTrips; seed++ {
		b := randomHub(t, seed)
		if seed%2 == 1 {
			// One that v1alpha1 can hold whole: what a v1alpha1 object maps to.
			b = &hub{}
			if err := reencode(t, randomSpoke(seed)).ConvertTo(b); err != nil {
				t.Fatal(err)
			}
			delete(b.Annotations, v1alpha1.AnnotationV1alpha1Fields)
			v1beta1.SetDefaults(b)
			b = reencode(t, b)
		}
		got := hubRoundTrip(t, b)
		if !sameJSON(t, b, got) {
			t.Fatalf("seed %d: v1beta1 → v1alpha1 → v1beta1 changed the object:\n%s", seed, diffJSON(t, b, got))
		}
		a := &spoke{}
		if err := a.ConvertFrom(b); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.Annotations[v1alpha1.AnnotationV1beta1Fields]; ok {
			saved++
		}
	}
	if saved == 0 || saved == roundTrips {
		t.Errorf("%d of %d objects needed the annotation: the generator does not cover both cases", saved, roundTrips)
	}
}

// TestConversionRoundTripTwice: a second trip changes nothing either (the
// annotations of the first one are read back, not stacked).
func TestConversionRoundTripTwice(t *testing.T) {
	for seed := int64(0); seed < roundTrips/3; seed++ {
		a := reencode(t, randomSpoke(seed))
		once := spokeRoundTrip(t, a)
		twice := spokeRoundTrip(t, once)
		if !sameJSON(t, a, twice) {
			t.Fatalf("seed %d: two v1alpha1 round trips changed the object:\n%s", seed, diffJSON(t, a, twice))
		}
		b := randomHub(t, seed)
		if got := hubRoundTrip(t, hubRoundTrip(t, b)); !sameJSON(t, b, got) {
			t.Fatalf("seed %d: two v1beta1 round trips changed the object:\n%s", seed, diffJSON(t, b, got))
		}
	}
}

// FuzzConversion feeds arbitrary v1alpha1 objects (seeded with the
// examples) through the round trip: it must never panic, and what converts
// must come back unchanged.
func FuzzConversion(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(raw)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j)
	}
	f.Add([]byte(`{"spec":{"model":"m","profilingConfig":{"config":{"sla":{"ttft":"200"},"hardware":{"system":"H100"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := &spoke{}
		if json.Unmarshal(data, a) != nil {
			return
		}
		if a.Spec.ProfilingConfig.Config != nil && !json.Valid(a.Spec.ProfilingConfig.Config.Raw) {
			return
		}
		a.APIVersion, a.Kind = v1alpha1.GroupVersion.String(), v1alpha1.DGDRKind
		delete(a.Annotations, v1alpha1.AnnotationV1beta1Fields)
		a = reencode(t, a)
		if got := spokeRoundTrip(t, a); !sameJSON(t, a, got) {
			t.Fatalf("round trip changed the object:\n%s", diffJSON(t, a, got))
		}
	})
}

// TestConversionMapsExamples checks what a v1beta1 reader sees of the
// seed's examples: the typed fields, not only an annotation.
func TestConversionMapsExamples(t *testing.T) {
	read := func(name string) *spoke {
		raw, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		a := &spoke{}
		if err := yaml.UnmarshalStrict(raw, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	b := &hub{}
	if err := read("trtllm-aic-offline.yaml").ConvertTo(b); err != nil {
		t.Fatal(err)
	}
	s := b.Spec
	if s.Model != "Qwen/Qwen3-32B" || s.Backend != "trtllm" || s.Image != "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.6.1" ||
		s.SearchStrategy != v1beta1.SearchRapid || s.AutoApply == nil || !*s.AutoApply {
		t.Errorf("spec = %s", mustJSONString(s))
	}
	if s.SLA == nil || *s.SLA.TTFT != 300 || *s.SLA.ITL != 10 || s.Workload == nil || *s.Workload.ISL != 4000 || *s.Workload.OSL != 500 {
		t.Errorf("sla/workload = %s / %s", mustJSONString(s.SLA), mustJSONString(s.Workload))
	}
	if s.Hardware == nil || s.Hardware.GPUSKU != "h200_sxm" {
		t.Errorf("hardware = %s, want gpuSku h200_sxm from aic.system", mustJSONString(s.Hardware))
	}
	// workersImage has no v1beta1 field: it is kept in the annotation.
	if !strings.Contains(b.Annotations[v1alpha1.AnnotationV1alpha1Fields], `"workersImage":"nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.6.1"`) {
		t.Errorf("annotation %s = %q", v1alpha1.AnnotationV1alpha1Fields, b.Annotations[v1alpha1.AnnotationV1alpha1Fields])
	}

	if err := read("sglang-moe.yaml").ConvertTo(b); err != nil {
		t.Fatal(err)
	}
	if hw := b.Spec.Hardware; hw == nil || hw.NumGPUsPerNode == nil || *hw.NumGPUsPerNode != 8 || b.Spec.SearchStrategy != v1beta1.SearchThorough {
		t.Errorf("sglang-moe: hardware %s, searchStrategy %q", mustJSONString(b.Spec.Hardware), b.Spec.SearchStrategy)
	}
}

// TestConversionKeepsEdits: an edit made in one version wins over the
// saved copy from the other, and lands where the profiler reads it.
func TestConversionKeepsEdits(t *testing.T) {
	a := &spoke{}
	a.Spec.Model, a.Spec.Backend = "Qwen/Qwen3-0.6B", "vllm"
	a.Spec.ProfilingConfig.ProfilerImage = "img"
	a.Spec.ProfilingConfig.ConfigMapRef = &v1alpha1.ConfigMapKeySelector{Name: "recipe", Key: "disagg.yaml"}
	a.Spec.ProfilingConfig.Config = &apiextensionsv1.JSON{Raw: []byte(
		`{"sla":{"isl":3000,"osl":150,"ttft":200.0,"itl":20},"hardware":{"num_gpus_per_node":8},"sweep":{"aic_system":"h100_sxm","use_ai_configurator":true},"custom":{"k":1}}`)}
	b := &hub{}
	if err := a.ConvertTo(b); err != nil {
		t.Fatal(err)
	}
	v1beta1.SetDefaults(b)
	b.Spec.SLA.TTFT = ptr(100.0)
	b.Spec.Hardware.NumGPUsPerNode = ptr(int32(4))
	b.Spec.Hardware.GPUSKU = "h200_sxm"
	b.Spec.SearchStrategy = v1beta1.SearchThorough
	got := &spoke{}
	if err := got.ConvertFrom(b); err != nil {
		t.Fatal(err)
	}
	want := `{"custom":{"k":1},"hardware":{"num_gpus_per_node":4},"sla":{"isl":3000,"itl":20,"osl":150,"ttft":100},"sweep":{"aic_system":"h200_sxm","use_ai_configurator":false}}`
	if !sameJSON(t, json.RawMessage(want), json.RawMessage(got.Spec.ProfilingConfig.Config.Raw)) {
		t.Errorf("config = %s\nwant     %s", got.Spec.ProfilingConfig.Config.Raw, want)
	}
	if got.Spec.ProfilingConfig.ConfigMapRef == nil || got.Spec.ProfilingConfig.ConfigMapRef.Name != "recipe" {
		t.Errorf("configMapRef lost: %+v", got.Spec.ProfilingConfig.ConfigMapRef)
	}
	if _, ok := got.Annotations[v1alpha1.AnnotationV1alpha1Fields]; ok {
		t.Error("the v1alpha1 object carries the annotation meant for v1beta1 objects")
	}

	// And the other way: a v1alpha1 edit of a v1beta1-only object.
	h := &hub{}
	h.Spec.Model = "m"
	h.Spec.Overrides = &v1beta1.OverridesSpec{DGD: &runtime.RawExtension{Raw: []byte(
		`{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeployment","metadata":{"name":"x"},"spec":{"envs":[{"name":"A","value":"1"}]}}`)}}
	v1beta1.SetDefaults(h)
	sp := &spoke{}
	if err := sp.ConvertFrom(h); err != nil {
		t.Fatal(err)
	}
	if sp.Spec.DeploymentOverrides == nil || sp.Spec.DeploymentOverrides.Name != "x" {
		t.Fatalf("overrides.dgd.metadata.name not mapped: %+v", sp.Spec.DeploymentOverrides)
	}
	sp.Spec.DeploymentOverrides.Name = "y"
	back := &hub{}
	if err := sp.ConvertTo(back); err != nil {
		t.Fatal(err)
	}
	wantDGD := `{"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoGraphDeployment","metadata":{"name":"y"},"spec":{"envs":[{"name":"A","value":"1"}]}}`
	if !sameJSON(t, json.RawMessage(wantDGD), json.RawMessage(back.Spec.Overrides.DGD.Raw)) {
		t.Errorf("overrides.dgd = %s\nwant            %s", back.Spec.Overrides.DGD.Raw, wantDGD)
	}
}

// Objects stored by upstream's operator carry its annotations for the
// v1alpha1 fields; converted by this webhook they keep those fields, so
// this CRD can replace upstream's without data loss.
func TestConversionReadsUpstreamAnnotations(t *testing.T) {
	b := &hub{}
	b.Name, b.Namespace = "old", "team"
	b.Spec.Model = "Qwen/Qwen3-0.6B"
	b.Spec.Backend = "vllm"
	b.Spec.Image = "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0"
	b.Spec.SLA = &v1beta1.SLASpec{TTFT: ptr(200.0), ITL: ptr(20.0)}
	b.Annotations = map[string]string{
		"nvidia.com/dgdr-profiling-config":     `{"sla":{"ttft":200,"itl":20},"sweep":{"prefill_interpolation_granularity":8}}`,
		"nvidia.com/dgdr-config-map-ref":       `{"name":"recipe","key":"disagg.yaml"}`,
		"nvidia.com/dgdr-output-pvc":           "results",
		"nvidia.com/dgdr-deployment-overrides": `{"name":"qwen-prod","labels":{"team":"a"}}`,
		"nvidia.com/dgdr-status-backend":       "vllm",
	}
	v1beta1.SetDefaults(b)
	a := &spoke{}
	if err := a.ConvertFrom(b); err != nil {
		t.Fatal(err)
	}
	pc := a.Spec.ProfilingConfig
	if pc.ConfigMapRef == nil || pc.ConfigMapRef.Name != "recipe" || pc.OutputPVC != "results" ||
		a.Spec.DeploymentOverrides == nil || a.Spec.DeploymentOverrides.Name != "qwen-prod" || a.Status.Backend != "vllm" {
		t.Errorf("upstream's fields lost: %s", mustJSONString(a.Spec))
	}
	if !strings.Contains(string(pc.Config.Raw), `"prefill_interpolation_granularity":8`) {
		t.Errorf("config keys only upstream's annotation held are lost: %s", pc.Config.Raw)
	}
}
