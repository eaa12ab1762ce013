package jobs

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The configMapRef recipe's flags go after the profiler's own in the engine
// command of the role's Jobs, so the recipe's value wins.
func TestRecipeArgsInEngineCommand(t *testing.T) {
	for _, phase := range []string{PhasePrefill, PhaseDecode} {
		s := Spec{DGDR: dgdr("vllm"), Phase: phase, Mapping: tp(2), WorkerImage: workerImage, GPUsPerNode: 8, ISLs: []int{3000}, OSL: 150,
			Recipe: RecipeArgs{Prefill: []string{"--max-num-batched-tokens", "8192"}, Decode: []string{"--block-size", "32"}}}
		objs, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(objs.Job.Spec.Template.Spec.InitContainers[0].Command, " ")
		want, other := "--max-num-batched-tokens 8192", "--block-size 32"
		if phase == PhaseDecode {
			want, other = other, want
		}
		if !strings.Contains(cmd, want) || strings.Contains(cmd, other) {
			t.Errorf("%s engine command %q: want %q only", phase, cmd, want)
		}
		if phase == PhasePrefill && strings.LastIndex(cmd, "8192") < strings.Index(cmd, "--max-num-batched-tokens=") {
			t.Errorf("the recipe's flag must follow the profiler's own: %s", cmd)
		}
	}
}

// With profilingConfig.outputPVC the measure container mounts the PVC at
// /data, as upstream's profiler does, and writes its result there.
func TestOutputPVC(t *testing.T) {
	d := dgdr("vllm")
	d.Spec.ProfilingConfig.OutputPVC = "profiling-results"
	objs, err := Build(Spec{DGDR: d, Phase: PhaseDecode, Mapping: tp(2), WorkerImage: workerImage, GPUsPerNode: 8, ISLs: []int{3000}, OSL: 150})
	if err != nil {
		t.Fatal(err)
	}
	pod := objs.Job.Spec.Template.Spec
	var claim string
	for _, v := range pod.Volumes {
		if v.Name == "profiling-output" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "profiling-results" {
		t.Fatalf("no volume for the output PVC: %+v", pod.Volumes)
	}
	m := pod.Containers[0]
	if !slices.ContainsFunc(m.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == "profiling-output" && vm.MountPath == "/data" }) {
		t.Errorf("measure container mounts %+v, want the PVC at /data", m.VolumeMounts)
	}
	if want := "--output-file=/data/" + objs.Job.Name + ".json"; !slices.Contains(m.Args, want) {
		t.Errorf("measure args %v lack %s", m.Args, want)
	}
	// Without it nothing changes.
	objs, err = Build(Spec{DGDR: dgdr("vllm"), Phase: PhaseDecode, Mapping: tp(2), WorkerImage: workerImage, GPUsPerNode: 8, ISLs: []int{3000}, OSL: 150})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range objs.Job.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--output-file") {
			t.Errorf("output file without an output PVC: %s", a)
		}
	}
}
