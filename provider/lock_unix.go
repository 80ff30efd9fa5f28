//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile, in a provider's directory, is held (flock) by the one process
// serving that directory: two servers on one directory would take each
// other's queue claims back at start (releaseOwnClaims).
const LockFile = "run.lock"

// lockDir takes the directory's lock without waiting; the kernel releases
// it when the process dies, so a crash never leaves a stale lock.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("provider: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("provider: another umbra server is running on %s (%w)", dir, err)
	}
	return f, nil
}
