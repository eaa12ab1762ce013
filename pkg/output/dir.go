package output

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MarkerFile is written into every output directory and staging directory
// we make. It lists the files we wrote, so a later run replaces the
// directory only when nothing else is in it, and it names the writing
// process, so stale staging directories of killed runs can be told apart
// from those of a run still going.
const MarkerFile = ".kubectl-dgdr-output"

const markerHeader = "# written by kubectl dgdr profile; the directory is replaced on the next run"

// stagingInfix names our staging directories: .<base>.staging-<random>.
const stagingInfix = ".staging-"

// resolveTarget returns the absolute directory to replace. A symbolic link
// is refused unless follow is set; then the directory it points to is the
// target and the link stays as it is.
func resolveTarget(dir string, follow bool) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("output directory %q: %w", dir, err)
	}
	fi, err := os.Lstat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return abs, nil
	case err != nil:
		return "", fmt.Errorf("output directory %q: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		to, _ := os.Readlink(abs)
		if !follow {
			return "", fmt.Errorf("output directory %q is a symbolic link to %q; pass the directory itself, or --follow-symlinks to write where the link points", dir, to)
		}
		real, err := filepath.EvalSymlinks(abs)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("output directory %q is a symbolic link to %q, which does not exist; create it or pass another --output-dir", dir, to)
		}
		if err != nil {
			return "", fmt.Errorf("output directory %q: %w", dir, err)
		}
		return resolveTarget(real, false)
	case !fi.IsDir():
		return "", fmt.Errorf("output directory %q exists and is not a directory; pass a new or empty --output-dir", dir)
	}
	return abs, nil
}

// checkReplaceable refuses to replace a directory that holds anything
// besides our previous profile, listing what it would lose. A directory
// without our marker but with a profiler_status.yaml is a profile from
// before the marker: there the files this run writes count as ours (nil:
// not known yet, so it passes).
func checkReplaceable(dir, target string, writing []string) error {
	entries, err := os.ReadDir(target)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output directory %q: %w", dir, err)
	}
	ours, _, err := readMarker(target)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(filepath.Join(target, FileStatus)); serr != nil {
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
			}
			return fmt.Errorf("output directory %q is not empty and holds no previous profile (no %s); replacing it would delete: %s; pass a new or empty --output-dir",
				dir, MarkerFile, strings.Join(capList(names, 20), ", "))
		}
		if writing == nil {
			return nil
		}
		ours = writing
	default:
		return fmt.Errorf("output directory %q: reading %s: %w", dir, MarkerFile, err)
	}
	known := map[string]bool{MarkerFile: true}
	for _, n := range ours {
		known[filepath.ToSlash(n)] = true
	}
	var foreign []string
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(target, p)
		rel = filepath.ToSlash(rel)
		if rel == "." || (d.IsDir() && hasFileUnder(known, rel)) {
			return nil
		}
		if !known[rel] || !d.Type().IsRegular() {
			foreign = append(foreign, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("output directory %q: %w", dir, err)
	}
	if len(foreign) > 0 {
		return fmt.Errorf("output directory %q holds files a profile did not write, which replacing it would delete: %s; move them away or pass another --output-dir",
			dir, strings.Join(capList(foreign, 20), ", "))
	}
	return nil
}

// hasFileUnder reports whether a known file lies under directory rel.
func hasFileUnder(known map[string]bool, rel string) bool {
	for k := range known {
		if strings.HasPrefix(k, rel+"/") {
			return true
		}
	}
	return false
}

func capList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
}

// newStage makes the staging directory next to target, marked with our
// process id before anything else is written into it.
func newStage(target string) (string, error) {
	stage, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+stagingInfix)
	if err != nil {
		return "", err
	}
	if err := writeMarker(stage, nil); err != nil {
		_ = os.RemoveAll(stage)
		return "", err
	}
	return stage, nil
}

// writeMarker writes the marker: the header, our pid, then the files.
func writeMarker(dir string, files []string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\npid %d\n", markerHeader, os.Getpid())
	for _, f := range files {
		fmt.Fprintln(&b, f)
	}
	tmp := filepath.Join(dir, MarkerFile+".tmp")
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, MarkerFile))
}

// readMarker returns the files and the writer's pid of dir's marker.
func readMarker(dir string) (files []string, pid int, err error) {
	data, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if err != nil {
		return nil, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != markerHeader {
		return nil, 0, fmt.Errorf("%s is not ours (unexpected first line)", MarkerFile)
	}
	if sc.Scan() {
		pid, _ = strconv.Atoi(strings.TrimPrefix(sc.Text(), "pid "))
	}
	for sc.Scan() {
		if f := sc.Text(); f != "" && !strings.HasPrefix(f, "/") && !strings.Contains(f, "..") {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	return files, pid, sc.Err()
}

// cleanStaleStaging removes the staging directories a killed run left next
// to target: only ours (the marker is there) and only when the process that
// wrote them is gone. Anything it cannot prove stale stays.
func cleanStaleStaging(target string) {
	parent := filepath.Dir(target)
	prefix := "." + filepath.Base(target) + stagingInfix
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		if _, pid, err := readMarker(p); err == nil && !alive(pid) {
			_ = os.RemoveAll(p)
		}
	}
}

// swapByRename is the portable swap: the old directory is moved aside, the
// new one moved in, the old one removed. Between the two renames the
// target does not exist; Linux avoids that window with an exchange.
func swapByRename(stage, target string, step func(string)) error {
	old := stage + ".old"
	if err := os.Rename(target, old); err != nil {
		return err
	}
	step("moved-aside")
	if err := os.Rename(stage, target); err != nil {
		_ = os.Rename(old, target) // put the previous profile back
		return err
	}
	step("swapped")
	return os.RemoveAll(old)
}
