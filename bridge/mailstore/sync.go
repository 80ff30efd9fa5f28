package mailstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// Cursor returns the position of the provider's change feed the sync
// engine has applied up to (0 for a new store).
func (s *Store) Cursor(ctx context.Context) (int64, error) {
	var v int64
	err := s.read(ctx, func(c *conn) (err error) {
		v, err = c.int64Row(`SELECT value FROM counter WHERE name = 'cursor'`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mailstore: cursor: %w", err)
	}
	return v, nil
}

// SetCursor records the change-feed position.
func (s *Store) SetCursor(ctx context.Context, since int64) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) { return nil, setCursor(c, since) })
	if err != nil {
		return fmt.Errorf("mailstore: set cursor: %w", err)
	}
	return nil
}

func setCursor(c *conn, since int64) error {
	_, err := c.exec(`UPDATE counter SET value = ? WHERE name = 'cursor'`, since)
	return err
}

// Revisions returns the recorded revision of each of ids that has a
// record: which documents of a feed page are applied already, in one read
// rather than one per document.
func (s *Store) Revisions(ctx context.Context, ids []string) (map[string]int64, error) {
	revs := make(map[string]int64)
	err := s.read(ctx, func(c *conn) error {
		for _, id := range ids {
			err := c.queryRow(`SELECT revision FROM doc WHERE id = ?`, func(st *sqlite3.Stmt) error {
				revs[id] = st.ColumnInt64(0)
				return nil
			}, id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: revisions of %d documents: %w", len(ids), err)
	}
	return revs, nil
}

func putDoc(c *conn, d Doc) error {
	_, err := c.exec(`INSERT INTO doc(id, kind, revision, key) VALUES (?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, revision = excluded.revision, key = excluded.key`,
		d.ID, d.Kind, d.Revision, d.Key)
	return err
}

func scanDoc(s *sqlite3.Stmt) Doc {
	return Doc{ID: s.ColumnText(0), Kind: s.ColumnText(1), Revision: s.ColumnInt64(2), Key: s.ColumnText(3)}
}

// PutDoc creates or replaces the record of a provider document.
func (s *Store) PutDoc(ctx context.Context, d Doc) error {
	if d.ID == "" {
		return fmt.Errorf("%w: document without id", ErrInvalid)
	}
	err := s.write(ctx, func(c *conn) ([]Event, error) { return nil, putDoc(c, d) })
	if err != nil {
		return fmt.Errorf("mailstore: put document %q: %w", d.ID, err)
	}
	return nil
}

// DocsOfKey lists the documents of a message key, by id.
func (s *Store) DocsOfKey(ctx context.Context, key string) ([]Doc, error) {
	var out []Doc
	err := s.read(ctx, func(c *conn) error {
		if key == "" {
			return nil // "" is "no message", not a key
		}
		return c.query(`SELECT id, kind, revision, key FROM doc WHERE key = ? ORDER BY id`, func(st *sqlite3.Stmt) error {
			out = append(out, scanDoc(st))
			return nil
		}, key)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: documents of %q: %w", key, err)
	}
	return out, nil
}

// Pending lists up to limit (all if limit <= 0) messages with local
// changes not yet pushed, oldest change first, tombstones included.
func (s *Store) Pending(ctx context.Context, limit int) ([]Pending, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var out []Pending
	err := s.read(ctx, func(c *conn) error {
		return c.query(`SELECT m.key, b.name, m.flags, m.mailbox_id IS NULL, m.content_id, m.change
				FROM message m LEFT JOIN mailbox b ON b.id = m.mailbox_id
				WHERE m.change > m.pushed ORDER BY m.change, m.id LIMIT ?`,
			func(st *sqlite3.Stmt) error {
				out = append(out, Pending{
					Key: st.ColumnText(0), Mailbox: st.ColumnText(1), Flags: splitFlags(st.ColumnText(2)),
					Expunged: st.ColumnBool(3), ContentID: st.ColumnInt64(4), Change: st.ColumnInt64(5),
				})
				return nil
			}, limit)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: pending: %w", err)
	}
	return out, nil
}

// Pushed records that the state of the message key as of change is at the
// provider. If no later local change happened, the message stops being
// pending, its current state becomes the agreed one (SyncedMailbox,
// SyncedFlags: the provider now holds it) and a tombstone is deleted. A
// later change keeps it pending. An unknown key is not an error: a
// remote deletion may have removed it meanwhile.
func (s *Store) Pushed(ctx context.Context, key string, change int64) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) { return nil, pushed(c, key, change) })
	if err != nil {
		return fmt.Errorf("mailstore: pushed %q: %w", key, err)
	}
	return nil
}

func pushed(c *conn, key string, change int64) error {
	if _, err := c.exec(`DELETE FROM message WHERE key = ? AND mailbox_id IS NULL AND change <= ?`, key, change); err != nil {
		return err
	}
	_, err := c.exec(`UPDATE message SET pushed = change, synced_flags = flags,
			synced_mailbox = (SELECT name FROM mailbox WHERE id = mailbox_id)
		WHERE key = ? AND change <= ? AND change > pushed`, key, change)
	return err
}

// MailboxesPending lists the mailbox names created, renamed (the old name
// as deleted, the new as created) or deleted locally and not yet pushed.
func (s *Store) MailboxesPending(ctx context.Context) ([]MailboxPending, error) {
	var out []MailboxPending
	err := s.read(ctx, func(c *conn) error {
		return c.query(`SELECT name, deleted, change FROM mailbox_pending ORDER BY change`, func(st *sqlite3.Stmt) error {
			out = append(out, MailboxPending{Name: st.ColumnText(0), Deleted: st.ColumnBool(1), Change: st.ColumnInt64(2)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: pending mailboxes: %w", err)
	}
	return out, nil
}

// MailboxPushed clears a pending mailbox name unless it changed after
// change.
func (s *Store) MailboxPushed(ctx context.Context, name string, change int64) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		_, err := c.exec(`DELETE FROM mailbox_pending WHERE name = ? AND change <= ?`, name, change)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: mailbox pushed %q: %w", name, err)
	}
	return nil
}
