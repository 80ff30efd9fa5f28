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
	if err := store.CheckAddress(address); err != nil {
		return store.Change{}, nil, err
	}
	if err := store.CheckDocID(docID); err != nil {
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
	d := &docReader{s: m.s, ctx: ctx, address: address, opened: c}
	return c, store.PieceReader{Size: c.Size, Read: d.piece}, nil
}

// docReader reads the pieces of the change Open returned.
type docReader struct {
	s       *Store
	ctx     context.Context // Open's: the reads run under it
	address string
	opened  store.Change
}

// piece reads p from off in one read transaction of its own: the check
// that the document is still the change opened and the blob read see one
// snapshot, and nothing is held once it returns.
func (d *docReader) piece(p []byte, off int64) error {
	return d.s.withConn(d.ctx, func(c *sqlite3.Conn) (err error) {
		// A deferred BEGIN takes its snapshot at the first read, the
		// look-up, and keeps it for the blob handle.
		if err := c.Exec(`BEGIN`); err != nil {
			return fmt.Errorf("sqlite store: read document %q of %s: begin: %w", d.opened.DocID, d.address, err)
		}
		defer func() { err = errors.Join(err, endRead(c)) }()
		rowid, now, err := lookUp(c, d.address, d.opened.DocID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// The seq too: a document collected (§4.5) and created again
		// under its id starts over at revision 1, never at the same seq.
		if err != nil || now.Revision != d.opened.Revision || now.Seq != d.opened.Seq {
			return fmt.Errorf("%w: document %q of %s is no longer revision %d", store.ErrChanged, d.opened.DocID, d.address, d.opened.Revision)
		}
		b, err := c.OpenBlob("main", "documents", "data", rowid, false)
		if err != nil {
			return fmt.Errorf("sqlite store: open document %q of %s: %w", d.opened.DocID, d.address, err)
		}
		defer func() { err = errors.Join(err, b.Close()) }()
		if _, err := b.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("sqlite store: read document %q of %s at %d: %w", d.opened.DocID, d.address, off, err)
		}
		if _, err := io.ReadFull(b, p); err != nil {
			return fmt.Errorf("sqlite store: read document %q of %s at %d: %w", d.opened.DocID, d.address, off, err)
		}
		return nil
	})
}

// lookUp returns a document's rowid and latest change: what Open returns
// and what each piece checks. length(data) does not read the data.
func lookUp(c *sqlite3.Conn, address, docID string) (rowid int64, ch store.Change, err error) {
	st, _, err := c.Prepare(`SELECT rowid, id, kind, revision, seq, deleted, length(data) FROM documents WHERE address = ? AND id = ?`)
	if err != nil {
		return 0, ch, fmt.Errorf("sqlite store: look up document %q of %s: %w", docID, address, err)
	}
	defer st.Close()
	err = errors.Join(st.BindText(1, address), st.BindText(2, docID))
	if err == nil && !st.Step() {
		if err = st.Err(); err == nil {
			err = sql.ErrNoRows
		}
	}
	if err == nil {
		err = scanColumns(st, []any{&rowid, &ch.DocID, &ch.Kind, &ch.Revision, &ch.Seq, &ch.Deleted, &ch.Size})
	}
	if err != nil {
		return 0, store.Change{}, noRows(err, "document %q of %s", docID, address)
	}
	return rowid, ch, nil
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
