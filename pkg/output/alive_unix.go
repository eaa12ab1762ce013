//go:build unix

package output

import (
	"errors"
	"os"
	"syscall"
)

// alive reports whether a process with this pid exists (signal 0).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
