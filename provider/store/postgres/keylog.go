package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
)

// keylog is the transparency log's storage (docs/spec/store.md §12).
// Append takes a transaction-scoped advisory lock, so of the nodes
// sharing the database one appends at a time (the log's single
// sequencer); a node that dies while holding it loses it with its
// connection, and another takes over at its next Append.
type keylog struct{ s *Store }

func (k keylog) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := k.s.row(ctx, `SELECT coalesce(max(n) + 1, 0) FROM keylog_records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres store: keylog size: %w", err)
	}
	return n, nil
}

func (k keylog) ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	err := k.s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT i, hash FROM keylog_hashes WHERE i = ANY($1)`, indexes)
		if err != nil {
			return err
		}
		found := make(map[int64][32]byte, len(indexes))
		var i int64
		var h []byte
		_, err = pgx.ForEachRow(rows, []any{&i, &h}, func() error {
			if len(h) != 32 {
				return fmt.Errorf("corrupt keylog hash %d of %d bytes", i, len(h))
			}
			found[i] = [32]byte(h)
			return nil
		})
		if err != nil {
			return err
		}
		for j, i := range indexes {
			h, ok := found[i]
			if !ok {
				return fmt.Errorf("%w: keylog hash %d", store.ErrNotFound, i)
			}
			out[j] = h
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres store: keylog hashes: %w", err)
	}
	return out, nil
}

func (k keylog) Append(ctx context.Context, n int64, record []byte, hashes [][32]byte) error {
	if len(record) == 0 || len(record) > store.MaxKeylogRecord {
		return fmt.Errorf("%w: keylog record of %d bytes", store.ErrInvalid, len(record))
	}
	return k.s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKeylog); err != nil {
			return fmt.Errorf("postgres store: keylog lock: %w", err)
		}
		var size, next int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(n) + 1, 0) FROM keylog_records`).Scan(&size); err != nil {
			return fmt.Errorf("postgres store: keylog size: %w", err)
		}
		if n != size {
			return fmt.Errorf("%w: keylog record %d appended to a log of %d", store.ErrConflict, n, size)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(i) + 1, 0) FROM keylog_hashes`).Scan(&next); err != nil {
			return fmt.Errorf("postgres store: keylog hashes: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO keylog_records (n, record) VALUES ($1, $2)`, n, record); err != nil {
			return fmt.Errorf("postgres store: keylog record %d: %w", n, err)
		}
		idx := make([]int64, len(hashes))
		raw := make([][]byte, len(hashes))
		for j := range hashes {
			idx[j], raw[j] = next+int64(j), hashes[j][:]
		}
		if _, err := tx.Exec(ctx, `INSERT INTO keylog_hashes (i, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, idx, raw); err != nil {
			return fmt.Errorf("postgres store: keylog hashes from %d: %w", next, err)
		}
		return nil
	})
}

func (k keylog) Record(ctx context.Context, n int64) ([]byte, error) {
	var rec []byte
	err := k.s.row(ctx, `SELECT record FROM keylog_records WHERE n = $1`, n).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: keylog record %d", store.ErrNotFound, n)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres store: keylog record %d: %w", n, err)
	}
	return rec, nil
}
