package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/ncruces/go-sqlite3"

	"umbra/sqlitex"
)

// wtx is the write connection as a writeFn sees it. It talks to SQLite
// directly rather than through database/sql so that each statement is
// compiled once for the life of the connection, not on every call: with
// many small writes per fsync, compiling SQL was a quarter of the
// writer's time. Only the writer goroutine uses it.
type wtx struct {
	c     *sqlite3.Conn
	stmts *sqlitex.Cache
}

func newWtx(c *sqlite3.Conn) *wtx { return &wtx{c: c, stmts: sqlitex.New(c)} }

func (t *wtx) prepare(query string, args []any) (*sqlite3.Stmt, error) {
	return t.stmts.Prepare(query, args)
}

func (t *wtx) exec(query string, args ...any) (int64, error) { return t.stmts.Exec(query, args...) }

// row is the current result row of a statement. The row of queryRow
// (last) resets its statement once scanned; the rows of query leave that
// to query.
type row struct {
	s    *sqlite3.Stmt
	err  error
	last bool
}

// queryRow runs query; Scan on the result reads its first row or returns
// sql.ErrNoRows, like database/sql.
func (t *wtx) queryRow(query string, args ...any) row {
	s, err := t.prepare(query, args)
	if err != nil {
		return row{err: err}
	}
	if !s.Step() {
		err := s.Reset()
		if err == nil {
			err = sql.ErrNoRows
		}
		return row{err: err}
	}
	return row{s: s, last: true}
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := scanColumns(r.s, dest)
	if r.last {
		err = errors.Join(err, r.s.Reset())
	}
	return err
}

// query runs query and calls fn for every row.
func (t *wtx) query(query string, args []any, fn func(r row) error) error {
	s, err := t.prepare(query, args)
	if err != nil {
		return err
	}
	for s.Step() {
		if err := fn(row{s: s}); err != nil {
			s.Reset()
			return err
		}
	}
	return s.Reset()
}

func scanColumns(s *sqlite3.Stmt, dest []any) error {
	if len(dest) != s.ColumnCount() {
		return fmt.Errorf("scan %d columns into %d values", s.ColumnCount(), len(dest))
	}
	for i, d := range dest {
		switch p := d.(type) {
		case *int64:
			*p = s.ColumnInt64(i)
		case *int:
			*p = s.ColumnInt(i)
		case *bool:
			*p = s.ColumnInt64(i) != 0
		case *string:
			*p = s.ColumnText(i)
		case *[]byte:
			*p = s.ColumnBlob(i, nil) // a copy: SQLite's memory is reused
		default:
			return fmt.Errorf("cannot scan into %T", d)
		}
	}
	return s.Err()
}

// fillBlob writes r into the BLOB in column of table's row rowid, which
// must be as long as r (zeroblob), through incremental BLOB I/O
// (https://sqlite.org/c3ref/blob_open.html). Blob.ReadFrom reads r
// straight into a buffer of at most 1 MiB (store.MaxDeliverBuffer) in
// SQLite's memory: no more of r is held, in Go's heap or SQLite's.
func (t *wtx) fillBlob(table, column string, rowid int64, r io.Reader) error {
	b, err := t.c.OpenBlob("main", table, column, rowid, true)
	if err != nil {
		return fmt.Errorf("open blob: %w", err)
	}
	_, err = b.ReadFrom(r)
	return errors.Join(err, b.Close())
}

func (t *wtx) close() error {
	return errors.Join(t.stmts.Close(), t.c.Close())
}
