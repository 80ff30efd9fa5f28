//go:build !unix

package provider

import "os"

// LockFile is the run lock's name (see lock_unix.go); on systems without
// flock the provider does not lock its directory, and the operator must
// make sure one server runs per directory.
const LockFile = "run.lock"

func lockDir(dir string) (*os.File, error) { return nil, nil }
