package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
)

// Times are stored as BIGINT nanoseconds since the Unix epoch, as in the
// SQLite store; 0 stands for the zero time.Time ("none").
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// noRows turns pgx.ErrNoRows into store.ErrNotFound with context and
// wraps any other error.
func noRows(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return fmt.Errorf("postgres store: %s: %w", what, err)
}

// exists reports whether query returns a row.
func exists(ctx context.Context, tx pgx.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

type scanner interface{ Scan(dest ...any) error }

// notNull binds b as an empty BYTEA when it is nil (pgx sends nil as NULL).
func notNull(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
