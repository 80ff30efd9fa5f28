package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ncruces/go-sqlite3"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type queue struct{ s *Store }

// queueColumns are sqlrow.QueueColumns as this store keeps them: the
// message in queue_messages, its length in queue.size (schema version 6).
var queueColumns = sqlrow.QueueColumns("size")

// Enqueue streams the message into its row of queue_messages as Deliver
// streams a document (mailbox.go): the row gets zeroblob(size), the last
// and only column after its key, and blob I/O copies the message into it
// at most MaxDeliverBuffer at a time, in the request's savepoint.
func (q queue) Enqueue(ctx context.Context, m store.Outbound) (int64, bool, error) {
	created := time.Now()
	next, msg, err := store.CheckOutbound(m, created)
	if err != nil {
		return 0, false, err
	}
	var id int64
	var isNew bool
	err = q.s.w.do(ctx, func(tx *wtx) error {
		err := tx.queryRow(`SELECT id FROM queue WHERE message_id = ?`, m.MessageID[:]).Scan(&id)
		if err == nil {
			return nil // queued already: idempotent (docs/spec/store.md §5), message unread
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite store: look up queued message %s: %w", m.MessageID, err)
		}
		err = tx.queryRow(`INSERT INTO queue (message_id, domain, bounce_to, size, created, attempts,
				next_attempt, last_error, lease_owner, lease_until)
			VALUES (?, ?, ?, ?, ?, 0, ?, '', '', 0) RETURNING id`,
			m.MessageID[:], m.Domain, nullBlob(m.BounceTo), m.Size, sqlrow.Nanos(created), sqlrow.Nanos(next)).Scan(&id)
		if err != nil {
			return fmt.Errorf("sqlite store: enqueue %s: %w", m.MessageID, err)
		}
		if _, err := tx.exec(`INSERT INTO queue_messages (id, message) VALUES (?, zeroblob(?))`, id, m.Size); err != nil {
			return fmt.Errorf("sqlite store: enqueue %s: %w", m.MessageID, err)
		}
		if err := tx.fillBlob("queue_messages", "message", id, msg); err != nil {
			return fmt.Errorf("sqlite store: enqueue %s: %w", m.MessageID, err)
		}
		isNew = true
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return id, isNew, nil
}

// Claim is one UPDATE … RETURNING in the write transaction: the writer is
// the only one, so two claims can never select the same row. (PostgreSQL
// gets the same guarantee from SELECT … FOR UPDATE SKIP LOCKED in the
// subquery; docs/spec/store.md §5.2.)
func (q queue) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, owner string) ([]store.QueueEntry, error) {
	limit, until, err := store.CheckClaim(now, limit, lease, owner)
	if err != nil {
		return nil, err
	}
	var list []store.QueueEntry
	err = q.s.w.do(ctx, func(tx *wtx) error {
		err := tx.query(`UPDATE queue SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM queue WHERE next_attempt <= ?3 AND lease_until <= ?3
				ORDER BY next_attempt, id LIMIT ?4)
			RETURNING `+queueColumns, []any{owner, sqlrow.Nanos(until), sqlrow.Nanos(now), limit},
			func(r row) error {
				e, err := sqlrow.ScanEntry(r, false)
				list = append(list, e)
				return err
			})
		if err != nil {
			return fmt.Errorf("sqlite store: claim: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// RETURNING yields rows in no promised order.
	slices.SortFunc(list, func(a, b store.QueueEntry) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID))
	})
	return list, nil
}

// leaseLost explains why an UPDATE or DELETE guarded by the lease owner
// matched nothing: no such entry, or another owner's claim.
func leaseLost(tx *wtx, id int64, owner string) error {
	ok, err := exists(tx, `SELECT 1 FROM queue WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite store: look up queue entry %d: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("%w: queue entry %d", store.ErrNotFound, id)
	}
	return fmt.Errorf("%w: queue entry %d, owner %q", store.ErrLeaseLost, id, owner)
}

func (q queue) Complete(ctx context.Context, id int64, owner string) error {
	if err := store.CheckOwner(owner); err != nil {
		return err
	}
	return q.s.w.do(ctx, func(tx *wtx) error {
		n, err := tx.exec(`DELETE FROM queue WHERE id = ? AND lease_owner = ?`, id, owner)
		if err != nil {
			return fmt.Errorf("sqlite store: complete queue entry %d: %w", id, err)
		}
		if n == 0 {
			return leaseLost(tx, id, owner)
		}
		return nil
	})
}

func (q queue) Reschedule(ctx context.Context, id int64, owner string, next time.Time, lastError string) error {
	if err := store.CheckOwner(owner); err != nil {
		return err
	}
	if err := store.CheckTime("next attempt", next); err != nil {
		return err
	}
	lastError = store.TruncateError(lastError)
	return q.s.w.do(ctx, func(tx *wtx) error {
		n, err := tx.exec(`UPDATE queue SET next_attempt = ?, last_error = ?, lease_owner = '', lease_until = 0
			WHERE id = ? AND lease_owner = ?`, sqlrow.Nanos(next), lastError, id, owner)
		if err != nil {
			return fmt.Errorf("sqlite store: reschedule queue entry %d: %w", id, err)
		}
		if n == 0 {
			return leaseLost(tx, id, owner)
		}
		return nil
	})
}

func (q queue) Retry(ctx context.Context, id int64, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return q.s.w.do(ctx, func(tx *wtx) error {
		n, err := tx.exec(`UPDATE queue SET next_attempt = ?, lease_owner = '', lease_until = 0 WHERE id = ?`, sqlrow.Nanos(now), id)
		if err != nil {
			return fmt.Errorf("sqlite store: retry queue entry %d: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: queue entry %d", store.ErrNotFound, id)
		}
		return nil
	})
}

func (q queue) Drop(ctx context.Context, id int64) error {
	return q.s.w.do(ctx, func(tx *wtx) error {
		n, err := tx.exec(`DELETE FROM queue WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite store: drop queue entry %d: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: queue entry %d", store.ErrNotFound, id)
		}
		return nil
	})
}

func (q queue) List(ctx context.Context) ([]store.QueueEntry, error) {
	var list []store.QueueEntry
	err := q.s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+queueColumns+` FROM queue ORDER BY id`)
		if err != nil {
			return fmt.Errorf("sqlite store: list queue: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := sqlrow.ScanEntry(rows, false)
			if err != nil {
				return fmt.Errorf("sqlite store: list queue: %w", err)
			}
			list = append(list, e)
		}
		return rows.Err()
	})
	return list, err
}

func (q queue) Get(ctx context.Context, id int64) (store.QueueEntry, error) {
	var e store.QueueEntry
	err := q.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = sqlrow.ScanEntry(tx.QueryRowContext(ctx, `SELECT `+queueColumns+`, message
			FROM queue JOIN queue_messages USING (id) WHERE id = ?`, id), true)
		if err != nil {
			return noRows(err, "queue entry %d", id)
		}
		return nil
	})
	return e, err
}

// Open reads the message of entry id through incremental blob I/O, as
// Mailbox.Open reads a document (read.go), one read transaction per
// piece. A message never changes while its entry exists, and ids are
// never reused, so each piece checks only that the entry is still there.
func (q queue) Open(ctx context.Context, id int64) (io.ReaderAt, error) {
	var size int64
	err := q.s.withConn(ctx, func(c *sqlite3.Conn) error {
		var err error
		size, err = queuedSize(c, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("queue entry %d", id)
	piece := func(p []byte, off int64) error {
		return q.s.blobPiece(ctx, what, "queue_messages", "message", p, off, func(c *sqlite3.Conn) (int64, error) {
			if _, err := queuedSize(c, id); errors.Is(err, store.ErrNotFound) {
				return 0, fmt.Errorf("%w: %s was completed or dropped: %w", store.ErrChanged, what, store.ErrNotFound)
			} else if err != nil {
				return 0, err
			}
			return id, nil // the rowid of its message
		})
	}
	return store.PieceReader{Size: size, Read: piece}, nil
}

// queuedSize returns the length of entry id's message; ErrNotFound if
// there is no such entry.
func queuedSize(c *sqlite3.Conn, id int64) (int64, error) {
	var size int64
	if err := connRow(c, `SELECT size FROM queue WHERE id = ?`, []any{id}, &size); err != nil {
		return 0, noRows(err, "queue entry %d", id)
	}
	return size, nil
}
