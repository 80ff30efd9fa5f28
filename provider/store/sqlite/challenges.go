package sqlite

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type challenges struct{ s *Store }

func (v challenges) Put(ctx context.Context, c store.Challenge) error {
	if err := store.CheckChallenge(c); err != nil {
		return err
	}
	var key any // NULL when the challenge names no key
	if c.Key != nil {
		key = []byte(c.Key)
	}
	return v.s.w.do(ctx, func(tx *wtx) error {
		dup, err := exists(tx, `SELECT 1 FROM challenges WHERE value = ?`, c.Value[:])
		if err != nil {
			return fmt.Errorf("sqlite store: look up challenge: %w", err)
		}
		if dup {
			return fmt.Errorf("%w: challenge %x", store.ErrExists, c.Value[:8])
		}
		_, err = tx.exec(`INSERT INTO challenges (value, purpose, address, key, expires) VALUES (?, ?, ?, ?, ?)`,
			c.Value[:], c.Purpose, c.Address, key, sqlrow.Nanos(c.Expires))
		if err != nil {
			return fmt.Errorf("sqlite store: put challenge for %s: %w", c.Address, err)
		}
		return nil
	})
}

// Take deletes and reads the row in one statement in the writer, which
// runs one request at a time: of two Takes of one value, the second finds
// nothing (docs/spec/store.md §10).
func (v challenges) Take(ctx context.Context, value [32]byte) (store.Challenge, error) {
	c := store.Challenge{Value: value}
	err := v.s.w.do(ctx, func(tx *wtx) error {
		var key []byte
		var expires int64
		err := tx.queryRow(`DELETE FROM challenges WHERE value = ? RETURNING purpose, address, key, expires`, value[:]).
			Scan(&c.Purpose, &c.Address, &key, &expires)
		if err != nil {
			return noRows(err, "challenge %x", value[:8])
		}
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
	if err := store.CheckTime("now", now); err != nil {
		return 0, err
	}
	var n int64
	err := v.s.w.do(ctx, func(tx *wtx) error {
		var err error
		n, err = tx.exec(`DELETE FROM challenges WHERE expires <= ?`, sqlrow.Nanos(now))
		if err != nil {
			return fmt.Errorf("sqlite store: purge challenges: %w", err)
		}
		return nil
	})
	return int(n), err
}
