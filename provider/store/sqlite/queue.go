package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type queue struct{ s *Store }

func (q queue) Enqueue(ctx context.Context, m store.Outbound) (int64, bool, error) {
	created := time.Now()
	next, err := store.CheckOutbound(m, created)
	if err != nil {
		return 0, false, err
	}
	var id int64
	var isNew bool
	err = q.s.w.do(ctx, func(tx *wtx) error {
		err := tx.queryRow(`SELECT id FROM queue WHERE message_id = ?`, m.MessageID[:]).Scan(&id)
		if err == nil {
			return nil // queued already: idempotent (docs/spec/store.md §5)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite store: look up queued message %s: %w", m.MessageID, err)
		}
		err = tx.queryRow(`INSERT INTO queue (message_id, domain, message, bounce_to, created, attempts,
				next_attempt, last_error, lease_owner, lease_until)
			VALUES (?, ?, ?, ?, ?, 0, ?, '', '', 0) RETURNING id`,
			m.MessageID[:], m.Domain, m.Message, nullBlob(m.BounceTo), sqlrow.Nanos(created), sqlrow.Nanos(next)).Scan(&id)
		if err != nil {
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
			RETURNING `+sqlrow.QueueColumns+`, message`, []any{owner, sqlrow.Nanos(until), sqlrow.Nanos(now), limit},
			func(r row) error {
				e, err := sqlrow.ScanEntry(r, true)
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
		rows, err := tx.QueryContext(ctx, `SELECT `+sqlrow.QueueColumns+` FROM queue ORDER BY id`)
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
		e, err = sqlrow.ScanEntry(tx.QueryRowContext(ctx, `SELECT `+sqlrow.QueueColumns+`, message FROM queue WHERE id = ?`, id), true)
		if err != nil {
			return noRows(err, "queue entry %d", id)
		}
		return nil
	})
	return e, err
}
