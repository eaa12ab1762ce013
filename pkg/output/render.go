package output

import (
	"encoding/json"
	"fmt"
	"path"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// render produces every file, keyed by its slash-separated relative path.
func render(r *results.Results, in Inputs) (map[string][]byte, error) {
	files := map[string][]byte{}
	p, err := resolve(r, in)
	if err != nil {
		return nil, err
	}
	_, plannerWarnings, err := plannerArgs(r, in)
	if err != nil {
		return nil, err
	}
	d, err := p.dgd(r)
	if err != nil {
		return nil, err
	}
	if files[FileConfigWithPlanner], err = p.multiDoc(r, d); err != nil {
		return nil, err
	}
	md, err := p.mocker()
	if err != nil {
		return nil, err
	}
	if files[FileMockerConfigPlanner], err = p.multiDoc(r, md); err != nil {
		return nil, err
	}
	if files[FileDisaggConfig], err = p.disaggConfig(r); err != nil {
		return nil, err
	}

	if ip := r.PrefillInterpolation; ip != nil && len(ip.ISL) >= minPrefillInterpolation {
		if files[path.Join(DirPrefillInterpolation, FileRawData)], err = PrefillNPZ(ip); err != nil {
			return nil, err
		}
	}
	if id := r.DecodeInterpolation; id != nil && len(id.KVUsage) > 0 {
		if files[path.Join(DirDecodeInterpolation, FileRawData)], err = DecodeNPZ(id); err != nil {
			return nil, err
		}
	}

	var plots map[string][]byte
	if !in.NoPlots {
		if plots, err = Plots(r); err != nil {
			return nil, err
		}
		for k, v := range plots {
			files[k] = v
		}
	}

	if files[FileResults], err = json.MarshalIndent(r, "", "  "); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", FileResults, err)
	}
	files[FileResults] = append(files[FileResults], '\n')
	files[FileLog] = append([]byte(nil), in.Log...)

	warnings := append(append([]string(nil), r.Warnings...), plannerWarnings...)
	if !hasPlannerData(r) {
		warnings = append(warnings, "planner-profile-data was not generated (the interpolation grids are missing or have fewer than 4 prefill points); the Planner will need profile data before it can scale")
	}
	if files[FileStatus], err = MarshalStatus(successStatus(r, true, warnings), in.Now); err != nil {
		return nil, err
	}
	if files[FileReport], err = Report(r, in, d, plots); err != nil {
		return nil, err
	}
	return files, nil
}
