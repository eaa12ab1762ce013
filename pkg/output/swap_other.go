//go:build !linux

package output

import (
	"errors"
	"io/fs"
	"os"
)

// swapIn puts stage in place of target with renames (see swapByRename).
func swapIn(stage, target string, step func(string)) error {
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(stage, target); err != nil {
			return err
		}
		step("swapped")
		return nil
	}
	return swapByRename(stage, target, step)
}
