package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type remotes struct{ s *Store }

func (r remotes) Put(ctx context.Context, rs store.RemoteSignet) error {
	if err := store.CheckRemoteSignet(rs); err != nil {
		return err
	}
	return r.s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO remote_signets (domain, signet, fetched, expires) VALUES ($1, $2, $3, $4)
			ON CONFLICT (domain) DO UPDATE SET signet = excluded.signet, fetched = excluded.fetched, expires = excluded.expires`,
			rs.Domain, rs.Signet, sqlrow.Nanos(rs.Fetched), sqlrow.Nanos(rs.Expires))
		if err != nil {
			return fmt.Errorf("postgres store: cache signet of %s: %w", rs.Domain, err)
		}
		return nil
	})
}

func (r remotes) Get(ctx context.Context, domain string) (store.RemoteSignet, error) {
	var rs store.RemoteSignet
	if err := store.CheckDomain(domain); err != nil {
		return rs, err
	}
	var fetched, expires int64
	err := r.s.row(ctx, `SELECT domain, signet, fetched, expires FROM remote_signets WHERE domain = $1`, domain).Scan(&rs.Domain, &rs.Signet, &fetched, &expires)
	if err != nil {
		return store.RemoteSignet{}, noRows(err, "cached signet of %s", domain)
	}
	rs.Fetched, rs.Expires = sqlrow.FromNanos(fetched), sqlrow.FromNanos(expires)
	return rs, nil
}

func (r remotes) Purge(ctx context.Context, now time.Time) (int, error) {
	return r.s.purge(ctx, now, "signet cache", `DELETE FROM remote_signets WHERE expires <= $1`)
}

// purge runs a DELETE of what expired at or before now ($1) and returns
// how many rows it removed; more statements may follow in the same
// transaction.
func (s *Store) purge(ctx context.Context, now time.Time, what, query string, more ...string) (int, error) {
	if err := store.CheckTime("now", now); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, sqlrow.Nanos(now))
		if err != nil {
			return fmt.Errorf("postgres store: purge %s: %w", what, err)
		}
		n = tag.RowsAffected()
		for _, q := range more {
			if _, err := tx.Exec(ctx, q, sqlrow.Nanos(now)); err != nil {
				return fmt.Errorf("postgres store: purge %s: %w", what, err)
			}
		}
		return nil
	})
	return int(n), err
}
