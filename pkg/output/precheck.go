package output

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckDir runs Write's checks on dir before any work, so a bad
// --output-dir (a file, a link, a directory holding other files, a place
// that cannot be written) is refused before a profile runs, not after.
// It creates nothing; Write checks again when it writes.
func CheckDir(dir string, follow bool) error {
	if dir == "" {
		return errors.New("output directory is empty; pass --output-dir DIR")
	}
	target, err := resolveTarget(dir, follow)
	if err != nil {
		return err
	}
	if err := checkReplaceable(dir, target, legacyFiles(target)); err != nil {
		return err
	}
	return checkWritable(dir, filepath.Dir(target))
}

// legacyFiles lets a profile from before the marker pass CheckDir (Write,
// which knows what it writes, decides); nil otherwise.
func legacyFiles(target string) []string {
	if _, err := os.Stat(filepath.Join(target, MarkerFile)); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(target, FileStatus)); err != nil {
		return nil
	}
	var all []string
	_ = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if rel, rerr := filepath.Rel(target, p); err == nil && rerr == nil && !d.IsDir() {
			all = append(all, filepath.ToSlash(rel))
		}
		return nil
	})
	return all
}

// checkWritable makes and removes a directory in the nearest existing
// ancestor of parent, where the staging directory will go.
func checkWritable(dir, parent string) error {
	for {
		fi, err := os.Stat(parent)
		if err == nil && !fi.IsDir() {
			return fmt.Errorf("output directory %q: %s is not a directory; pass another --output-dir", dir, parent)
		}
		if err == nil {
			break
		}
		if up := filepath.Dir(parent); up != parent {
			parent = up
			continue
		}
		return fmt.Errorf("output directory %q: %w", dir, err)
	}
	probe, err := os.MkdirTemp(parent, ".kubectl-dgdr-probe-")
	if err != nil {
		return fmt.Errorf("output directory %q cannot be written (%v); pass a writable --output-dir", dir, err)
	}
	return os.Remove(probe)
}
