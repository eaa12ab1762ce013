// Package output renders everything a profile writes (profiler.md §10, §12.4–§16):
// plots, npz grids, the generated DGD with its planner ConfigMap, the status
// file, results.json and a self-contained HTML report.
package output

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// File names under the output directory (profiler.md §10).
const (
	FilePrefillPerformance  = "prefill_performance.png"
	FileDecodePerformance   = "decode_performance.png"
	FileCostSLA             = "cost_sla.png"
	DirPrefillInterpolation = "selected_prefill_interpolation"
	DirDecodeInterpolation  = "selected_decode_interpolation"
	FileRawData             = "raw_data.npz"
	FilePrefillTTFTInterp   = "prefill_ttft_interpolation.png"
	FilePrefillThptInterp   = "prefill_throughput_interpolation.png"
	FileDecodeITLInterp     = "decode_itl_interplation.png" // the seed's spelling, kept for compatibility
	FileDecodeThptInterp    = "decode_throughput_interpolation.png"
	FileConfigWithPlanner   = "config_with_planner.yaml"
	FileMockerConfigPlanner = "mocker_config_with_planner.yaml"
	FileDisaggConfig        = "disagg_config.yaml"
	FileStatus              = "profiler_status.yaml"
	FileResults             = "results.json"
	FileReport              = "report.html"
	FileLog                 = "profile_sla.log"
	PlannerProfileConfigMap = "planner-profile-data"
	PlannerProfileMountPath = "/workspace/profiling_results"
	prefillRawDataJSON      = "prefill_raw_data.json"
	decodeRawDataJSON       = "decode_raw_data.json"
	minPrefillInterpolation = 4 // the planner's cubic interp1d needs 4 points (§19 P7)
	defaultGPUsPerNode      = 8
)

// FileDecodeITLInterpUpstream is the decode ITL chart again, under the name
// upstream's profiler code writes (benchmarks/profiler/utils/plot.py).
const FileDecodeITLInterpUpstream = "decode_itl_interpolation.png"

// Inputs is everything besides the results that the outputs depend on.
type Inputs struct {
	// DGDR is the defaulted request; it may be synthetic (built from flags).
	DGDR *v1alpha1.DynamoGraphDeploymentRequest
	// Settings is the typed profiling config.
	Settings profileconfig.Settings
	// Log is the contents of profile_sla.log.
	Log []byte
	// NoPlots skips every PNG (--no-plots); the report then shows tables only.
	NoPlots bool
	// GPUsPerNode overrides the node size; 0 takes it from the results or settings.
	GPUsPerNode int
	// Recipe is the configMapRef base DGD, nil without one: its worker
	// flags carry into the generated DGD.
	Recipe *Recipe
	// Now stamps profiler_status.yaml; zero means time.Now(). Tests set it.
	Now time.Time
	// FollowSymlinks lets --output-dir be a symbolic link; the directory it
	// points to is replaced. Off, a link is refused (--follow-symlinks).
	FollowSymlinks bool

	// Context, when set, stops Write before anything reaches dir once it
	// is done (Ctrl-C): the staging directory is removed, dir is untouched.
	Context context.Context
	// OnStep, when set, runs at each step of Write: "rendering" (plots and
	// files), "staged", "swapped".
	OnStep func(step string)

	// afterStep, in tests, runs after each step of the swap ("staged",
	// "swapped") so a kill can be injected there.
	afterStep func(step string)
}

func (in Inputs) step(name string) {
	if in.OnStep != nil {
		in.OnStep(name)
	}
	if in.afterStep != nil {
		in.afterStep(name)
	}
}

// canceled is the context's error, nil without one.
func (in Inputs) canceled() error {
	if in.Context == nil {
		return nil
	}
	return in.Context.Err()
}

// Write renders every output into dir atomically: everything is staged in
// a sibling directory that replaces dir in one step only when all of it was
// written (dir.go), so dir always holds a whole profile, old or new, even if
// the process is killed. An existing dir is replaced only if it is empty or
// holds our previous profile and nothing else. It returns the paths
// written, relative to dir, sorted.
func Write(dir string, r *results.Results, in Inputs) ([]string, error) {
	if dir == "" {
		return nil, errors.New("output directory is empty; pass --output-dir DIR")
	}
	if err := checkResults(r); err != nil {
		return nil, err
	}
	target, err := resolveTarget(dir, in.FollowSymlinks)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating the parent of output directory %q: %w", dir, err)
	}
	cleanStaleStaging(target)
	in.step("rendering")
	files, err := render(r, in)
	if err == nil {
		err = in.canceled()
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if err := checkReplaceable(dir, target, names); err != nil {
		return nil, err
	}
	stage, err := newStage(target)
	if err != nil {
		return nil, fmt.Errorf("staging output directory next to %q: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(stage)
		}
	}()
	for _, name := range names {
		p := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := writeMarker(stage, names); err != nil {
		return nil, fmt.Errorf("output directory %q: %w", dir, err)
	}
	if err := os.Chmod(stage, 0o755); err != nil { // MkdirTemp makes it 0700
		return nil, fmt.Errorf("output directory %q: %w", dir, err)
	}
	in.step("staged")
	if err := in.canceled(); err != nil {
		return nil, err
	}
	if err := swapIn(stage, target, in.step); err != nil {
		return nil, fmt.Errorf("moving outputs into %q: %w", dir, err)
	}
	ok = true
	return names, nil
}
