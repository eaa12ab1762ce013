package profile_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// v1beta1Samples are examples/v1beta1/*.yaml.
func v1beta1Samples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(examples + "v1beta1/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("want at least 10 v1beta1 samples, have %d", len(files))
	}
	return files
}

// Every v1beta1 sample profiles locally: a recommendation, results.json,
// and a generated DGD whose workers run the backend's runtime image.
func TestV1beta1SamplesProfileLocally(t *testing.T) {
	for _, f := range v1beta1Samples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := run(t, "", "profile", "--local", "-f", f, "--output-dir", dir, "--quiet", "--no-plots")
			if err != nil {
				t.Fatalf("profile: %v\nstderr:\n%s", err, stderr)
			}
			if !strings.Contains(stdout, "Suggested prefill ") || !strings.Contains(stdout, "Suggested decode ") {
				t.Errorf("no suggestion:\n%s", stdout)
			}
			if strings.Contains(stderr, "profilingConfig") {
				t.Errorf("a message names a v1alpha1 field for a v1beta1 request:\n%s", stderr)
			}
			r := readResults(t, dir)
			d := generatedDGD(t, dir)
			for name, svc := range d.Spec.Services {
				if svc.ComponentType != "worker" {
					continue
				}
				img := mainImage(t, svc)
				if !strings.Contains(img, r.Input.Backend+"-runtime:") && !strings.Contains(img, "tensorrtllm-runtime:") {
					t.Errorf("worker %s runs %s, not the %s runtime", name, img, r.Input.Backend)
				}
			}
		})
	}
}

// The MoE case: DeepSeek-R1 without GPUs per node profiles locally with
// upstream's 8 per node and a warning, and its engines span nodes of 8.
func TestV1beta1MoEAssumesEightGPUsPerNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := run(t, "", "profile", "--local", "-f", examples+"v1beta1/deepseek-r1-sglang-moe.yaml", "--output-dir", dir, "--no-plots")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	want := "Warning: spec.hardware.numGpusPerNode is not set for the MoE model deepseek-ai/DeepSeek-R1 and no GPU discovery runs: assuming 8 GPUs per node (upstream's default)"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if !strings.Contains(stdout, "Suggested prefill TEP:") || !strings.Contains(stdout, "Suggested decode DEP:") {
		t.Errorf("MoE summary:\n%s", stdout)
	}
	if r := readResults(t, dir); r.Input.GPUsPerNode != 8 {
		t.Errorf("results input.gpusPerNode = %d, want 8", r.Input.GPUsPerNode)
	}
	for name, svc := range generatedDGD(t, dir).Spec.Services {
		if svc.Resources == nil || svc.Resources.Limits == nil || svc.Resources.Limits.GPU == "" {
			continue
		}
		if n, err := strconv.Atoi(svc.Resources.Limits.GPU); err != nil || n > 8 {
			t.Errorf("service %s asks for %s GPUs per pod on 8-GPU nodes", name, svc.Resources.Limits.GPU)
		}
	}
}

func TestUnknownAPIVersionNamed(t *testing.T) {
	f := filepath.Join(t.TempDir(), "dgdr.yaml")
	if err := os.WriteFile(f, []byte("apiVersion: nvidia.com/v2\nkind: DynamoGraphDeploymentRequest\nspec: {model: m}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "", "profile", "--local", "-f", f)
	if err == nil || !strings.Contains(err.Error(), `apiVersion "nvidia.com/v2" is not a DynamoGraphDeploymentRequest version kubectl-dgdr reads: use nvidia.com/v1beta1`) {
		t.Errorf("err = %v", err)
	}
}

func readResults(t *testing.T, dir string) *results.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := &results.Results{}
	if err := yaml.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// generatedDGD is the DynamoGraphDeployment document of config_with_planner.yaml.
func generatedDGD(t *testing.T, dir string) *dgd.DynamoGraphDeployment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config_with_planner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		if strings.Contains(doc, "kind: DynamoGraphDeployment\n") {
			d := &dgd.DynamoGraphDeployment{}
			if err := yaml.Unmarshal([]byte(doc), d); err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("no DynamoGraphDeployment in %s", dir)
	return nil
}

func mainImage(t *testing.T, svc *dgd.ServiceSpec) string {
	t.Helper()
	var eps struct {
		MainContainer struct {
			Image string `json:"image"`
		} `json:"mainContainer"`
	}
	if svc.ExtraPodSpec == nil || yaml.Unmarshal(svc.ExtraPodSpec.Raw, &eps) != nil {
		t.Fatal("service without extraPodSpec")
	}
	return eps.MainContainer.Image
}

// --config-map-file stands in for configMapRef without a cluster: the
// recipe's worker flags land in the generated DGD beside the profiled
// parallelism.
func TestConfigMapFileRecipe(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, err := run(t, "", "profile", "-f", examples+"vllm-dense-online.yaml", "--config-map-file", examples+"recipes/qwen-vllm-disagg.yaml",
		"--output-dir", out, "--quiet", "--no-plots"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for name, svc := range generatedDGD(t, out).Spec.Services {
		if svc.ComponentType != "worker" {
			continue
		}
		var eps struct {
			MainContainer struct {
				Args []string `json:"args"`
			} `json:"mainContainer"`
		}
		if err := yaml.Unmarshal(svc.ExtraPodSpec.Raw, &eps); err != nil {
			t.Fatal(err)
		}
		args := strings.Join(eps.MainContainer.Args, " ")
		if !strings.Contains(args, "--max-num-batched-tokens 8192") || !strings.Contains(args, "--model Qwen/Qwen3-0.6B") || !strings.Contains(args, "--tensor-parallel-size") {
			t.Errorf("%s args %q: want the recipe's flag, the profiled model and TP", name, args)
		}
	}
}
