package mailstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// markPending gives the messages whose column (id or mailbox_id) is
// value a new local change number: each is pending until Pushed with that
// number or a later one.
func markPending(c *conn, column string, value int64) error {
	change, err := next(c, "change")
	if err != nil {
		return err
	}
	_, err = c.exec(`UPDATE message SET change = ? WHERE `+column+` = ?`, change, value)
	return err
}

// SetFlags replaces the message's flags (canonicalised: see
// canonicalFlags). Local marks it pending if they changed; Remote makes
// them the agreed flags (SyncedFlags) and leaves a pending local change
// pending. FlagsChanged is reported only if the flags changed.
func (s *Store) SetFlags(ctx context.Context, id int64, flags []string, origin Origin) (Message, error) {
	flags, err := canonicalFlags(flags)
	if err != nil {
		return Message{}, err
	}
	m, err := s.changeFlags(ctx, id, origin, func(Message) ([]string, error) { return flags, nil })
	if err != nil {
		return Message{}, fmt.Errorf("mailstore: set flags of message %d: %w", id, err)
	}
	return m, nil
}

// FlagChange is a change of a message's flags for ChangeFlags.
type FlagChange struct {
	// Replace sets the flags to Add; otherwise Add is added and then
	// Remove removed (keywords compare case-insensitively).
	Replace     bool
	Add, Remove []string
	// UnchangedSince, if nonzero, makes the change conditional: a message
	// whose ModSeq is greater is left alone and ErrModified returned (RFC
	// 7162 §3.2 UNCHANGEDSINCE).
	UnchangedSince uint64
}

// ChangeFlags applies ch to the message's flags as one read-modify-write
// in the write transaction, so changes made at the same time by others
// are kept: what IMAP STORE +FLAGS and -FLAGS mean (RFC 9051 §6.4.6).
// Otherwise as SetFlags.
func (s *Store) ChangeFlags(ctx context.Context, id int64, ch FlagChange, origin Origin) (Message, error) {
	add, err := canonicalFlags(ch.Add)
	if err != nil {
		return Message{}, err
	}
	remove, err := canonicalFlags(ch.Remove)
	if err != nil {
		return Message{}, err
	}
	m, err := s.changeFlags(ctx, id, origin, func(old Message) ([]string, error) {
		if ch.UnchangedSince != 0 && old.ModSeq > ch.UnchangedSince {
			return nil, ErrModified
		}
		if ch.Replace {
			return add, nil
		}
		next := slices.DeleteFunc(append(slices.Clone(old.Flags), add...), func(f string) bool {
			return slices.ContainsFunc(remove, func(r string) bool { return strings.EqualFold(r, f) })
		})
		return canonicalFlags(next)
	})
	if err != nil {
		return Message{}, fmt.Errorf("mailstore: change flags of message %d: %w", id, err)
	}
	return m, nil
}

// changeFlags sets the flags of message id to what change makes of its
// current ones, inside one write transaction.
func (s *Store) changeFlags(ctx context.Context, id int64, origin Origin, change func(old Message) ([]string, error)) (Message, error) {
	var m Message
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		old, err := messageBy(c, `m.id = ?`, id)
		if err != nil {
			return nil, err
		}
		flags, err := change(old)
		if err != nil {
			return nil, err
		}
		changed := !slices.Equal(old.Flags, flags)
		if changed {
			modseq, err := nextModSeq(c, old.MailboxID)
			if err != nil {
				return nil, err
			}
			if _, err := c.exec(`UPDATE message SET flags = ?, modseq = ? WHERE id = ?`, joinFlags(flags), modseq, id); err != nil {
				return nil, err
			}
		}
		if origin == Remote {
			if _, err := c.exec(`UPDATE message SET synced_flags = ? WHERE id = ?`, joinFlags(flags), id); err != nil {
				return nil, err
			}
		} else if changed {
			if err := markPending(c, "id", id); err != nil {
				return nil, err
			}
		}
		if m, err = messageBy(c, `m.id = ?`, id); err != nil || !changed {
			return nil, err
		}
		return []Event{{Kind: FlagsChanged, MailboxID: m.MailboxID, UID: m.UID, Flags: m.Flags, ModSeq: m.ModSeq, Origin: origin}}, nil
	})
	return m, err
}

// Move moves a message to the mailbox dest: it gets dest's UIDNEXT as its
// new UID and is expunged from its old mailbox (RFC 6851 §3.3), keeping
// its id, key and content. Local marks it pending; Remote makes dest the
// agreed mailbox.
func (s *Store) Move(ctx context.Context, id int64, dest string, origin Origin) (Message, error) {
	dest, err := canonicalName(dest)
	if err != nil {
		return Message{}, err
	}
	var m Message
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		old, err := messageBy(c, `m.id = ?`, id)
		if err != nil {
			return nil, err
		}
		box, err := mailboxRef(c, dest)
		if err != nil {
			return nil, fmt.Errorf("mailbox %q: %w", dest, err)
		}
		uid, err := takeUID(c, box.ID)
		if err != nil {
			return nil, err
		}
		left, err := nextModSeq(c, old.MailboxID)
		if err != nil {
			return nil, err
		}
		if err := noteVanished(c, old.MailboxID, old.UID, left); err != nil {
			return nil, err
		}
		modseq, err := nextModSeq(c, box.ID)
		if err != nil {
			return nil, err
		}
		if _, err := c.exec(`UPDATE message SET mailbox_id = ?, uid = ?, modseq = ? WHERE id = ?`, box.ID, uid, modseq, id); err != nil {
			return nil, err
		}
		if origin == Remote {
			_, err = c.exec(`UPDATE message SET synced_mailbox = ? WHERE id = ?`, box.Name, id)
		} else {
			err = markPending(c, "id", id)
		}
		if err != nil {
			return nil, err
		}
		m, err = messageBy(c, `m.id = ?`, id)
		return []Event{
			{Kind: MessageExpunged, MailboxID: old.MailboxID, UID: old.UID, ModSeq: uint64(left), Origin: origin},
			{Kind: MessageAdded, MailboxID: m.MailboxID, UID: m.UID, Flags: m.Flags, ModSeq: m.ModSeq, Origin: origin},
		}, err
	})
	if err != nil {
		return Message{}, fmt.Errorf("mailstore: move message %d to %q: %w", id, dest, err)
	}
	return m, nil
}

// Copy copies a message to the mailbox dest as a new message with the
// sync key newKey (an existing key is ErrExists), the same flags, date
// and content (stored once), and dest's UIDNEXT as its UID (RFC 9051
// §6.4.7). Local marks the copy pending; Remote records it as agreed.
func (s *Store) Copy(ctx context.Context, id int64, dest, newKey string, origin Origin) (Message, error) {
	dest, err := canonicalName(dest)
	if err != nil {
		return Message{}, err
	}
	if newKey == "" || len(newKey) > maxKeyLen {
		return Message{}, fmt.Errorf("%w: key of %d bytes (1 to %d)", ErrInvalid, len(newKey), maxKeyLen)
	}
	var m Message
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		old, err := messageBy(c, `m.id = ?`, id)
		if err != nil {
			return nil, err
		}
		if _, err := c.int64Row(`SELECT id FROM message WHERE key = ?`, newKey); err == nil {
			return nil, fmt.Errorf("%w: key %q", ErrExists, newKey)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		box, err := mailboxRef(c, dest)
		if err != nil {
			return nil, fmt.Errorf("mailbox %q: %w", dest, err)
		}
		ev, newID, err := insertMessage(c, newRow{
			key: newKey, mailbox: box, contentID: old.ContentID, flags: old.Flags,
			date: old.InternalDate.UnixNano(), size: old.Size,
		}, origin)
		if err != nil {
			return nil, err
		}
		m, err = messageBy(c, `m.id = ?`, newID)
		return []Event{ev}, err
	})
	if err != nil {
		return Message{}, fmt.Errorf("mailstore: copy message %d to %q: %w", id, dest, err)
	}
	return m, nil
}

// Expunge removes a message from its mailbox. Local keeps a tombstone (in
// no mailbox, listed by Pending as Expunged) until Pushed; Remote removes
// it for good. Content no message uses any more is deleted. Either way its
// UID is kept with the expunge's mod-sequence (Vanished).
func (s *Store) Expunge(ctx context.Context, id int64, origin Origin) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		ev, err := expunge(c, id, origin)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	})
	if err != nil {
		return fmt.Errorf("mailstore: expunge message %d: %w", id, err)
	}
	return nil
}

func expunge(c *conn, id int64, origin Origin) (Event, error) {
	m, err := messageBy(c, `m.id = ?`, id)
	if err != nil {
		return Event{}, err
	}
	modseq, err := nextModSeq(c, m.MailboxID)
	if err != nil {
		return Event{}, err
	}
	if err := noteVanished(c, m.MailboxID, m.UID, modseq); err != nil {
		return Event{}, err
	}
	if origin == Local {
		_, err = c.exec(`UPDATE message SET mailbox_id = NULL, uid = NULL, content_id = NULL WHERE id = ?`, id)
		if err == nil {
			err = markPending(c, "id", id)
		}
	} else {
		_, err = c.exec(`DELETE FROM message WHERE id = ?`, id)
	}
	if err == nil {
		err = collectContent(c, m.ContentID)
	}
	return Event{Kind: MessageExpunged, MailboxID: m.MailboxID, UID: m.UID, ModSeq: uint64(modseq), Origin: origin, Key: m.Key, ContentID: m.ContentID}, err
}

// collectContent deletes a content row, and its index entry, once no
// message refers to it.
func collectContent(c *conn, contentID int64) error {
	n, err := c.int64Row(`SELECT count(*) FROM message WHERE content_id = ?`, contentID)
	if err != nil || n > 0 {
		return err
	}
	for _, q := range []string{`DELETE FROM search WHERE rowid = ?`, `DELETE FROM body_text WHERE id = ?`, `DELETE FROM body_search WHERE rowid = ?`, `DELETE FROM content_info WHERE id = ?`, `DELETE FROM temp.index_queue WHERE id = ?`} {
		if _, err := c.exec(q, contentID); err != nil {
			return err
		}
	}
	_, err = c.exec(`DELETE FROM content WHERE id = ?`, contentID)
	return err
}
