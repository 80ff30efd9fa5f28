// Package atomicfile writes small files so that a crash at any moment
// leaves either the old content or the new, never a mix, and the new name
// survives a power cut once the call returns. Vaults, key files and the DNS
// policy cache use it. Calls on different paths may run concurrently; two
// writers of one path must be serialised by the caller (the last rename
// wins).
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Replace writes data to path, replacing any existing file.
func Replace(path string, data []byte) error { return Write(path, data, true, nil) }

// Create writes data to a new file at path; it fails with an error
// matching fs.ErrExist if path exists, and never touches that file.
func Create(path string, data []byte) error { return Write(path, data, false, nil) }

// Write writes data to path so that a crash at any moment leaves either
// the old file or the new one, never a mix (spec §6): a temporary file in
// the same directory (mode 0600, as os.CreateTemp makes it), write, fsync,
// then rename over path (replace) or hard-link to path (create, which fails
// with fs.ErrExist if path exists, atomically), then fsync the directory
// so the new name survives a power cut. Errors carry the path.
//
// fault, when not nil, is called before each step ("write", "sync",
// "rename" or "link", "syncdir") and a non-nil result fails that step; the
// tests use it to simulate a crash or a full disk.
func Write(path string, data []byte, replace bool, fault func(step string) error) error {
	if err := write(path, data, replace, fault); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return nil
}

func write(path string, data []byte, replace bool, fault func(step string) error) error {
	step := func(name string) error {
		if fault == nil {
			return nil
		}
		return fault(name)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	// Until the new name is in place, any failure removes the temporary
	// file and leaves path untouched.
	if err := writeSync(tmp, data, step); err != nil {
		return errors.Join(err, os.Remove(tmpName))
	}
	if replace {
		err = step("rename")
		if err == nil {
			err = os.Rename(tmpName, path)
		}
		if err != nil {
			return errors.Join(err, os.Remove(tmpName))
		}
	} else {
		err = step("link")
		if err == nil {
			err = os.Link(tmpName, path)
		}
		// With or without the link, the temporary name goes.
		if err = errors.Join(err, os.Remove(tmpName)); err != nil {
			return err
		}
	}
	if err := step("syncdir"); err != nil {
		return err
	}
	return syncDir(dir)
}

// writeSync writes data to f, fsyncs and closes it.
func writeSync(f *os.File, data []byte, step func(string) error) error {
	err := step("write")
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = step("sync")
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
