package mailstore

import (
	"context"

	"github.com/ncruces/go-sqlite3"

	"umbra/sqlitex"
)

// conn is one SQLite connection with its compiled statements. Each SQL
// text is compiled once for the life of the connection (the cost of
// compiling is a large share of a small query). A conn is used by one
// goroutine at a time: the writer under Store.wmu, a reader while it holds
// the conn taken from the pool.
type conn struct {
	c     *sqlite3.Conn
	stmts *sqlitex.Cache
	// indexQueued: the writer's transaction put rows in temp.index_queue
	// that flushIndex must move into the search indexes.
	indexQueued bool
}

func newConn(c *sqlite3.Conn) *conn {
	return &conn{c: c, stmts: sqlitex.New(c)}
}

func (c *conn) prepare(query string, args []any) (*sqlite3.Stmt, error) {
	return c.stmts.Prepare(query, args)
}

func (c *conn) exec(query string, args ...any) (int64, error) { return c.stmts.Exec(query, args...) }

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
	_ = c.stmts.Close() // Conn.Close reports what matters
	return c.c.Close()
}
