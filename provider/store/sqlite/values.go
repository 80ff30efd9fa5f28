package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"umbra/provider/store"
)

// nullBlob binds b as NULL when it is nil.
func nullBlob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// noRows turns sql.ErrNoRows into store.ErrNotFound with context and
// wraps any other error.
func noRows(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return fmt.Errorf("sqlite store: %s: %w", what, err)
}

// exists reports whether query returns a row.
func exists(tx *wtx, query string, args ...any) (bool, error) {
	var one int
	err := tx.queryRow(query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// accountExists returns ErrNotFound unless address has an account.
func accountExists(tx *wtx, address string) error {
	ok, err := exists(tx, `SELECT 1 FROM accounts WHERE address = ?`, address)
	if err != nil {
		return fmt.Errorf("sqlite store: look up account %s: %w", address, err)
	}
	if !ok {
		return fmt.Errorf("%w: account %s", store.ErrNotFound, address)
	}
	return nil
}
