package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type mailbox struct{ s *Store }

// nextSeq takes the next number of address's change sequence. The UPDATE
// locks the account's row until the transaction ends, so the account's
// changes commit one at a time, in sequence order; a transaction that
// rolls back gives its number back: the sequence has no gaps.
func nextSeq(ctx context.Context, tx pgx.Tx, address string) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `UPDATE accounts SET last_seq = last_seq + 1 WHERE address = $1 RETURNING last_seq`, address).Scan(&seq)
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
	if size > store.MaxDeliverBuffer {
		docID, created, err = m.deliverStream(ctx, address, id, msg, sqlrow.Nanos(at))
	} else {
		docID, created, err = m.deliverGroup(ctx, address, id, msg, sqlrow.Nanos(at))
	}
	if err != nil {
		return "", false, err
	}
	if !created {
		// Delivered before: idempotent (docs/spec/store.md §4.2).
		docID, err := m.delivered(ctx, address, id)
		return docID, false, err
	}
	m.s.notes.changed(address)
	return docID, true, nil
}

// deliverGroup stores a message small enough to hold in memory with the
// other deliveries waiting meanwhile, in one transaction (deliverer.go).
// created false means delivered before.
func (m mailbox) deliverGroup(ctx context.Context, address string, id store.MessageID, msg *store.MessageReader, at int64) (string, bool, error) {
	data, err := msg.ReadAll()
	if err != nil {
		// A redelivery is answered whatever data yields, as where the
		// delivery record is looked up before data is read.
		if docID, lookErr := m.delivered(ctx, address, id); lookErr == nil {
			return docID, false, nil
		}
		return "", false, fmt.Errorf("postgres store: deliver %s to %s: %w", id, address, err)
	}
	r := &delivery{address: address, id: id, data: data, at: at}
	err = m.s.deliveries.deliver(ctx, r)
	switch {
	case err == nil:
		return r.docID, r.created, nil
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrClosed):
		return "", false, err
	}
	return "", false, fmt.Errorf("postgres store: deliver %s to %s: %w", id, address, err)
}

// deliverStream stores a message larger than MaxDeliverBuffer in a
// transaction of its own that copies it to the server as it reads it:
// pgx would encode it whole as a parameter (docs/spec/store.md §13.2).
// The delivery record comes first and the account's next sequence number
// second, as in a group (queueDelivery), so both wait for and lock the
// same rows in the same order; data is read only after both, so a
// transaction aborted by a deadlock, which may happen only while it takes
// those locks, is run again with data unread. created false means
// delivered before.
func (m mailbox) deliverStream(ctx context.Context, address string, id store.MessageID, msg *store.MessageReader, at int64) (docID string, created bool, err error) {
	err = m.s.write(ctx, func(tx pgx.Tx) error {
		docID, created = store.NewDocID(), false
		ok, err := exists(ctx, tx, `INSERT INTO deliveries (address, message_id, doc_id, delivered) VALUES ($1, $2, $3, $4)
			ON CONFLICT (address, message_id) DO NOTHING RETURNING 1`, address, id[:], docID, at)
		switch {
		case isForeignKey(err):
			return fmt.Errorf("%w: account %s", store.ErrNotFound, address)
		case err != nil:
			return fmt.Errorf("postgres store: record delivery %s to %s: %w", id, address, err)
		case !ok:
			return nil // delivered before; data unread
		}
		seq, err := nextSeq(ctx, tx, address)
		if err != nil {
			return err
		}
		err = copyIn(ctx, tx, `COPY documents (address, id, kind, revision, seq, deleted, data) FROM STDIN (FORMAT binary)`,
			msg, address, docID, store.KindMail, int64(1), seq, false)
		if err != nil {
			return fmt.Errorf("postgres store: deliver %s to %s: copy: %w", id, address, err)
		}
		created = true
		return nil
	})
	return docID, created, err
}

// delivered returns the document id recorded for the delivery of id to
// address.
func (m mailbox) delivered(ctx context.Context, address string, id store.MessageID) (string, error) {
	var docID string
	if err := m.s.row(ctx, `SELECT doc_id FROM deliveries WHERE address = $1 AND message_id = $2`, address, id[:]).Scan(&docID); err != nil {
		return "", noRows(err, "delivery %s to %s", id, address)
	}
	return docID, nil
}

// currentRevision returns a document's revision and deleted flag;
// revision 0 if it does not exist.
func currentRevision(ctx context.Context, tx pgx.Tx, address, docID string) (int64, bool, error) {
	var rev int64
	var deleted bool
	err := tx.QueryRow(ctx, `SELECT revision, deleted FROM documents WHERE address = $1 AND id = $2`, address, docID).Scan(&rev, &deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres store: look up document %q of %s: %w", docID, address, err)
	}
	return rev, deleted, nil
}

// Put writes a document of at most MaxDeliverBuffer as a parameter, read
// into memory before the transaction; a larger one is copied to the
// server as it is read (copy.go), into a staging table, since COPY cannot
// replace a row, and goes from there into documents by the same upsert,
// in the same transaction, after the same locks and revision check: data
// is read only once they are taken, so a transaction aborted by a
// deadlock while it takes them is run again with data unread.
func (m mailbox) Put(ctx context.Context, address, docID, kind string, expectedRevision int64, data io.Reader, size int64) (store.Change, error) {
	c := store.Change{DocID: docID, Kind: kind, Size: size}
	msg, err := store.CheckPut(address, docID, kind, expectedRevision, data, size)
	if err != nil {
		return c, err
	}
	const upsert = ` ON CONFLICT (address, id) DO UPDATE SET kind = excluded.kind, revision = excluded.revision,
		seq = excluded.seq, deleted = false, deleted_at = 0, data = excluded.data`
	var small []byte
	stream := size > store.MaxDeliverBuffer
	if !stream {
		if small, err = msg.ReadAll(); err != nil {
			return store.Change{}, fmt.Errorf("postgres store: put document %q of %s: %w", docID, address, err)
		}
	}
	err = m.s.write(ctx, func(tx pgx.Tx) error {
		seq, err := nextSeq(ctx, tx, address)
		if err != nil {
			return err
		}
		rev, _, err := currentRevision(ctx, tx, address, docID)
		if err != nil {
			return err
		}
		if rev != expectedRevision {
			return &store.ConflictError{DocID: docID, Current: rev}
		}
		c.Revision, c.Seq = rev+1, seq
		if !stream {
			_, err = tx.Exec(ctx, `INSERT INTO documents (address, id, kind, revision, seq, deleted, data)
				VALUES ($1, $2, $3, $4, $5, false, $6)`+upsert, address, docID, kind, c.Revision, c.Seq, small)
		} else {
			err = m.putStream(ctx, tx, c, address, msg, upsert)
		}
		if err != nil {
			return fmt.Errorf("postgres store: put document %q of %s: %w", docID, address, err)
		}
		return nil
	})
	if err != nil {
		return store.Change{}, err
	}
	m.s.notes.changed(address)
	return c, nil
}

// putStream copies a large document into put_staging, a temporary table
// of the transaction shaped as documents (STORAGE EXTERNAL too), and
// upserts it from there.
func (m mailbox) putStream(ctx context.Context, tx pgx.Tx, c store.Change, address string, msg *store.MessageReader, upsert string) error {
	_, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE put_staging (LIKE documents INCLUDING DEFAULTS INCLUDING STORAGE) ON COMMIT DROP`)
	if err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	err = copyIn(ctx, tx, `COPY put_staging (address, id, kind, revision, seq, deleted, data) FROM STDIN (FORMAT binary)`,
		msg, address, c.DocID, c.Kind, c.Revision, c.Seq, false)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO documents (address, id, kind, revision, seq, deleted, data)
		SELECT address, id, kind, revision, seq, deleted, data FROM put_staging`+upsert)
	if err != nil {
		return notRetryable{err}
	}
	return nil
}

func (m mailbox) Delete(ctx context.Context, address, docID string, expectedRevision int64, at time.Time) (store.Change, error) {
	c := store.Change{DocID: docID, Deleted: true}
	if err := store.CheckDocRef(address, docID, expectedRevision); err != nil {
		return c, err
	}
	if err := store.CheckTime("deleted", at); err != nil {
		return c, err
	}
	err := m.s.write(ctx, func(tx pgx.Tx) error {
		seq, err := nextSeq(ctx, tx, address)
		if err != nil {
			return err
		}
		rev, deleted, err := currentRevision(ctx, tx, address, docID)
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
		err = tx.QueryRow(ctx, `UPDATE documents SET revision = $1, seq = $2, deleted = true, deleted_at = $3, data = ''::bytea
			WHERE address = $4 AND id = $5 RETURNING kind`, c.Revision, c.Seq, sqlrow.Nanos(at), address, docID).Scan(&c.Kind)
		if err != nil {
			return fmt.Errorf("postgres store: delete document %q of %s: %w", docID, address, err)
		}
		return nil
	})
	if err != nil {
		return store.Change{}, err
	}
	m.s.notes.changed(address)
	return c, nil
}

func (m mailbox) Head(ctx context.Context, address string) (int64, error) {
	if err := store.CheckAddress(address); err != nil {
		return 0, err
	}
	var head int64
	if err := m.s.row(ctx, `SELECT last_seq FROM accounts WHERE address = $1`, address).Scan(&head); err != nil {
		return 0, noRows(err, "account %s", address)
	}
	return head, nil
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
	err = m.s.read(ctx, func(tx pgx.Tx) error {
		var collected int64
		if err := tx.QueryRow(ctx, `SELECT collected_seq FROM accounts WHERE address = $1`, address).Scan(&collected); err != nil {
			return noRows(err, "account %s", address)
		}
		if err := store.CheckCollected(address, since, collected); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, kind, revision, seq, deleted, length(data) FROM documents
			WHERE address = $1 AND seq > $2 ORDER BY seq LIMIT $3`, address, since, limit)
		if err != nil {
			return fmt.Errorf("postgres store: changes of %s: %w", address, err)
		}
		defer rows.Close()
		for rows.Next() {
			var c store.Change
			if err := rows.Scan(&c.DocID, &c.Kind, &c.Revision, &c.Seq, &c.Deleted, &c.Size); err != nil {
				return fmt.Errorf("postgres store: changes of %s: %w", address, err)
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
	err := m.s.row(ctx, `SELECT id, kind, revision, seq, deleted, data FROM documents WHERE address = $1 AND id = $2`, address, docID).Scan(&d.DocID, &d.Kind, &d.Revision, &d.Seq, &d.Deleted, &d.Data)
	if err != nil {
		return store.Document{}, noRows(err, "document %q of %s", docID, address)
	}
	d.Size = int64(len(d.Data))
	if d.Deleted {
		d.Data = nil
	}
	return d, nil
}
