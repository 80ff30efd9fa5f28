package mailstore

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// conn is one SQLite connection with its compiled statements. Each SQL
// text is compiled once for the life of the connection (the cost of
// compiling is a large share of a small query). A conn is used by one
// goroutine at a time: the writer under Store.wmu, a reader while it holds
// the conn taken from the pool.
type conn struct {
	c     *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
	// indexQueued: the writer's transaction put rows in temp.index_queue
	// that flushIndex must move into the search indexes.
	indexQueued bool
}

func newConn(c *sqlite3.Conn) *conn {
	return &conn{c: c, stmts: map[string]*sqlite3.Stmt{}}
}

// prepare returns the cached statement for query with args bound.
func (c *conn) prepare(query string, args []any) (*sqlite3.Stmt, error) {
	s := c.stmts[query]
	if s == nil {
		var err error
		s, _, err = c.c.PrepareFlags(query, sqlite3.PREPARE_PERSISTENT)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		c.stmts[query] = s
	}
	// A previous use may have stopped early; its error was reported then.
	_ = s.Reset()
	for i, a := range args {
		var err error
		switch v := a.(type) {
		case nil:
			err = s.BindNull(i + 1)
		case int64:
			err = s.BindInt64(i+1, v)
		case int:
			err = s.BindInt64(i+1, int64(v))
		case uint32:
			err = s.BindInt64(i+1, int64(v))
		case bool:
			err = s.BindBool(i+1, v)
		case string:
			err = s.BindText(i+1, v)
		case []byte:
			if v == nil {
				v = []byte{} // nil is an empty BLOB here; NULL is spelt nil
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
func (c *conn) exec(query string, args ...any) (int64, error) {
	s, err := c.prepare(query, args)
	if err != nil {
		return 0, err
	}
	if err := s.Exec(); err != nil {
		return 0, err
	}
	return c.c.Changes(), nil
}

// query runs a statement and calls fn for each row; fn reads the columns
// from s. The statement is reset afterwards, so that it holds no read lock.
func (c *conn) query(query string, fn func(s *sqlite3.Stmt) error, args ...any) error {
	s, err := c.prepare(query, args)
	if err != nil {
		return err
	}
	defer s.Reset()
	for s.Step() {
		if err := fn(s); err != nil {
			return err
		}
	}
	return s.Err()
}

// queryRow runs a statement expected to return one row and calls fn with
// it; no row is ErrNotFound.
func (c *conn) queryRow(query string, fn func(s *sqlite3.Stmt) error, args ...any) error {
	s, err := c.prepare(query, args)
	if err != nil {
		return err
	}
	defer s.Reset()
	if !s.Step() {
		if err := s.Err(); err != nil {
			return err
		}
		return ErrNotFound
	}
	return fn(s)
}

// int64Row returns the first column of the only row of query.
func (c *conn) int64Row(query string, args ...any) (int64, error) {
	var v int64
	err := c.queryRow(query, func(s *sqlite3.Stmt) error {
		v = s.ColumnInt64(0)
		return nil
	}, args...)
	return v, err
}

// tx runs fn in a transaction: BEGIN IMMEDIATE for the writer, so that the
// write lock is taken up front (https://sqlite.org/lang_transaction.html),
// BEGIN DEFERRED for a reader, which gives fn one consistent snapshot.
// ctx interrupts SQLite while fn runs.
func (c *conn) tx(ctx context.Context, write bool, fn func() error) (err error) {
	old := c.c.SetInterrupt(ctx)
	defer c.c.SetInterrupt(old)
	begin := "BEGIN DEFERRED"
	if write {
		begin = "BEGIN IMMEDIATE"
	}
	if _, err := c.exec(begin); err != nil {
		return err
	}
	if err := fn(); err != nil {
		// The rollback's own error adds nothing: the transaction is
		// abandoned either way, and SQLite rolls back on its own when
		// the connection is reused or closed.
		c.c.SetInterrupt(context.Background())
		_, _ = c.exec("ROLLBACK")
		return err
	}
	if _, err := c.exec("COMMIT"); err != nil {
		c.c.SetInterrupt(context.Background())
		_, _ = c.exec("ROLLBACK")
		return err
	}
	return nil
}

// close finalises the statements and closes the connection.
func (c *conn) close() error {
	for _, s := range c.stmts {
		_ = s.Close() // Conn.Close reports what matters
	}
	c.stmts = nil
	return c.c.Close()
}
