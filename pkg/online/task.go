package online

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/workerproto"
)

// AnnotationTaskHash marks what a Job measures, so that a re-attach reuses
// only a Job that measures the same thing (not, say, an older SLA's ISL).
const AnnotationTaskHash = "dgdr.nvidia.com/task-hash"

// task is one Job and what became of it.
type task struct {
	name    string
	phase   string
	mapping results.Mapping
	spec    jobs.Spec
	hash    string
	isls    []int

	gpusPerPod, pods int

	submitted bool
	reused    bool
	state     State
	msg       string
	finished  bool
	result    *workerproto.Result
	err       error
}

func (o *Measurer) newTask(phase string, m results.Mapping, isls []int, osl, g int, cfg profiler.Config) *task {
	return o.newPartTask(phase, "", m, isls, osl, g, cfg)
}

// newPartTask is one shard of a phase split over several Jobs.
func (o *Measurer) newPartTask(phase, part string, m results.Mapping, isls []int, osl, g int, cfg profiler.Config) *task {
	m = normalize(m)
	s := o.opts.Template
	s.DGDR, s.Phase, s.Part, s.Mapping = o.opts.DGDR, phase, part, m
	s.ISLs, s.OSL, s.Granularity, s.Concurrencies = slices.Clone(isls), osl, g, nil
	if s.MaxModelLen == 0 && cfg.MaxContextLength > 0 {
		s.MaxModelLen = cfg.MaxContextLength
	}
	name := s.JobName()
	if o.opts.EnginePort != nil {
		s.EnginePort = o.opts.EnginePort(name)
	}
	gpn := max(s.GPUsPerNode, 1)
	t := &task{name: name, phase: phase, mapping: m, spec: s, isls: s.ISLs,
		gpusPerPod: min(m.N, gpn), pods: max(1, m.N/gpn)}
	t.hash = taskHash(s)
	return t
}

// taskHash covers what the measurement depends on; the port is left out
// (it only keeps pods of one host apart).
func taskHash(s jobs.Spec) string {
	key := struct {
		Phase, Part, Backend, Model, EngineImage, WorkerImage string
		Mapping                                               results.Mapping
		ISLs                                                  []int
		OSL, Granularity, MaxModelLen                         int
		EngineArgs                                            []string
		Mocker                                                jobs.MockerSpec
		Concurrencies                                         []int
		Target                                                float64
		FrontierPoints, MaxISL                                int
		Recipe                                                *jobs.RecipeArgs `json:",omitempty"`
	}{s.Phase, s.Part, s.Backend, s.Model, s.EngineImage, s.WorkerImage, s.Mapping, s.ISLs, s.OSL, s.Granularity, s.MaxModelLen, s.EngineArgs, s.Mocker,
		s.Concurrencies, s.SLATarget, s.FrontierPoints, s.MaxISL, nil}
	if len(s.Recipe.Prefill)+len(s.Recipe.Decode) > 0 {
		key.Recipe = &s.Recipe
	}
	b, _ := json.Marshal(key) // plain data: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

// resultMatches accepts a result ConfigMap left without its Job only when
// it measured this mapping and phase at the ISLs asked for.
func (t *task) resultMatches(r *workerproto.Result) bool {
	if normalize(r.Mapping) != t.mapping {
		return false
	}
	wantPhase := workerproto.PhaseDecode
	if t.phase == jobs.PhasePrefill || t.phase == jobs.PhasePrefillGrid {
		wantPhase = workerproto.PhasePrefill
	}
	if r.Phase != wantPhase {
		return false
	}
	for _, p := range r.Prefill {
		if !slices.Contains(t.isls, p.ISL) && !p.Frontier {
			return false
		}
	}
	for _, p := range r.Decode {
		if !slices.Contains(t.isls, p.ISL) || p.OSL != t.spec.OSL {
			return false
		}
	}
	return true
}

func (t *task) label() string { return fmt.Sprintf("%s %s", t.phase, t.mapping.Label()) }

// podFailure describes why a pod's containers failed, for error messages.
func podFailure(p *corev1.Pod) string {
	var parts []string
	if p.Status.Reason != "" || p.Status.Message != "" {
		parts = append(parts, fmt.Sprintf("pod %s: %s %s", p.Name, p.Status.Reason, p.Status.Message))
	}
	describe := func(kind string, cs corev1.ContainerStatus) {
		if term := cs.State.Terminated; term != nil && term.ExitCode != 0 {
			parts = append(parts, fmt.Sprintf("pod %s %s container %s exited with code %d (reason %s): %s",
				p.Name, kind, cs.Name, term.ExitCode, term.Reason, oneLine(term.Message)))
			return
		}
		if term := cs.LastTerminationState.Terminated; term != nil && term.ExitCode != 0 {
			w := ""
			if cs.State.Waiting != nil {
				w = cs.State.Waiting.Reason + ", "
			}
			parts = append(parts, fmt.Sprintf("pod %s %s container %s crashed %d time(s) (%slast exit code %d, reason %s): %s",
				p.Name, kind, cs.Name, cs.RestartCount, w, term.ExitCode, term.Reason, oneLine(term.Message)))
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		describe("engine", cs)
	}
	for _, cs := range p.Status.ContainerStatuses {
		describe("measure", cs)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("pod %s is %s with no container failure recorded", p.Name, p.Status.Phase)
	}
	return joinSemi(parts)
}

func oneLine(s string) string {
	const maxLen = 600
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	if len(out) > maxLen {
		out = append(out[:maxLen], '…')
	}
	return string(out)
}

func joinSemi(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}
