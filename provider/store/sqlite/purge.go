package sqlite

import (
	"context"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

// purgeBatch bounds the rows one write request of a purge removes, so
// that a purge of a long backlog (the first after an upgrade, or after
// the provider was down) never holds the single writer for long: the
// deliveries waiting behind it commit between its batches.
const purgeBatch = 1000

// inBatches runs batch as write requests until one removes fewer than
// purgeBatch rows, and returns the total removed.
func (s *Store) inBatches(ctx context.Context, batch func(tx *wtx) (int, error)) (int, error) {
	total := 0
	for {
		var n int
		err := s.w.do(ctx, func(tx *wtx) error {
			var err error
			n, err = batch(tx)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

func (m mailbox) PurgeDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	if err := store.CheckTime("cutoff", cutoff); err != nil {
		return 0, err
	}
	return m.s.inBatches(ctx, func(tx *wtx) (int, error) {
		n, err := tx.exec(`DELETE FROM deliveries WHERE (address, message_id) IN
			(SELECT address, message_id FROM deliveries WHERE delivered <= ? LIMIT ?)`, sqlrow.Nanos(cutoff), purgeBatch)
		if err != nil {
			return 0, fmt.Errorf("sqlite store: purge deliveries: %w", err)
		}
		return int(n), nil
	})
}

func (m mailbox) CollectTombstones(ctx context.Context, cutoff time.Time) (int, error) {
	if err := store.CheckTime("cutoff", cutoff); err != nil {
		return 0, err
	}
	return m.s.inBatches(ctx, func(tx *wtx) (int, error) {
		// The highest sequence number removed per account is recorded in
		// the same transaction as the removal: a listing can never miss a
		// tombstone without being told to resync (docs/spec/store.md §4.5).
		top := map[string]int64{}
		n := 0
		err := tx.query(`DELETE FROM documents WHERE rowid IN
				(SELECT rowid FROM documents WHERE deleted = 1 AND deleted_at <= ? LIMIT ?)
			RETURNING address, seq`, []any{sqlrow.Nanos(cutoff), purgeBatch}, func(r row) error {
			var address string
			var seq int64
			if err := r.Scan(&address, &seq); err != nil {
				return err
			}
			top[address] = max(top[address], seq)
			n++
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("sqlite store: collect tombstones: %w", err)
		}
		for address, seq := range top {
			if _, err := tx.exec(`UPDATE accounts SET collected_seq = max(collected_seq, ?) WHERE address = ?`, seq, address); err != nil {
				return 0, fmt.Errorf("sqlite store: record collected tombstones of %s: %w", address, err)
			}
		}
		return n, nil
	})
}
