package sqlitex

import (
	"errors"
	"os"
)

// CreatePrivate creates the database at path and its WAL index with mode
// 0600 before SQLite opens it: SQLite creates its files 0666 less the
// umask. The WAL, which SQLite deletes and recreates, takes the
// database's mode from the modeof URI parameter (https://sqlite.org/uri.html),
// which the caller sets.
func CreatePrivate(path string) error {
	for _, p := range []string{path, path + "-shm"} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		err = f.Chmod(0o600) // an existing file keeps its mode on open
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
	return nil
}
