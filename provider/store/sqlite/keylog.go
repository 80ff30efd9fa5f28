package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"umbra/provider/store"
)

// keylog is the transparency log's storage (docs/spec/store.md §12).
type keylog struct{ s *Store }

func (k keylog) Size(ctx context.Context) (int64, error) {
	var n int64
	err := k.s.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM keylog_records`).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite store: keylog size: %w", err)
	}
	return n, nil
}

func (k keylog) ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	err := k.s.read(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `SELECT hash FROM keylog_hashes WHERE i = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for j, i := range indexes {
			var h []byte
			if err := stmt.QueryRowContext(ctx, i).Scan(&h); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: keylog hash %d", store.ErrNotFound, i)
			} else if err != nil {
				return err
			}
			if len(h) != 32 {
				return fmt.Errorf("sqlite store: corrupt keylog hash %d of %d bytes", i, len(h))
			}
			out[j] = [32]byte(h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite store: keylog hashes: %w", err)
	}
	return out, nil
}

func (k keylog) Append(ctx context.Context, n int64, record []byte, hashes [][32]byte) error {
	if len(record) == 0 || len(record) > store.MaxKeylogRecord {
		return fmt.Errorf("%w: keylog record of %d bytes", store.ErrInvalid, len(record))
	}
	return k.s.w.do(ctx, func(tx *wtx) error {
		var size, next int64
		if err := tx.queryRow(`SELECT count(*) FROM keylog_records`).Scan(&size); err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%w: keylog record %d appended to a log of %d", store.ErrConflict, n, size)
		}
		if err := tx.queryRow(`SELECT coalesce(max(i) + 1, 0) FROM keylog_hashes`).Scan(&next); err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO keylog_records (n, record) VALUES (?, ?)`, n, record); err != nil {
			return fmt.Errorf("sqlite store: keylog record %d: %w", n, err)
		}
		for j, h := range hashes {
			if _, err := tx.exec(`INSERT INTO keylog_hashes (i, hash) VALUES (?, ?)`, next+int64(j), h[:]); err != nil {
				return fmt.Errorf("sqlite store: keylog hash %d: %w", next+int64(j), err)
			}
		}
		return nil
	})
}

func (k keylog) Record(ctx context.Context, n int64) ([]byte, error) {
	var rec []byte
	err := k.s.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT record FROM keylog_records WHERE n = ?`, n).Scan(&rec)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: keylog record %d", store.ErrNotFound, n)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite store: keylog record %d: %w", n, err)
	}
	return rec, nil
}
