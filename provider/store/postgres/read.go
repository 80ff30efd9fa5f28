package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
)

// Open reads a document a piece at a time with substring(), one
// statement per piece on whichever pooled connection is free. The column
// is STORAGE EXTERNAL (schema version 4): TOAST then fetches only the
// chunks a slice covers, where a compressed value would have to be
// decompressed from its start.
func (m mailbox) Open(ctx context.Context, address, docID string) (store.Change, io.ReaderAt, error) {
	if err := store.CheckDocRef(address, docID, 0); err != nil {
		return store.Change{}, nil, err
	}
	var c store.Change
	// length() reads the TOAST pointer's size, not the data.
	err := m.s.row(ctx, `SELECT id, kind, revision, seq, deleted, length(data) FROM documents WHERE address = $1 AND id = $2`,
		address, docID).Scan(&c.DocID, &c.Kind, &c.Revision, &c.Seq, &c.Deleted, &c.Size)
	if err != nil {
		return store.Change{}, nil, noRows(err, "document %q of %s", docID, address)
	}
	if c.Deleted {
		return c, nil, nil
	}
	what := fmt.Sprintf("document %q of %s", docID, address)
	piece := func(p []byte, off int64) error {
		// The seq too: a document collected (§4.5) and created again
		// under its id starts over at revision 1, never at the same seq.
		return m.s.slice(ctx, p, off, what, func() error {
			return fmt.Errorf("%w: %s is no longer revision %d", store.ErrChanged, what, c.Revision)
		}, `SELECT substring(data FROM $5 FOR $6) FROM documents WHERE address = $1 AND id = $2 AND revision = $3 AND seq = $4`,
			address, docID, c.Revision, c.Seq, off+1, len(p))
	}
	return c, store.PieceReader{Size: c.Size, Read: piece}, nil
}

// slice reads p, a piece of a reader of Open, with query: one statement,
// outside a transaction, on whichever pooled connection is free, that
// selects one substring of exactly len(p) bytes, or no row once what was
// opened is gone, which gone then reports. what names the piece in other
// errors.
func (s *Store) slice(ctx context.Context, p []byte, off int64, what string, gone func() error, query string, args ...any) error {
	err := s.row(ctx, query, args...).Scan(into(p))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return gone()
	case errors.Is(err, store.ErrClosed):
		return err
	case err != nil:
		return fmt.Errorf("postgres store: read %s at %d: %w", what, off, err)
	}
	return nil
}

// into scans a BYTEA straight into a piece's buffer, which it must fill
// exactly: pgx hands it the bytes in its own receive buffer, so no copy
// of the piece is allocated.
type into []byte

func (b into) ScanBytes(v []byte) error {
	if len(v) != len(b) {
		return fmt.Errorf("read %d bytes, want %d", len(v), len(b))
	}
	copy(b, v)
	return nil
}
