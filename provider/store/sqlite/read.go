package sqlite

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"umbra/provider/store"
)

// Open reads a document through SQLite's incremental blob I/O, which
// database/sql does not offer: a value read as a column (Get, or even
// substr()) is materialised whole in the connection's wasm memory, which
// then stays at its largest for the connection's life. A blob handle
// reads only the pages a piece needs, into a buffer of the piece's size.
func (m mailbox) Open(ctx context.Context, address, docID string) (store.Change, io.ReaderAt, error) {
	if err := store.CheckDocRef(address, docID, 0); err != nil {
		return store.Change{}, nil, err
	}
	var c store.Change
	err := m.s.withConn(ctx, func(conn *sqlite3.Conn) error {
		var err error
		_, c, err = lookUp(conn, address, docID)
		return err
	})
	if err != nil {
		return store.Change{}, nil, err
	}
	if c.Deleted {
		return c, nil, nil
	}
	d := &docReader{s: m.s, ctx: ctx, address: address, opened: c, what: fmt.Sprintf("document %q of %s", docID, address)}
	return c, store.PieceReader{Size: c.Size, Read: d.piece}, nil
}

// docReader reads the pieces of the change Open returned.
type docReader struct {
	s       *Store
	ctx     context.Context // Open's: the reads run under it
	address string
	opened  store.Change
	what    string // the document, for errors
}

// piece reads p from off, checking in the same snapshot that the
// document is still the change opened.
func (d *docReader) piece(p []byte, off int64) error {
	return d.s.blobPiece(d.ctx, d.what, "documents", "data", p, off, func(c *sqlite3.Conn) (int64, error) {
		rowid, now, err := lookUp(c, d.address, d.opened.DocID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		// The seq too: a document collected (§4.5) and created again
		// under its id starts over at revision 1, never at the same seq.
		if err != nil || now.Revision != d.opened.Revision || now.Seq != d.opened.Seq {
			return 0, fmt.Errorf("%w: %s is no longer revision %d", store.ErrChanged, d.what, d.opened.Revision)
		}
		return rowid, nil
	})
}

// blobPiece reads p from off of the BLOB in column of table's row, in
// one read transaction of its own, through incremental blob I/O: locate
// runs first in it and returns the row, or fails if what was opened is
// no longer there, so that the check and the read see one snapshot.
// Nothing is held once it returns. what names the value in errors.
func (s *Store) blobPiece(ctx context.Context, what, table, column string, p []byte, off int64, locate func(c *sqlite3.Conn) (rowid int64, err error)) error {
	return s.withConn(ctx, func(c *sqlite3.Conn) (err error) {
		// A deferred BEGIN takes its snapshot at the first read, the
		// look-up, and keeps it for the blob handle.
		if err := c.Exec(`BEGIN`); err != nil {
			return fmt.Errorf("sqlite store: read %s: begin: %w", what, err)
		}
		defer func() { err = errors.Join(err, endRead(c)) }()
		rowid, err := locate(c)
		if err != nil {
			return err
		}
		b, err := c.OpenBlob("main", table, column, rowid, false)
		if err != nil {
			return fmt.Errorf("sqlite store: open %s: %w", what, err)
		}
		defer func() { err = errors.Join(err, b.Close()) }()
		if _, err := b.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("sqlite store: read %s at %d: %w", what, off, err)
		}
		if _, err := io.ReadFull(b, p); err != nil {
			return fmt.Errorf("sqlite store: read %s at %d: %w", what, off, err)
		}
		return nil
	})
}

// lookUp returns a document's rowid and latest change: what Open returns
// and what each piece checks. length(data) does not read the data.
func lookUp(c *sqlite3.Conn, address, docID string) (rowid int64, ch store.Change, err error) {
	err = connRow(c, `SELECT rowid, id, kind, revision, seq, deleted, length(data) FROM documents WHERE address = ? AND id = ?`,
		[]any{address, docID}, &rowid, &ch.DocID, &ch.Kind, &ch.Revision, &ch.Seq, &ch.Deleted, &ch.Size)
	if err != nil {
		return 0, store.Change{}, noRows(err, "document %q of %s", docID, address)
	}
	return rowid, ch, nil
}

// connRow runs query on a read connection, with args (strings and
// int64s) bound in order, and scans its first row into dest, or returns
// sql.ErrNoRows.
func connRow(c *sqlite3.Conn, query string, args []any, dest ...any) error {
	st, _, err := c.Prepare(query)
	if err != nil {
		return err
	}
	defer st.Close()
	for i, a := range args {
		switch v := a.(type) {
		case string:
			err = st.BindText(i+1, v)
		case int64:
			err = st.BindInt64(i+1, v)
		default:
			err = fmt.Errorf("cannot bind %T", a)
		}
		if err != nil {
			return err
		}
	}
	if !st.Step() {
		if err := st.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return scanColumns(st, dest)
}

// endRead ends a read transaction, even when the context has ended (an
// interrupted connection runs no statement at all). If it cannot, the
// connection must not go back to the pool inside an old snapshot:
// driver.ErrBadConn makes database/sql discard it.
func endRead(c *sqlite3.Conn) error {
	if c.GetAutocommit() { // SQLite ended it itself, on an error
		return nil
	}
	old := c.SetInterrupt(context.Background())
	defer c.SetInterrupt(old)
	if err := c.Exec(`ROLLBACK`); err != nil {
		return fmt.Errorf("sqlite store: end read: %w", errors.Join(err, sqldriver.ErrBadConn))
	}
	return nil
}

// withConn runs fn on a read connection of the pool, through SQLite's own
// API, interrupted when ctx ends; the connection goes back to the pool
// when fn returns.
func (s *Store) withConn(ctx context.Context, fn func(c *sqlite3.Conn) error) error {
	if s.w.isClosed() {
		return store.ErrClosed
	}
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		if s.w.isClosed() { // Close ran since the check above
			return store.ErrClosed
		}
		return fmt.Errorf("sqlite store: read connection: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(driver.Conn).Raw()
		old := c.SetInterrupt(ctx)
		defer c.SetInterrupt(old)
		return fn(c)
	})
	switch {
	case err == nil:
	case s.w.isClosed(): // Close ran meanwhile
		return store.ErrClosed
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		// SQLite reports an interruption as an error of its own; the
		// caller matches its context's.
		return fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return err
}
