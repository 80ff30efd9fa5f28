package mailstore

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// MaxStateSize bounds one state value.
const MaxStateSize = 64 << 10

// GetState returns the value stored under name; an unknown name is
// ErrNotFound.
func (s *Store) GetState(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.read(ctx, func(c *conn) error {
		return c.queryRow(`SELECT value FROM state WHERE name = ?`, func(st *sqlite3.Stmt) error {
			v = st.ColumnBlob(0, []byte{})
			return nil
		}, name)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: state %q: %w", name, err)
	}
	return v, nil
}

// SetState stores a small value (at most MaxStateSize bytes: status,
// certificates, pins) under name, replacing any earlier one.
func (s *Store) SetState(ctx context.Context, name string, value []byte) error {
	if name == "" || len(value) > MaxStateSize {
		return fmt.Errorf("%w: state %q of %d bytes (a name and at most %d bytes)", ErrInvalid, name, len(value), MaxStateSize)
	}
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		_, err := c.exec(`INSERT INTO state(name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: set state %q: %w", name, err)
	}
	return nil
}

// StateNames returns, in byte order, the names of the states that begin
// with prefix.
func (s *Store) StateNames(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := s.read(ctx, func(c *conn) error {
		names = names[:0]
		return c.query(`SELECT name FROM state WHERE substr(name, 1, ?) = ? ORDER BY name`, func(st *sqlite3.Stmt) error {
			names = append(names, st.ColumnText(0))
			return nil
		}, len(prefix), prefix)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: states %q: %w", prefix, err)
	}
	return names, nil
}

// DeleteState removes the value stored under name, if any.
func (s *Store) DeleteState(ctx context.Context, name string) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		_, err := c.exec(`DELETE FROM state WHERE name = ?`, name)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: delete state %q: %w", name, err)
	}
	return nil
}
