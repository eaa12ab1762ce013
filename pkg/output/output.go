// Package output renders everything a profile writes (profiler.md §10, §12.4–§16):
// plots, npz grids, the generated DGD with its planner ConfigMap, the status
// file, results.json and a self-contained HTML report.
package output

import (
	"errors"
	"fmt"
	"io/fs"
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
	FilePrefillPerformance   = "prefill_performance.png"
	FileDecodePerformance    = "decode_performance.png"
	FileCostSLA              = "cost_sla.png"
	DirPrefillInterpolation  = "selected_prefill_interpolation"
	DirDecodeInterpolation   = "selected_decode_interpolation"
	FileRawData              = "raw_data.npz"
	FilePrefillTTFTInterp    = "prefill_ttft_interpolation.png"
	FilePrefillThptInterp    = "prefill_throughput_interpolation.png"
	FileDecodeITLInterp      = "decode_itl_interplation.png" // the seed's spelling, kept for compatibility
	FileDecodeThptInterp     = "decode_throughput_interpolation.png"
	FileConfigWithPlanner    = "config_with_planner.yaml"
	FileMockerConfigPlanner  = "mocker_config_with_planner.yaml"
	FileDisaggConfig         = "disagg_config.yaml"
	FileStatus               = "profiler_status.yaml"
	FileResults              = "results.json"
	FileReport               = "report.html"
	FileLog                  = "profile_sla.log"
	PlannerProfileConfigMap  = "planner-profile-data"
	PlannerProfileMountPath  = "/workspace/profiling_results"
	prefillRawDataJSON       = "prefill_raw_data.json"
	decodeRawDataJSON        = "decode_raw_data.json"
	minPrefillInterpolation  = 4 // the planner's cubic interp1d needs 4 points (§19 P7)
	defaultGPUsPerNode       = 8
	outputDirMarkerForReplay = FileStatus
)

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
}

// Write renders every output into dir atomically: everything is staged in a
// sibling temporary directory that is renamed into place only when all of it
// was written, so on error nothing is left behind. An existing dir is replaced
// only if it is empty or holds a previous profile (a profiler_status.yaml).
// It returns the paths written, relative to dir, sorted.
func Write(dir string, r *results.Results, in Inputs) ([]string, error) {
	if dir == "" {
		return nil, errors.New("output directory is empty; pass --output-dir DIR")
	}
	if err := checkResults(r); err != nil {
		return nil, err
	}
	if err := checkTarget(dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("output directory %q: %w", dir, err)
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating the parent of output directory %q: %w", dir, err)
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".staging-")
	if err != nil {
		return nil, fmt.Errorf("staging output directory next to %q: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(stage)
		}
	}()
	files, err := render(r, in)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name, data := range files {
		p := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		names = append(names, name)
	}
	if err := os.Chmod(stage, 0o755); err != nil { // MkdirTemp makes it 0700
		return nil, fmt.Errorf("output directory %q: %w", dir, err)
	}
	if err := swapIn(stage, abs); err != nil {
		return nil, fmt.Errorf("moving outputs into %q: %w", dir, err)
	}
	ok = true
	sort.Strings(names)
	return names, nil
}

// checkTarget refuses to replace a directory that is not a previous profile,
// so a mistaken --output-dir (".", $HOME) never loses files.
func checkTarget(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("output directory %q exists and is not a directory; pass a new or empty --output-dir", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output directory %q: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, outputDirMarkerForReplay)); err == nil {
		return nil
	}
	return fmt.Errorf("output directory %q is not empty and holds no previous profile (no %s); pass a new or empty --output-dir", dir, outputDirMarkerForReplay)
}

// swapIn renames stage to dir. An existing dir is first moved aside and
// removed only after the new one is in place, so dir is never half-written.
func swapIn(stage, dir string) error {
	_, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.Rename(stage, dir)
	}
	old := stage + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(stage, dir); err != nil {
		_ = os.Rename(old, dir) // put the previous profile back
		return err
	}
	return os.RemoveAll(old)
}
