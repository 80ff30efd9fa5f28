package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type mailbox struct{ s *Store }

// nextSeq takes the next number of address's change sequence. It runs in
// the write transaction, so numbers are handed out one at a time, and a
// request that fails later rolls its number back with its savepoint: the
// sequence has no gaps.
func nextSeq(tx *wtx, address string) (int64, error) {
	var seq int64
	err := tx.queryRow(`UPDATE accounts SET last_seq = last_seq + 1 WHERE address = ? RETURNING last_seq`, address).Scan(&seq)
	if err != nil {
		return 0, noRows(err, "account %s", address)
	}
	return seq, nil
}

func (m mailbox) Deliver(ctx context.Context, address string, id store.MessageID, data io.Reader, size int64, at time.Time) (string, bool, error) {
	if err := store.CheckAddress(address); err != nil {
		return "", false, err
	}
	if err := store.CheckTime("delivered", at); err != nil {
		return "", false, err
	}
	msg, err := store.NewMessageReader(data, size)
	if err != nil {
		return "", false, err
	}
	var docID string
	var created bool
	err = m.s.w.do(ctx, func(tx *wtx) error {
		err := tx.queryRow(`SELECT doc_id FROM deliveries WHERE address = ? AND message_id = ?`, address, id[:]).Scan(&docID)
		if err == nil {
			return nil // delivered before: idempotent (docs/spec/store.md §4.2), data unread
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite store: look up delivery %s to %s: %w", id, address, err)
		}
		seq, err := nextSeq(tx, address)
		if err != nil {
			return err
		}
		docID = store.NewDocID()
		// The row gets size zero bytes and then the message, streamed
		// into them: a message bound as a parameter would be copied whole
		// into SQLite's memory, which never shrinks. SQLite writes a
		// zeroblob page by page without holding it only if no column
		// after it takes a byte of the record: deleted_at, which follows
		// data, is 0, which a record keeps in its header alone. A failure
		// rolls the row back with the request's savepoint.
		if _, err := tx.exec(`INSERT INTO documents (address, id, kind, revision, seq, deleted, data)
			VALUES (?, ?, ?, 1, ?, 0, zeroblob(?))`, address, docID, store.KindMail, seq, size); err != nil {
			return fmt.Errorf("sqlite store: deliver %s to %s: %w", id, address, err)
		}
		if err := tx.fillBlob("documents", "data", tx.c.LastInsertRowID(), msg); err != nil {
			return fmt.Errorf("sqlite store: deliver %s to %s: %w", id, address, err)
		}
		if _, err := tx.exec(`INSERT INTO deliveries (address, message_id, doc_id, delivered) VALUES (?, ?, ?, ?)`,
			address, id[:], docID, sqlrow.Nanos(at)); err != nil {
			return fmt.Errorf("sqlite store: record delivery %s to %s: %w", id, address, err)
		}
		created = true
		return nil
	})
	if err != nil {
		return "", false, err
	}
	return docID, created, nil
}

// currentRevision returns a document's rowid, revision and deleted flag;
// revision 0 if it does not exist.
func currentRevision(tx *wtx, address, docID string) (rowid, rev int64, deleted bool, err error) {
	err = tx.queryRow(`SELECT rowid, revision, deleted FROM documents WHERE address = ? AND id = ?`, address, docID).Scan(&rowid, &rev, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("sqlite store: look up document %q of %s: %w", docID, address, err)
	}
	return rowid, rev, deleted, nil
}

// Put streams the document into its row as Deliver does: zeroblob(size),
// then blob I/O, in the request's savepoint, after the revision check (a
// conflict reads no data). A replaced row is updated in place rather
// than through an upsert: SQLite materialises the zeroblob of an
// upsert's excluded row, and the record of an UPDATE … RETURNING.
func (m mailbox) Put(ctx context.Context, address, docID, kind string, expectedRevision int64, data io.Reader, size int64) (store.Change, error) {
	c := store.Change{DocID: docID, Kind: kind, Size: size}
	msg, err := store.CheckPut(address, docID, kind, expectedRevision, data, size)
	if err != nil {
		return c, err
	}
	err = m.s.w.do(ctx, func(tx *wtx) error {
		seq, err := nextSeq(tx, address)
		if err != nil {
			return err
		}
		rowid, rev, _, err := currentRevision(tx, address, docID)
		if err != nil {
			return err
		}
		if rev != expectedRevision {
			return &store.ConflictError{DocID: docID, Current: rev}
		}
		c.Revision, c.Seq = rev+1, seq
		if rev == 0 {
			_, err = tx.exec(`INSERT INTO documents (address, id, kind, revision, seq, deleted, data)
				VALUES (?, ?, ?, ?, ?, 0, zeroblob(?))`, address, docID, kind, c.Revision, c.Seq, size)
			rowid = tx.c.LastInsertRowID()
		} else {
			_, err = tx.exec(`UPDATE documents SET kind = ?, revision = ?, seq = ?, deleted = 0, deleted_at = 0, data = zeroblob(?)
				WHERE rowid = ?`, kind, c.Revision, c.Seq, size, rowid)
		}
		if err == nil {
			err = tx.fillBlob("documents", "data", rowid, msg)
		}
		if err != nil {
			return fmt.Errorf("sqlite store: put document %q of %s: %w", docID, address, err)
		}
		return nil
	})
	if err != nil {
		return store.Change{}, err
	}
	return c, nil
}

func (m mailbox) Delete(ctx context.Context, address, docID string, expectedRevision int64, at time.Time) (store.Change, error) {
	c := store.Change{DocID: docID, Deleted: true}
	if err := store.CheckDocRef(address, docID, expectedRevision); err != nil {
		return c, err
	}
	if err := store.CheckTime("deleted", at); err != nil {
		return c, err
	}
	err := m.s.w.do(ctx, func(tx *wtx) error {
		seq, err := nextSeq(tx, address)
		if err != nil {
			return err
		}
		_, rev, deleted, err := currentRevision(tx, address, docID)
		switch {
		case err != nil:
			return err
		case rev == 0:
			return fmt.Errorf("%w: document %q of %s", store.ErrNotFound, docID, address)
		case rev != expectedRevision:
			return &store.ConflictError{DocID: docID, Current: rev}
		case deleted:
			return fmt.Errorf("%w: document %q of %s is already deleted", store.ErrNotFound, docID, address)
		}
		c.Revision, c.Seq = rev+1, seq
		err = tx.queryRow(`UPDATE documents SET revision = ?, seq = ?, deleted = 1, deleted_at = ?, data = X''
			WHERE address = ? AND id = ? RETURNING kind`, c.Revision, c.Seq, sqlrow.Nanos(at), address, docID).Scan(&c.Kind)
		if err != nil {
			return fmt.Errorf("sqlite store: delete document %q of %s: %w", docID, address, err)
		}
		return nil
	})
	if err != nil {
		return store.Change{}, err
	}
	return c, nil
}

func (m mailbox) Head(ctx context.Context, address string) (int64, error) {
	if err := store.CheckAddress(address); err != nil {
		return 0, err
	}
	var head int64
	err := m.s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT last_seq FROM accounts WHERE address = ?`, address).Scan(&head); err != nil {
			return noRows(err, "account %s", address)
		}
		return nil
	})
	return head, err
}

func (m mailbox) Changes(ctx context.Context, address string, since int64, limit int) ([]store.Change, error) {
	if err := store.CheckAddress(address); err != nil {
		return nil, err
	}
	limit, err := store.Limit(limit, store.MaxPage)
	if err != nil {
		return nil, err
	}
	var list []store.Change
	err = m.s.read(ctx, func(tx *sql.Tx) error {
		var collected int64
		if err := tx.QueryRowContext(ctx, `SELECT collected_seq FROM accounts WHERE address = ?`, address).Scan(&collected); err != nil {
			return noRows(err, "account %s", address)
		}
		if err := store.CheckCollected(address, since, collected); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, revision, seq, deleted, length(data) FROM documents
			WHERE address = ? AND seq > ? ORDER BY seq LIMIT ?`, address, since, limit)
		if err != nil {
			return fmt.Errorf("sqlite store: changes of %s: %w", address, err)
		}
		defer rows.Close()
		for rows.Next() {
			var c store.Change
			if err := rows.Scan(&c.DocID, &c.Kind, &c.Revision, &c.Seq, &c.Deleted, &c.Size); err != nil {
				return fmt.Errorf("sqlite store: changes of %s: %w", address, err)
			}
			list = append(list, c)
		}
		return rows.Err()
	})
	return list, err
}

func (m mailbox) Get(ctx context.Context, address, docID string) (store.Document, error) {
	var d store.Document
	if err := store.CheckAddress(address); err != nil {
		return d, err
	}
	if err := store.CheckDocID(docID); err != nil {
		return d, err
	}
	err := m.s.readRow(ctx, m.s.hot.getDoc, func(r *sql.Row) error {
		if err := r.Scan(&d.DocID, &d.Kind, &d.Revision, &d.Seq, &d.Deleted, &d.Data); err != nil {
			return noRows(err, "document %q of %s", docID, address)
		}
		return nil
	}, address, docID)
	d.Size = int64(len(d.Data))
	if d.Deleted {
		d.Data = nil
	}
	return d, err
}
