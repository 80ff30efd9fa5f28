package mailstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// mailboxColumns and scanMailbox read a Mailbox with its counts, which
// are computed rather than stored so they can never drift.
const mailboxColumns = `b.id, b.name, b.special_use, b.uidvalidity, b.uidnext,
	EXISTS (SELECT 1 FROM subscription s WHERE s.name = b.name),
	(SELECT count(*) FROM message m WHERE m.mailbox_id = b.id),
	(SELECT count(*) FROM message m WHERE m.mailbox_id = b.id AND instr(' ' || m.flags || ' ', ' \Seen ') = 0),
	(SELECT total(m.size) FROM message m WHERE m.mailbox_id = b.id), b.highest_modseq`

func scanMailbox(s *sqlite3.Stmt) Mailbox {
	return Mailbox{
		ID:            s.ColumnInt64(0),
		Name:          s.ColumnText(1),
		SpecialUse:    s.ColumnText(2),
		UIDValidity:   uint32(s.ColumnInt64(3)),
		UIDNext:       uint32(s.ColumnInt64(4)),
		Subscribed:    s.ColumnBool(5),
		Messages:      uint32(s.ColumnInt64(6)),
		Unseen:        uint32(s.ColumnInt64(7)),
		Size:          s.ColumnInt64(8),
		HighestModSeq: uint64(s.ColumnInt64(9)),
	}
}

// Mailboxes lists every mailbox, INBOX first, then by name.
func (s *Store) Mailboxes(ctx context.Context) ([]Mailbox, error) {
	var out []Mailbox
	err := s.read(ctx, func(c *conn) error {
		return c.query(`SELECT `+mailboxColumns+` FROM mailbox b ORDER BY b.name <> 'INBOX', b.name`,
			func(st *sqlite3.Stmt) error {
				out = append(out, scanMailbox(st))
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: list mailboxes: %w", err)
	}
	return out, nil
}

// Mailbox returns the mailbox called name (INBOX in any case).
func (s *Store) Mailbox(ctx context.Context, name string) (Mailbox, error) {
	return s.mailbox(ctx, name, mailboxByName)
}

// MailboxRef returns the mailbox called name as it is stored, without
// Subscribed and the counts Mailbox adds up over its messages, which take
// milliseconds in a mailbox of thousands: what SELECT, APPEND, COPY and
// MOVE need.
func (s *Store) MailboxRef(ctx context.Context, name string) (Mailbox, error) {
	return s.mailbox(ctx, name, mailboxRef)
}

func (s *Store) mailbox(ctx context.Context, name string, by func(*conn, string) (Mailbox, error)) (Mailbox, error) {
	name, err := canonicalName(name)
	if err != nil {
		return Mailbox{}, err
	}
	var m Mailbox
	err = s.read(ctx, func(c *conn) error {
		m, err = by(c, name)
		return err
	})
	if err != nil {
		return Mailbox{}, fmt.Errorf("mailstore: mailbox %q: %w", name, err)
	}
	return m, nil
}

func mailboxByName(c *conn, name string) (Mailbox, error) {
	var m Mailbox
	err := c.queryRow(`SELECT `+mailboxColumns+` FROM mailbox b WHERE b.name = ?`, func(s *sqlite3.Stmt) error {
		m = scanMailbox(s)
		return nil
	}, name)
	return m, err
}

// mailboxRef finds a mailbox's row only, without Subscribed and the
// counts mailboxByName adds up over its messages: what writes need.
func mailboxRef(c *conn, name string) (Mailbox, error) {
	var m Mailbox
	err := c.queryRow(`SELECT id, name, special_use, uidvalidity, uidnext, highest_modseq FROM mailbox WHERE name = ?`, func(s *sqlite3.Stmt) error {
		m = Mailbox{ID: s.ColumnInt64(0), Name: s.ColumnText(1), SpecialUse: s.ColumnText(2),
			UIDValidity: uint32(s.ColumnInt64(3)), UIDNext: uint32(s.ColumnInt64(4)), HighestModSeq: uint64(s.ColumnInt64(5))}
		return nil
	}, name)
	return m, err
}

// insertMailbox creates a mailbox with a fresh UIDVALIDITY.
func insertMailbox(c *conn, name, specialUse string) (int64, error) {
	// The counter wraps before 2^32 and skips 0: UIDVALIDITY is a nonzero
	// 32-bit number (RFC 9051 §2.3.1.1).
	v, err := c.int64Row(`UPDATE counter SET value = CASE WHEN value >= 4294967295 THEN 1 ELSE value + 1 END
		WHERE name = 'uidvalidity' RETURNING value`)
	if err != nil {
		return 0, err
	}
	return c.int64Row(`INSERT INTO mailbox(name, special_use, uidvalidity) VALUES (?, ?, ?) RETURNING id`, name, specialUse, v)
}

// markMailboxPending records a local change to a mailbox name for
// MailboxesPending.
func markMailboxPending(c *conn, name string, deleted bool) error {
	change, err := next(c, "change")
	if err != nil {
		return err
	}
	_, err = c.exec(`INSERT INTO mailbox_pending(name, deleted, change) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET deleted = excluded.deleted, change = excluded.change`, name, deleted, change)
	return err
}

// createMissing creates those of names that do not exist.
func createMissing(c *conn, names []string, origin Origin) ([]Event, error) {
	var events []Event
	for _, n := range names {
		exists, err := c.int64Row(`SELECT count(*) FROM mailbox WHERE name = ?`, n)
		if err != nil {
			return nil, err
		}
		if exists > 0 {
			continue
		}
		id, err := insertMailbox(c, n, "")
		if err != nil {
			return nil, err
		}
		if origin == Local {
			if err := markMailboxPending(c, n, false); err != nil {
				return nil, err
			}
		} else if err := subscribe(c, n, true); err != nil {
			// Another device's new folder shows in this device's mail
			// clients, most of which list subscribed folders only. A
			// client's own CREATE subscribes nothing (RFC 3501 §6.3.3).
			return nil, err
		}
		events = append(events, Event{Kind: MailboxesChanged, MailboxID: id, Origin: origin})
	}
	return events, nil
}

// CreateMailbox creates a mailbox, and its missing superiors, as RFC 9051
// §6.3.4 advises ("a/b/c" creates "a" and "a/b" too). It returns the
// mailbox name names. An existing name is ErrExists.
func (s *Store) CreateMailbox(ctx context.Context, name string, origin Origin) (Mailbox, error) {
	name, err := canonicalName(name)
	if err != nil {
		return Mailbox{}, err
	}
	var m Mailbox
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		if _, err := mailboxByName(c, name); err == nil {
			return nil, ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		events, err := createMissing(c, append(parents(name), name), origin)
		if err != nil {
			return nil, err
		}
		m, err = mailboxByName(c, name)
		return events, err
	})
	if err != nil {
		return Mailbox{}, fmt.Errorf("mailstore: create mailbox %q: %w", name, err)
	}
	return m, nil
}

// DeleteMailbox deletes a mailbox and expunges its messages (as Expunge
// with the same origin: Local leaves tombstones for the sync engine to
// push). INBOX cannot be deleted (RFC 9051 §6.3.5). Its inferiors stay.
func (s *Store) DeleteMailbox(ctx context.Context, name string, origin Origin) error {
	name, err := canonicalName(name)
	if err != nil {
		return err
	}
	if name == Inbox {
		return fmt.Errorf("%w: INBOX cannot be deleted", ErrInvalid)
	}
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		m, err := mailboxByName(c, name)
		if err != nil {
			return nil, err
		}
		var ids []int64
		err = c.query(`SELECT id FROM message WHERE mailbox_id = ? ORDER BY uid`, func(st *sqlite3.Stmt) error {
			ids = append(ids, st.ColumnInt64(0))
			return nil
		}, m.ID)
		if err != nil {
			return nil, err
		}
		var events []Event
		for _, id := range ids {
			ev, err := expunge(c, id, origin)
			if err != nil {
				return nil, err
			}
			events = append(events, ev)
		}
		if _, err := c.exec(`DELETE FROM mailbox WHERE id = ?`, m.ID); err != nil {
			return nil, err
		}
		if _, err := c.exec(`DELETE FROM vanished WHERE mailbox_id = ?`, m.ID); err != nil {
			return nil, err
		}
		if origin == Local {
			if err := markMailboxPending(c, name, true); err != nil {
				return nil, err
			}
		}
		return append(events, Event{Kind: MailboxesChanged, MailboxID: m.ID, Origin: origin}), nil
	})
	if err != nil {
		return fmt.Errorf("mailstore: delete mailbox %q: %w", name, err)
	}
	return nil
}

// RenameMailbox renames a mailbox and its inferiors (RFC 9051 §6.3.6),
// keeping their UIDVALIDITY, UIDs and special use, and creates missing
// superiors of the new name. INBOX cannot be
// renamed here (moving INBOX's messages is the IMAP server's business).
// Local marks each old name deleted and each new name created for
// MailboxesPending, and every message inside pending, since its mailbox
// name changed; Remote moves the messages' agreed mailbox along.
func (s *Store) RenameMailbox(ctx context.Context, oldName, newName string, origin Origin) error {
	oldName, err := canonicalName(oldName)
	if err != nil {
		return err
	}
	newName, err = canonicalName(newName)
	if err != nil {
		return err
	}
	switch {
	case oldName == Inbox:
		return fmt.Errorf("%w: INBOX cannot be renamed", ErrInvalid)
	case newName == oldName || strings.HasPrefix(newName, oldName+Delimiter):
		return fmt.Errorf("%w: cannot rename %q to %q, inside itself", ErrInvalid, oldName, newName)
	}
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		type renamed struct {
			id       int64
			from, to string
		}
		var list []renamed
		err := c.query(`SELECT id, name FROM mailbox WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/' ORDER BY name`,
			func(st *sqlite3.Stmt) error {
				from := st.ColumnText(1)
				list = append(list, renamed{st.ColumnInt64(0), from, newName + from[len(oldName):]})
				return nil
			}, oldName)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 || list[0].from != oldName {
			return nil, ErrNotFound
		}
		for _, r := range list {
			if _, err := canonicalName(r.to); err != nil {
				return nil, err // too long
			}
			if n, err := c.int64Row(`SELECT count(*) FROM mailbox WHERE name = ?`, r.to); err != nil {
				return nil, err
			} else if n > 0 {
				return nil, fmt.Errorf("%w: %q", ErrExists, r.to)
			}
		}
		// RFC 9051 §6.3.6: superiors of the new name are created as needed.
		events, err := createMissing(c, parents(newName), origin)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			if _, err := c.exec(`UPDATE mailbox SET name = ? WHERE id = ?`, r.to, r.id); err != nil {
				return nil, err
			}
			if origin == Local {
				if err := markMailboxPending(c, r.from, true); err != nil {
					return nil, err
				}
				if err := markMailboxPending(c, r.to, false); err != nil {
					return nil, err
				}
				if err := markPending(c, "mailbox_id", r.id); err != nil {
					return nil, err
				}
			} else if _, err := c.exec(`UPDATE message SET synced_mailbox = ? WHERE mailbox_id = ? AND synced_mailbox = ?`, r.to, r.id, r.from); err != nil {
				return nil, err
			} else if _, err := c.exec(`UPDATE OR IGNORE subscription SET name = ? WHERE name = ?`, r.to, r.from); err != nil {
				// Renamed on another device: this device's subscription
				// follows, as the client here did not choose the new name.
				return nil, err
			}
			events = append(events, Event{Kind: MailboxesChanged, MailboxID: r.id, Origin: origin})
		}
		return events, nil
	})
	if err != nil {
		return fmt.Errorf("mailstore: rename mailbox %q to %q: %w", oldName, newName, err)
	}
	return nil
}

// SetSubscribed subscribes or unsubscribes name (RFC 9051 §6.3.7,
// §6.3.8). Subscriptions are apart from mailboxes: a name needs no
// mailbox, and creating, deleting or renaming a mailbox from this device
// leaves them as they are (RFC 3501 §6.3.6). It is this device's
// preference only: never pending.
func (s *Store) SetSubscribed(ctx context.Context, name string, on bool) error {
	name, err := canonicalName(name)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		if err := subscribe(c, name, on); err != nil {
			return nil, err
		}
		id, err := c.int64Row(`SELECT id FROM mailbox WHERE name = ?`, name)
		if errors.Is(err, ErrNotFound) {
			id, err = 0, nil
		}
		return []Event{{Kind: MailboxesChanged, MailboxID: id, Origin: Local}}, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: subscribe %q: %w", name, err)
	}
	return nil
}

func subscribe(c *conn, name string, on bool) error {
	q := `INSERT OR IGNORE INTO subscription(name) VALUES (?)`
	if !on {
		q = `DELETE FROM subscription WHERE name = ?`
	}
	_, err := c.exec(q, name)
	return err
}

// Subscriptions lists the subscribed names, mailboxes or not, sorted.
func (s *Store) Subscriptions(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(c *conn) error {
		return c.query(`SELECT name FROM subscription ORDER BY name`, func(st *sqlite3.Stmt) error {
			out = append(out, st.ColumnText(0))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: subscriptions: %w", err)
	}
	return out, nil
}
