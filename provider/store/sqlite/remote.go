package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type remotes struct{ s *Store }

func (r remotes) Put(ctx context.Context, rs store.RemoteSignet) error {
	if err := store.CheckRemoteSignet(rs); err != nil {
		return err
	}
	return r.s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO remote_signets (domain, signet, fetched, expires) VALUES (?, ?, ?, ?)
			ON CONFLICT (domain) DO UPDATE SET signet = excluded.signet, fetched = excluded.fetched, expires = excluded.expires`,
			rs.Domain, rs.Signet, sqlrow.Nanos(rs.Fetched), sqlrow.Nanos(rs.Expires))
		if err != nil {
			return fmt.Errorf("sqlite store: cache signet of %s: %w", rs.Domain, err)
		}
		return nil
	})
}

func (r remotes) Get(ctx context.Context, domain string) (store.RemoteSignet, error) {
	var rs store.RemoteSignet
	if err := store.CheckDomain(domain); err != nil {
		return rs, err
	}
	err := r.s.read(ctx, func(tx *sql.Tx) error {
		var fetched, expires int64
		err := tx.QueryRowContext(ctx, `SELECT domain, signet, fetched, expires FROM remote_signets WHERE domain = ?`, domain).
			Scan(&rs.Domain, &rs.Signet, &fetched, &expires)
		if err != nil {
			return noRows(err, "cached signet of %s", domain)
		}
		rs.Fetched, rs.Expires = sqlrow.FromNanos(fetched), sqlrow.FromNanos(expires)
		return nil
	})
	return rs, err
}

func (r remotes) Purge(ctx context.Context, now time.Time) (int, error) {
	if err := store.CheckTime("now", now); err != nil {
		return 0, err
	}
	var n int64
	err := r.s.w.do(ctx, func(tx *wtx) error {
		var err error
		n, err = tx.exec(`DELETE FROM remote_signets WHERE expires <= ?`, sqlrow.Nanos(now))
		if err != nil {
			return fmt.Errorf("sqlite store: purge signet cache: %w", err)
		}
		return nil
	})
	return int(n), err
}
