package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
	"umbra/signet"
)

type signets struct{ s *Store }

func (g signets) Append(ctx context.Context, address string, fp signet.Fingerprint, encoded []byte) (int64, error) {
	if err := store.CheckSignetAppend(address, fp, encoded); err != nil {
		return 0, err
	}
	added := time.Now()
	var seq int64
	err := g.s.w.do(ctx, func(tx *wtx) error {
		var owner string
		err := tx.queryRow(`SELECT address, seq FROM signets WHERE fingerprint = ?`, fp[:]).Scan(&owner, &seq)
		switch {
		case err == nil && owner == address:
			return nil // already appended: idempotent
		case err == nil:
			return fmt.Errorf("%w: signet %s belongs to another account", store.ErrExists, fp)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlite store: look up signet %s: %w", fp, err)
		}
		if err := accountExists(tx, address); err != nil {
			return err
		}
		err = tx.queryRow(`INSERT INTO signets (address, seq, fingerprint, signet, added)
			SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ? FROM signets WHERE address = ?
			RETURNING seq`, address, fp[:], encoded, sqlrow.Nanos(added), address).Scan(&seq)
		if err != nil {
			return fmt.Errorf("sqlite store: append signet of %s: %w", address, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

func (g signets) Current(ctx context.Context, address string) (store.SignetRecord, error) {
	var r store.SignetRecord
	if err := store.CheckAddress(address); err != nil {
		return r, err
	}
	err := g.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = sqlrow.ScanSignet(tx.QueryRowContext(ctx, `SELECT `+sqlrow.SignetColumns+` FROM signets
			WHERE address = ? ORDER BY seq DESC LIMIT 1`, address))
		if err != nil {
			return noRows(err, "signet of %s", address)
		}
		return nil
	})
	return r, err
}

func (g signets) ByFingerprint(ctx context.Context, fp signet.Fingerprint) (store.SignetRecord, error) {
	var r store.SignetRecord
	err := g.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = sqlrow.ScanSignet(tx.QueryRowContext(ctx, `SELECT `+sqlrow.SignetColumns+` FROM signets WHERE fingerprint = ?`, fp[:]))
		if err != nil {
			return noRows(err, "signet %s", fp)
		}
		return nil
	})
	return r, err
}

func (g signets) History(ctx context.Context, address string, start, stop signet.Fingerprint, limit int) ([]store.SignetRecord, error) {
	if err := store.CheckAddress(address); err != nil {
		return nil, err
	}
	limit, err := store.Limit(limit, store.MaxHistory)
	if err != nil {
		return nil, err
	}
	var list []store.SignetRecord
	err = g.s.read(ctx, func(tx *sql.Tx) error {
		from, to := int64(1), int64(0)
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM signets WHERE address = ?`, address).Scan(&to); err != nil {
			return fmt.Errorf("sqlite store: history of %s: %w", address, err)
		}
		if to == 0 {
			return fmt.Errorf("%w: no signets for %s", store.ErrNotFound, address)
		}
		for _, end := range []struct {
			fp  signet.Fingerprint
			seq *int64
		}{{start, &from}, {stop, &to}} {
			if end.fp.IsZero() {
				continue
			}
			err := tx.QueryRowContext(ctx, `SELECT seq FROM signets WHERE address = ? AND fingerprint = ?`, address, end.fp[:]).Scan(end.seq)
			if err != nil {
				return noRows(err, "signet %s in the chain of %s", end.fp, address)
			}
		}
		if from > to {
			return fmt.Errorf("%w: history of %s: start (#%d) comes after stop (#%d)", store.ErrInvalid, address, from, to)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+sqlrow.SignetColumns+` FROM signets
			WHERE address = ? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?`, address, from, to, limit)
		if err != nil {
			return fmt.Errorf("sqlite store: history of %s: %w", address, err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := sqlrow.ScanSignet(rows)
			if err != nil {
				return fmt.Errorf("sqlite store: history of %s: %w", address, err)
			}
			list = append(list, r)
		}
		return rows.Err()
	})
	return list, err
}
