package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

func (m mailbox) PurgeDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	return m.s.purge(ctx, cutoff, "deliveries", `DELETE FROM deliveries WHERE delivered <= $1`)
}

// CollectTombstones is one statement: the removal and the accounts'
// collected sequence numbers commit together, so a listing never misses
// a tombstone without being told to resync (docs/spec/store.md §4.5). A
// Put re-creating a tombstone meanwhile is not lost: READ COMMITTED
// checks deleted again on the row the Put committed, and skips it.
func (m mailbox) CollectTombstones(ctx context.Context, cutoff time.Time) (int, error) {
	if err := store.CheckTime("cutoff", cutoff); err != nil {
		return 0, err
	}
	var n int
	err := m.s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `WITH gone AS (
				DELETE FROM documents WHERE deleted AND deleted_at <= $1 RETURNING address, seq
			), top AS (
				SELECT address, max(seq) AS seq FROM gone GROUP BY address
			), raised AS (
				UPDATE accounts a SET collected_seq = greatest(a.collected_seq, top.seq)
				FROM top WHERE a.address = top.address RETURNING 1
			)
			SELECT count(*) FROM gone`, sqlrow.Nanos(cutoff)).Scan(&n)
		if err != nil {
			return fmt.Errorf("postgres store: collect tombstones: %w", err)
		}
		return nil
	})
	return n, err
}
