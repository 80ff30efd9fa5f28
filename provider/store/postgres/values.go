package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
)

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

// notNull binds b as an empty BYTEA when it is nil (pgx sends nil as NULL).
func notNull(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
