package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type queue struct{ s *Store }

// queueColumns are sqlrow.QueueColumns as this store keeps them: the
// message in the queue row. length() reads the TOAST pointer's size, not
// the message.
var queueColumns = sqlrow.QueueColumns("length(message)")

// Enqueue writes a message of at most MaxDeliverBuffer as a parameter,
// read into memory first; a larger one is copied to the server as it is
// read (enqueueStream).
func (q queue) Enqueue(ctx context.Context, m store.Outbound) (int64, bool, error) {
	created := time.Now()
	next, msg, err := store.CheckOutbound(m, created)
	if err != nil {
		return 0, false, err
	}
	if m.Size > store.MaxDeliverBuffer {
		return q.enqueueStream(ctx, m, msg, sqlrow.Nanos(created), sqlrow.Nanos(next))
	}
	data, err := msg.ReadAll()
	if err != nil {
		// Queued already: answered whatever the message yields, as where
		// the entry is looked up before the message is read.
		if id, lookErr := q.queued(ctx, m.MessageID); lookErr == nil {
			return id, false, nil
		}
		return 0, false, fmt.Errorf("postgres store: enqueue %s: %w", m.MessageID, err)
	}
	var id int64
	var isNew bool
	err = q.s.write(ctx, func(tx pgx.Tx) error {
		// ON CONFLICT waits for a concurrent enqueue of the same message
		// to end, then inserts nothing; the SELECT then sees that entry
		// (READ COMMITTED: a new snapshot per statement).
		err := tx.QueryRow(ctx, `INSERT INTO queue (message_id, domain, message, bounce_to, created, attempts,
				next_attempt, last_error, lease_owner, lease_until)
			VALUES ($1, $2, $3, $4, $5, 0, $6, '', '', 0)
			ON CONFLICT (message_id) DO NOTHING RETURNING id`,
			m.MessageID[:], m.Domain, data, m.BounceTo, sqlrow.Nanos(created), sqlrow.Nanos(next)).Scan(&id)
		isNew = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			// Queued already: idempotent (docs/spec/store.md §5). A
			// concurrent Drop of it makes this fail; the write is then
			// run again and inserts.
			err = tx.QueryRow(ctx, `SELECT id FROM queue WHERE message_id = $1`, m.MessageID[:]).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return errRaced
			}
		}
		if err != nil {
			return fmt.Errorf("postgres store: enqueue %s: %w", m.MessageID, err)
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return id, isNew, nil
}

// enqueueStream queues a message larger than MaxDeliverBuffer in a
// transaction of its own: a look-up of the message id, then, if it is
// not queued, COPY queue … FROM STDIN (FORMAT binary), the message read
// as the server takes it (copy.go). A concurrent Enqueue of the same
// message that commits first makes the copy fail on the unique message
// id once the message has been read: that entry is then the answer,
// as if it had been found first.
func (q queue) enqueueStream(ctx context.Context, m store.Outbound, msg *store.MessageReader, created, next int64) (int64, bool, error) {
	var id int64
	var isNew bool
	err := q.s.write(ctx, func(tx pgx.Tx) error {
		isNew = false
		err := tx.QueryRow(ctx, `SELECT id FROM queue WHERE message_id = $1`, m.MessageID[:]).Scan(&id)
		if err == nil {
			return nil // queued already: idempotent (docs/spec/store.md §5), message unread
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres store: look up queued message %s: %w", m.MessageID, err)
		}
		err = copyIn(ctx, tx, `COPY queue (message_id, domain, bounce_to, created, attempts, next_attempt,
				last_error, lease_owner, lease_until, message) FROM STDIN (FORMAT binary)`,
			msg, m.MessageID[:], m.Domain, m.BounceTo, created, int32(0), next, "", "", int64(0))
		if err != nil {
			return fmt.Errorf("postgres store: enqueue %s: copy: %w", m.MessageID, err)
		}
		if err := tx.QueryRow(ctx, `SELECT id FROM queue WHERE message_id = $1`, m.MessageID[:]).Scan(&id); err != nil {
			return notRetryable{fmt.Errorf("postgres store: enqueue %s: %w", m.MessageID, err)}
		}
		isNew = true
		return nil
	})
	if isUnique(err) {
		id, err := q.queued(ctx, m.MessageID)
		return id, false, err
	}
	if err != nil {
		return 0, false, err
	}
	return id, isNew, nil
}

// queued returns the id of the entry of message id; ErrNotFound if none.
func (q queue) queued(ctx context.Context, id store.MessageID) (int64, error) {
	var entry int64
	if err := q.s.row(ctx, `SELECT id FROM queue WHERE message_id = $1`, id[:]).Scan(&entry); err != nil {
		return 0, noRows(err, "queued message %s", id)
	}
	return entry, nil
}

// errRaced is a transaction's report of a concurrent change that running
// it again resolves (retryable treats it like a serialization failure).
var errRaced = errors.New("postgres store: concurrent change; run again")

// Claim is one UPDATE whose subquery selects the due entries FOR UPDATE
// SKIP LOCKED: an entry another node is claiming at this moment is
// skipped, not waited for, and never handed out twice; one whose lease
// has expired (lease_until ≤ now: its holder died or is late) is due
// again (docs/spec/store.md §5.2).
func (q queue) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, owner string) ([]store.QueueEntry, error) {
	limit, until, err := store.CheckClaim(now, limit, lease, owner)
	if err != nil {
		return nil, err
	}
	var list []store.QueueEntry
	err = q.s.write(ctx, func(tx pgx.Tx) error {
		list = list[:0]
		rows, err := tx.Query(ctx, `UPDATE queue SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM queue WHERE next_attempt <= $3 AND lease_until <= $3
				ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED)
			RETURNING `+queueColumns, owner, sqlrow.Nanos(until), sqlrow.Nanos(now), limit)
		if err != nil {
			return fmt.Errorf("postgres store: claim: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := sqlrow.ScanEntry(rows, false)
			if err != nil {
				return fmt.Errorf("postgres store: claim: %w", err)
			}
			list = append(list, e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres store: claim: %w", err)
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
func leaseLost(ctx context.Context, tx pgx.Tx, id int64, owner string) error {
	ok, err := exists(ctx, tx, `SELECT 1 FROM queue WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres store: look up queue entry %d: %w", id, err)
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
	return q.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM queue WHERE id = $1 AND lease_owner = $2`, id, owner)
		if err != nil {
			return fmt.Errorf("postgres store: complete queue entry %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return leaseLost(ctx, tx, id, owner)
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
	return q.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE queue SET next_attempt = $1, last_error = $2, lease_owner = '', lease_until = 0
			WHERE id = $3 AND lease_owner = $4`, sqlrow.Nanos(next), lastError, id, owner)
		if err != nil {
			return fmt.Errorf("postgres store: reschedule queue entry %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return leaseLost(ctx, tx, id, owner)
		}
		return nil
	})
}

func (q queue) Retry(ctx context.Context, id int64, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return q.exactlyOne(ctx, "retry", id, `UPDATE queue SET next_attempt = $2, lease_owner = '', lease_until = 0 WHERE id = $1`, sqlrow.Nanos(now))
}

func (q queue) Drop(ctx context.Context, id int64) error {
	return q.exactlyOne(ctx, "drop", id, `DELETE FROM queue WHERE id = $1`)
}

// exactlyOne runs a statement on entry id ($1); ErrNotFound if it matched
// no row.
func (q queue) exactlyOne(ctx context.Context, what string, id int64, query string, args ...any) error {
	return q.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, append([]any{id}, args...)...)
		if err != nil {
			return fmt.Errorf("postgres store: %s queue entry %d: %w", what, id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: queue entry %d", store.ErrNotFound, id)
		}
		return nil
	})
}

func (q queue) List(ctx context.Context) ([]store.QueueEntry, error) {
	var list []store.QueueEntry
	err := q.s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+queueColumns+` FROM queue ORDER BY id`)
		if err != nil {
			return fmt.Errorf("postgres store: list queue: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := sqlrow.ScanEntry(rows, false)
			if err != nil {
				return fmt.Errorf("postgres store: list queue: %w", err)
			}
			list = append(list, e)
		}
		return rows.Err()
	})
	return list, err
}

func (q queue) Get(ctx context.Context, id int64) (store.QueueEntry, error) {
	e, err := sqlrow.ScanEntry(q.s.row(ctx, `SELECT `+queueColumns+`, message FROM queue WHERE id = $1`, id), true)
	if err != nil {
		return store.QueueEntry{}, noRows(err, "queue entry %d", id)
	}
	return e, nil
}

// Open reads the message of entry id a piece at a time with substring(),
// as Mailbox.Open reads a document (read.go). A message never changes
// while its entry exists, and ids are never reused: a piece finds its
// entry or finds it gone.
func (q queue) Open(ctx context.Context, id int64) (io.ReaderAt, error) {
	var size int64
	if err := q.s.row(ctx, `SELECT length(message) FROM queue WHERE id = $1`, id).Scan(&size); err != nil {
		return nil, noRows(err, "queue entry %d", id)
	}
	what := fmt.Sprintf("queue entry %d", id)
	piece := func(p []byte, off int64) error {
		return q.s.slice(ctx, p, off, what, func() error {
			return fmt.Errorf("%w: %s was completed or dropped: %w", store.ErrChanged, what, store.ErrNotFound)
		}, `SELECT substring(message FROM $2 FOR $3) FROM queue WHERE id = $1`, id, off+1, len(p))
	}
	return store.PieceReader{Size: size, Read: piece}, nil
}
