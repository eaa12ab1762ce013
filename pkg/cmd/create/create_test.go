package create

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// --dry-run=client builds, defaults and validates from flags with no cluster.
func TestCreateFromFlagsClientDryRun(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	flags := genericclioptions.NewConfigFlags(false)
	ns := "team"
	flags.Namespace = &ns
	cmd := NewCmd(flags, streams)
	cmd.SetArgs([]string{"qwen", "--model", "Qwen/Qwen3-0.6B", "--isl", "3000", "--osl", "150", "--ttft", "200", "--itl", "20",
		"--min-gpus", "1", "--max-gpus", "2", "--dry-run=client", "-o", "name"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if out.String() != "dynamographdeploymentrequest.nvidia.com/qwen\n" {
		t.Fatalf("stdout = %q", out)
	}
	d, err := Build(Flags{Model: "m", Backend: "sglang", ISL: 1, OSL: 2, TTFT: 3, ITL: 4, System: "H200_SXM", WorkersImage: "w"}, "x", "ns")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(d.Spec.ProfilingConfig.Config.Raw)
	for _, want := range []string{`"aicSystem":"h200_sxm"`, `"useAiConfigurator":true`, `"sla":{"isl":1,"itl":4,"osl":2,"ttft":3}`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config %s lacks %s", cfg, want)
		}
	}
	if d.Spec.ProfilingConfig.ProfilerImage != "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.6.1" || d.Spec.DeploymentOverrides.WorkersImage != "w" {
		t.Errorf("images: %+v", d.Spec)
	}
}

// Invalid flags fail on the client with the webhook's Invalid error.
func TestCreateInvalidFlags(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	cmd := NewCmd(genericclioptions.NewConfigFlags(false), streams)
	cmd.SetArgs([]string{"bad", "--model", "m", "--isl", "3000", "--osl", "150", "--ttft", "0", "--itl", "20"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "invalid flags: --ttft: Invalid value: 0: --ttft must be positive") {
		t.Fatalf("err = %v", err)
	}
	cmd = NewCmd(genericclioptions.NewConfigFlags(false), streams)
	cmd.SetArgs([]string{"-f", "x.yaml", "--model", "m"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "either -f or NAME with flags") {
		t.Fatalf("mixed input: %v", err)
	}
}
