package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
	"umbra/sqlitex"
)

// FileName is the database's name inside the store directory; SQLite keeps
// FileName-wal and FileName-shm beside it.
const FileName = "provider.db"

// readers is the size of the read connection pool. Each connection is a
// separate SQLite instance with its own page cache.
const readers = 4

// Store is a store.Store backed by SQLite.
type Store struct {
	w    *writer
	rdb  *sql.DB // read-only pool
	hot  hotStmts
	path string
	dsn  string

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the store in dir, creating the directory and the database if
// they do not exist, and brings the schema up to date. The directory
// belongs to the store: Open sets its mode to 0700 and the database
// files' to 0600, so no other user can read even the ciphertext. A shared
// directory (sticky bit, as /tmp) is refused.
func Open(dir string) (*Store, error) {
	s, err := open(dir)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: open %s: %w", dir, err)
	}
	return s, nil
}

func open(dir string) (*Store, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: not a directory", fs.ErrInvalid)
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		return nil, fmt.Errorf("%w: a shared directory (sticky bit); give the store a directory of its own", fs.ErrInvalid)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, FileName)
	if err := sqlitex.CreatePrivate(path); err != nil {
		return nil, err
	}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "modeof=" + url.QueryEscape(path)}).String()

	c, err := sqlite3.Open(dsn)
	if err != nil {
		return nil, err
	}
	// WAL: readers never block the writer nor each other.
	// synchronous=FULL: every commit fsyncs the WAL, so a committed write
	// survives a power cut (https://sqlite.org/pragma.html#pragma_synchronous).
	// secure_delete: what a write frees or shrinks (a deleted document,
	// a queue entry once delivered) is overwritten with zeros, so it
	// lingers in no free page (docs/spec/store.md §7.1); Checkpoint
	// empties the WAL of the older copies.
	err = c.Exec(`PRAGMA busy_timeout = 10000;
		PRAGMA journal_mode = WAL;
		PRAGMA synchronous = FULL;
		PRAGMA foreign_keys = ON;
		PRAGMA secure_delete = ON;
		PRAGMA journal_size_limit = 67108864;`)
	tx := newWtx(c)
	if err == nil {
		err = migrate(tx)
	}
	if err != nil {
		return nil, errors.Join(err, tx.close())
	}
	rdb, err := driver.Open(dsn, func(c *sqlite3.Conn) error {
		return c.Exec(`PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;`)
	})
	if err != nil {
		return nil, errors.Join(err, tx.close())
	}
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	hot, err := prepareHot(rdb)
	if err != nil {
		return nil, errors.Join(err, tx.close(), rdb.Close())
	}
	return &Store{w: newWriter(tx), rdb: rdb, hot: hot, path: path, dsn: dsn}, nil
}

// Checkpoint copies the WAL into the database and truncates it to
// nothing (PRAGMA wal_checkpoint(TRUNCATE)), on a connection of its own
// so the writer goes on. Readers still using old snapshots make it
// report busy: it is then simply tried again later.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.w.isClosed() {
		return store.ErrClosed
	}
	c, err := sqlite3.Open(s.dsn)
	if err != nil {
		return fmt.Errorf("sqlite store: checkpoint: %w", err)
	}
	defer c.Close()
	c.SetInterrupt(ctx)
	if err := c.Exec(`PRAGMA busy_timeout = 10000`); err != nil {
		return fmt.Errorf("sqlite store: checkpoint: %w", err)
	}
	st, _, err := c.Prepare(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if err != nil {
		return fmt.Errorf("sqlite store: checkpoint: %w", err)
	}
	defer st.Close()
	if !st.Step() {
		return fmt.Errorf("sqlite store: checkpoint: %w", st.Err())
	}
	if busy := st.ColumnInt(0); busy != 0 {
		return fmt.Errorf("sqlite store: checkpoint: %w: readers hold older snapshots", store.ErrBusy)
	}
	return nil
}

// Close waits for the writes already accepted, then closes the database.
// Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.w.close()
		if err := errors.Join(s.w.tx.close(), s.hot.close(), s.rdb.Close()); err != nil {
			s.closeErr = fmt.Errorf("sqlite store: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// hotStmts are the reads of every authenticated request and of every
// document download, prepared once (database/sql keeps each prepared on
// every read connection): preparing them each time cost as much as
// running them.
type hotStmts struct {
	byAccess, lastSeen, getDoc *sql.Stmt
}

func prepareHot(db *sql.DB) (hotStmts, error) {
	var h hotStmts
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&h.byAccess, sqlrow.LiveSession + `s.access_hash = ?`},
		{&h.lastSeen, `SELECT last_seen FROM devices WHERE account = ? AND id = ? AND revoked IS NULL`},
		{&h.getDoc, `SELECT id, kind, revision, seq, deleted, data FROM documents WHERE address = ? AND id = ?`},
	} {
		var err error
		if *p.stmt, err = db.Prepare(p.query); err != nil {
			return h, errors.Join(fmt.Errorf("sqlite store: prepare: %w", err), h.close())
		}
	}
	return h, nil
}

func (h hotStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.byAccess, h.lastSeen, h.getDoc} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// readRow runs one of the hot statements, which returns a row, outside a
// transaction (a single statement reads one consistent snapshot; BEGIN
// and ROLLBACK would cost as much as the query).
func (s *Store) readRow(ctx context.Context, stmt *sql.Stmt, scan func(*sql.Row) error, args ...any) error {
	if s.w.isClosed() {
		return store.ErrClosed
	}
	err := scan(stmt.QueryRowContext(ctx, args...))
	if err != nil && s.w.isClosed() { // Close ran meanwhile
		return store.ErrClosed
	}
	return err
}

// read runs fn in a read-only transaction: one consistent snapshot even
// when fn issues several queries.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.w.isClosed() {
		return store.ErrClosed
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		if s.w.isClosed() { // Close ran since the check above
			return store.ErrClosed
		}
		return fmt.Errorf("sqlite store: begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

func (s *Store) Accounts() store.Accounts           { return accounts{s} }
func (s *Store) Signets() store.Signets             { return signets{s} }
func (s *Store) Mailbox() store.Mailbox             { return mailbox{s} }
func (s *Store) Queue() store.Queue                 { return queue{s} }
func (s *Store) RemoteSignets() store.RemoteSignets { return remotes{s} }
func (s *Store) Devices() store.Devices             { return devices{s} }
func (s *Store) Challenges() store.Challenges       { return challenges{s} }
func (s *Store) Sessions() store.Sessions           { return sessions{s} }
func (s *Store) Keylog() store.Keylog               { return keylog{s} }
