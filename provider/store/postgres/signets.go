package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	err := g.s.write(ctx, func(tx pgx.Tx) error {
		found, err := signetOwner(ctx, tx, address, fp, &seq)
		if found || err != nil {
			return err
		}
		// The account's row lock orders appends to one chain; then look
		// again, for an append of this signet that committed meanwhile.
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE address = $1 FOR NO KEY UPDATE`, address).Scan(new(int)); err != nil {
			return noRows(err, "account %s", address)
		}
		if found, err := signetOwner(ctx, tx, address, fp, &seq); found || err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO signets (address, seq, fingerprint, signet, added)
			SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM signets WHERE address = $1
			RETURNING seq`, address, fp[:], encoded, sqlrow.Nanos(added)).Scan(&seq)
		if isUnique(err) { // appended to another chain meanwhile
			return fmt.Errorf("%w: signet %s belongs to another account", store.ErrExists, fp)
		}
		if err != nil {
			return fmt.Errorf("postgres store: append signet of %s: %w", address, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// signetOwner looks fp up: found with *seq set if it is in address's
// chain already (Append is then idempotent), ErrExists if it is in
// another's.
func signetOwner(ctx context.Context, tx pgx.Tx, address string, fp signet.Fingerprint, seq *int64) (found bool, err error) {
	var owner string
	err = tx.QueryRow(ctx, `SELECT address, seq FROM signets WHERE fingerprint = $1`, fp[:]).Scan(&owner, seq)
	switch {
	case err == nil && owner == address:
		return true, nil
	case err == nil:
		return false, fmt.Errorf("%w: signet %s belongs to another account", store.ErrExists, fp)
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	}
	return false, fmt.Errorf("postgres store: look up signet %s: %w", fp, err)
}

func (g signets) Current(ctx context.Context, address string) (store.SignetRecord, error) {
	if err := store.CheckAddress(address); err != nil {
		return store.SignetRecord{}, err
	}
	return g.one(ctx, `SELECT `+sqlrow.SignetColumns+` FROM signets WHERE address = $1 ORDER BY seq DESC LIMIT 1`,
		address, "signet of %s", address)
}

func (g signets) ByFingerprint(ctx context.Context, fp signet.Fingerprint) (store.SignetRecord, error) {
	return g.one(ctx, `SELECT `+sqlrow.SignetColumns+` FROM signets WHERE fingerprint = $1`, fp[:], "signet %s", fp)
}

// one reads the signet query returns for arg; what and whatArg name it in
// errors.
func (g signets) one(ctx context.Context, query string, arg any, what string, whatArg any) (store.SignetRecord, error) {
	r, err := sqlrow.ScanSignet(g.s.row(ctx, query, arg))
	if err != nil {
		return store.SignetRecord{}, noRows(err, what, whatArg)
	}
	return r, nil
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
	err = g.s.read(ctx, func(tx pgx.Tx) error {
		from, to := int64(1), int64(0)
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM signets WHERE address = $1`, address).Scan(&to); err != nil {
			return fmt.Errorf("postgres store: history of %s: %w", address, err)
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
			err := tx.QueryRow(ctx, `SELECT seq FROM signets WHERE address = $1 AND fingerprint = $2`, address, end.fp[:]).Scan(end.seq)
			if err != nil {
				return noRows(err, "signet %s in the chain of %s", end.fp, address)
			}
		}
		if from > to {
			return fmt.Errorf("%w: history of %s: start (#%d) comes after stop (#%d)", store.ErrInvalid, address, from, to)
		}
		rows, err := tx.Query(ctx, `SELECT `+sqlrow.SignetColumns+` FROM signets
			WHERE address = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq LIMIT $4`, address, from, to, limit)
		if err != nil {
			return fmt.Errorf("postgres store: history of %s: %w", address, err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := sqlrow.ScanSignet(rows)
			if err != nil {
				return fmt.Errorf("postgres store: history of %s: %w", address, err)
			}
			list = append(list, r)
		}
		return rows.Err()
	})
	return list, err
}
