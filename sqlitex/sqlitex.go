// Package sqlitex is the statement cache both of Umbra's SQLite stores
// (provider/store/sqlite, bridge/mailstore) run their queries through:
// statements prepared once per connection and kept (PREPARE_PERSISTENT),
// arguments bound by Go type; and the creation of their files, owner-only.
//
// A Cache belongs to one connection and is used by one goroutine at a time,
// as the connection is.
package sqlitex

import (
	"errors"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// Cache holds a connection's prepared statements by query text.
type Cache struct {
	conn  *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
}

// New returns an empty cache for c.
func New(c *sqlite3.Conn) *Cache { return &Cache{conn: c, stmts: map[string]*sqlite3.Stmt{}} }

// Prepare returns the cached statement for query, reset, with args bound
// to its parameters in order: nil (NULL), int64, int, uint32, bool, string
// or []byte (nil is an empty BLOB; NULL is spelt nil).
func (k *Cache) Prepare(query string, args []any) (*sqlite3.Stmt, error) {
	s := k.stmts[query]
	if s == nil {
		var err error
		s, _, err = k.conn.PrepareFlags(query, sqlite3.PREPARE_PERSISTENT)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		k.stmts[query] = s
	}
	// A previous use may have stopped early; its error was reported then.
	_ = s.Reset()
	for i, a := range args {
		var err error
		switch v := a.(type) {
		case nil:
			err = s.BindNull(i + 1)
		case int64:
			err = s.BindInt64(i+1, v)
		case int:
			err = s.BindInt64(i+1, int64(v))
		case uint32:
			err = s.BindInt64(i+1, int64(v))
		case bool:
			err = s.BindBool(i+1, v)
		case string:
			err = s.BindText(i+1, v)
		case []byte:
			if v == nil {
				v = []byte{}
			}
			err = s.BindBlob(i+1, v)
		default:
			err = fmt.Errorf("cannot bind %T", a)
		}
		if err != nil {
			return nil, fmt.Errorf("bind parameter %d: %w", i+1, err)
		}
	}
	return s, nil
}

// Exec runs a statement that returns no rows and reports how many rows it
// inserted, updated or deleted.
func (k *Cache) Exec(query string, args ...any) (int64, error) {
	s, err := k.Prepare(query, args)
	if err != nil {
		return 0, err
	}
	if err := s.Exec(); err != nil {
		return 0, err
	}
	return k.conn.Changes(), nil
}

// Close finalises the statements; the connection stays open.
func (k *Cache) Close() error {
	var errs []error
	for _, s := range k.stmts {
		errs = append(errs, s.Close())
	}
	k.stmts = map[string]*sqlite3.Stmt{}
	return errors.Join(errs...)
}
