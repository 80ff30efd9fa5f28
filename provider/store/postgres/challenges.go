package postgres

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type challenges struct{ s *Store }

func (v challenges) Put(ctx context.Context, c store.Challenge) error {
	if err := store.CheckChallenge(c); err != nil {
		return err
	}
	var key []byte // NULL when the challenge names no key
	if c.Key != nil {
		key = []byte(c.Key)
	}
	return v.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO challenges (value, purpose, address, key, expires) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (value) DO NOTHING`, c.Value[:], c.Purpose, c.Address, key, sqlrow.Nanos(c.Expires))
		if err != nil {
			return fmt.Errorf("postgres store: put challenge for %s: %w", c.Address, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: challenge %x", store.ErrExists, c.Value[:8])
		}
		return nil
	})
}

// Take deletes and reads the row in one statement: of two Takes of one
// value, on any nodes, the second waits for the first's row lock and
// then finds nothing (docs/spec/store.md §10).
func (v challenges) Take(ctx context.Context, value [32]byte) (store.Challenge, error) {
	c := store.Challenge{Value: value}
	err := v.s.write(ctx, func(tx pgx.Tx) error {
		var key []byte
		var expires int64
		err := tx.QueryRow(ctx, `DELETE FROM challenges WHERE value = $1 RETURNING purpose, address, key, expires`, value[:]).
			Scan(&c.Purpose, &c.Address, &key, &expires)
		if err != nil {
			return noRows(err, "challenge %x", value[:8])
		}
		c.Key = nil
		if key != nil {
			c.Key = ed25519.PublicKey(key)
		}
		c.Expires = sqlrow.FromNanos(expires)
		return nil
	})
	if err != nil {
		return store.Challenge{}, err
	}
	return c, nil
}

func (v challenges) Purge(ctx context.Context, now time.Time) (int, error) {
	return v.s.purge(ctx, now, "challenges", `DELETE FROM challenges WHERE expires <= $1`)
}
