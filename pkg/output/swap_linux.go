package output

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// swapIn puts stage in place of target. An existing target is exchanged
// with stage in one renameat2(RENAME_EXCHANGE), so the target path always
// holds a whole profile; the previous one, now at the stage path, is then
// removed (or, after a kill, by the next run's cleanStaleStaging).
// Filesystems without the exchange fall back to two renames.
func swapIn(stage, target string, step func(string)) error {
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		err := unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, target, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
			err = os.Rename(stage, target)
		}
		if err == nil {
			step("swapped")
		}
		return err
	}
	err := unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, target, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		return swapByRename(stage, target, step)
	}
	if err != nil {
		return err
	}
	step("swapped")
	return os.RemoveAll(stage)
}
