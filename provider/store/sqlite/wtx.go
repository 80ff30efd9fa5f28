package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// wtx is the write connection as a writeFn sees it. It talks to SQLite
// directly rather than through database/sql so that each statement is
// compiled once for the life of the connection, not on every call: with
// many small writes per fsync, compiling SQL was a quarter of the
// writer's time. Only the writer goroutine uses it.
type wtx struct {
	c     *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
}

func newWtx(c *sqlite3.Conn) *wtx { return &wtx{c: c, stmts: map[string]*sqlite3.Stmt{}} }

// prepare returns the cached statement for query with args bound.
func (t *wtx) prepare(query string, args []any) (*sqlite3.Stmt, error) {
	s := t.stmts[query]
	if s == nil {
		var err error
		s, _, err = t.c.PrepareFlags(query, sqlite3.PREPARE_PERSISTENT)
		if err != nil {
			return nil, err
		}
		t.stmts[query] = s
	}
	s.Reset() // in case a previous use stopped early; its error was reported then
	for i, a := range args {
		var err error
		switch v := a.(type) {
		case nil:
			err = s.BindNull(i + 1)
		case int64:
			err = s.BindInt64(i+1, v)
		case int:
			err = s.BindInt64(i+1, int64(v))
		case string:
			err = s.BindText(i+1, v)
		case []byte:
			if v == nil {
				v = []byte{} // a nil slice is an empty BLOB; NULL is spelt nil
			}
			err = s.BindBlob(i+1, v)
		default:
			err = fmt.Errorf("cannot bind %T", a)
		}
		if err != nil {
			return nil, fmt.Errorf("bind parameter %d: %w", i+1, err)
		}
	}
	return s, nil
}

// exec runs a statement that returns no rows and reports how many rows it
// inserted, updated or deleted.
func (t *wtx) exec(query string, args ...any) (int64, error) {
	s, err := t.prepare(query, args)
	if err != nil {
		return 0, err
	}
	if err := s.Exec(); err != nil {
		return 0, err
	}
	return t.c.Changes(), nil
}

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

func (t *wtx) close() error {
	var errs []error
	for _, s := range t.stmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(append(errs, t.c.Close())...)
}
