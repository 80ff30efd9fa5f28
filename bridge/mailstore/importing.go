package mailstore

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// This file serves `umbra import` and `umbra export` (issue 14), which
// write to and read from the store in a process of their own, possibly
// while the bridge runs.

// AddUnique queues nm as Add would, unless the mailbox already holds a
// message with the same bytes (SHA-256 of MIME), an earlier write of the
// same commit included: then the message is not added and dup, if not
// nil, is called during the commit. Content is what the digest covers, so
// two messages with the same bytes have the same Message-ID too.
func (b *Batch) AddUnique(nm NewMessage, origin Origin, dup func()) error {
	p, err := b.prepare(nm)
	if err != nil {
		return err
	}
	b.ops = append(b.ops, func(c *conn) ([]Event, error) {
		held, err := c.int64Row(`SELECT count(*) FROM content t JOIN message m ON m.content_id = t.id
			JOIN mailbox x ON x.id = m.mailbox_id WHERE t.sha256 = ? AND x.name = ?`, p.sum[:], p.mailbox)
		if err != nil {
			return nil, fmt.Errorf("add %q: look for a duplicate: %w", nm.Key, err)
		}
		if held > 0 {
			if dup != nil {
				dup()
			}
			return nil, nil
		}
		return p.applyIn(c, origin)
	})
	return nil
}

// SetState queues Store.SetState with the value value returns when the
// batch commits, after the writes queued before it: progress recorded
// with them commits with them or not at all.
func (b *Batch) SetState(name string, value func() []byte) {
	b.ops = append(b.ops, func(c *conn) ([]Event, error) {
		v := value()
		if name == "" || len(v) > MaxStateSize {
			return nil, fmt.Errorf("%w: state %q of %d bytes (a name and at most %d bytes)", ErrInvalid, name, len(v), MaxStateSize)
		}
		_, err := c.exec(`INSERT INTO state(name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, v)
		return nil, err
	})
}

// Digest is the SHA-256 of a message's bytes, which AddUnique compares.
func Digest(mime []byte) [32]byte { return sha256.Sum256(mime) }

// EachMessage calls fn with every message of the mailbox id in UID order
// and its MIME, reading a page of messages at a time so that memory stays
// bounded whatever the mailbox's size. Messages added meanwhile may or
// may not be seen; none is seen twice. An error from fn stops the walk.
func (s *Store) EachMessage(ctx context.Context, mailboxID int64, fn func(m Message, mime []byte) error) error {
	const page = 64
	after := uint32(0)
	for {
		var ms []Message
		var mimes [][]byte
		err := s.read(ctx, func(c *conn) error {
			return c.query(`SELECT `+messageColumns+`, t.header, t.body FROM message m JOIN mailbox b ON b.id = m.mailbox_id
					JOIN content t ON t.id = m.content_id WHERE m.mailbox_id = ? AND m.uid > ? ORDER BY m.uid LIMIT ?`,
				func(st *sqlite3.Stmt) error {
					ms = append(ms, scanMessage(st))
					mimes = append(mimes, st.ColumnBlob(13, st.ColumnBlob(12, []byte{})))
					return nil
				}, mailboxID, int64(after), page)
		})
		if err != nil {
			return fmt.Errorf("mailstore: read mailbox %d: %w", mailboxID, err)
		}
		for i, m := range ms {
			if err := fn(m, mimes[i]); err != nil {
				return err
			}
			mimes[i] = nil
		}
		if len(ms) < page {
			return nil
		}
		after = ms[len(ms)-1].UID
	}
}

// Watch notices the messages and mailboxes another process (`umbra
// import`) added to the store, which this Store's subscribers would
// otherwise never hear of: SQLite's data_version of the writer's
// connection changes only when another connection commits
// (https://sqlite.org/pragma.html#pragma_data_version), and this Store's
// own writes all go through that connection.
type Watch struct {
	version int64
	lastID  int64 // the highest message row id reported or seen at the start
	modseq  int64 // the store-wide mod-sequence counter, likewise
}

// watchMark reads what a Watch notes of the store's present state.
func watchMark(c *conn, w *Watch) (err error) {
	if w.lastID, err = c.int64Row(`SELECT coalesce(max(id), 0) FROM message`); err != nil {
		return err
	}
	w.modseq, err = c.int64Row(`SELECT value FROM counter WHERE name = 'modseq'`)
	return err
}

// NewWatch starts watching from the store's present state.
func (s *Store) NewWatch() (*Watch, error) {
	w := &Watch{}
	err := s.locked(func(c *conn) error {
		var err error
		if w.version, err = c.int64Row(`PRAGMA data_version`); err != nil {
			return err
		}
		return watchMark(c, w)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: watch: %w", err)
	}
	return w, nil
}

// Check delivers to the subscribers, as if this Store had made them, a
// MessageAdded event (Origin Local when the message waits to be pushed,
// else Remote) for each message added since the last Check by another
// process, a FlagsChanged event for each older message whose flags
// another process changed (`umbra tag`), and one MailboxesChanged; it
// returns the number of messages added, and whether another process
// committed anything at all (a state it set, say) since the last Check.
// When none did, it only notes the highest message id and mod-sequence.
// Messages this Store added itself since the last Check are reported again
// with their present flags, which subscribers take as no change.
func (s *Store) Check(w *Watch) (int, bool, error) {
	n, other := 0, false
	err := s.locked(func(c *conn) error {
		v, err := c.int64Row(`PRAGMA data_version`)
		if err != nil {
			return err
		}
		if v == w.version {
			// Only this Store wrote: what it changed, it has reported.
			return watchMark(c, w)
		}
		w.version, other = v, true
		events := []Event{{Kind: MailboxesChanged}}
		err = c.query(`SELECT m.mailbox_id, m.uid, m.flags, m.modseq, m.change > m.pushed FROM message m
				WHERE m.modseq > ? AND m.id <= ? AND m.mailbox_id IS NOT NULL ORDER BY m.modseq`,
			func(st *sqlite3.Stmt) error {
				origin := Remote
				if st.ColumnBool(4) {
					origin = Local
				}
				events = append(events, Event{Kind: FlagsChanged, MailboxID: st.ColumnInt64(0), UID: uint32(st.ColumnInt64(1)),
					Flags: splitFlags(st.ColumnText(2)), ModSeq: uint64(st.ColumnInt64(3)), Origin: origin})
				return nil
			}, w.modseq, w.lastID)
		if err != nil {
			return err
		}
		changed := len(events)
		if w.modseq, err = c.int64Row(`SELECT value FROM counter WHERE name = 'modseq'`); err != nil {
			return err
		}
		err = c.query(`SELECT m.id, m.mailbox_id, m.uid, m.flags, m.modseq, m.change > m.pushed FROM message m
				WHERE m.id > ? AND m.mailbox_id IS NOT NULL ORDER BY m.id`,
			func(st *sqlite3.Stmt) error {
				w.lastID = st.ColumnInt64(0)
				origin := Remote
				if st.ColumnBool(5) {
					origin = Local
				}
				events = append(events, Event{Kind: MessageAdded, MailboxID: st.ColumnInt64(1), UID: uint32(st.ColumnInt64(2)),
					Flags: splitFlags(st.ColumnText(3)), ModSeq: uint64(st.ColumnInt64(4)), Origin: origin})
				return nil
			}, w.lastID)
		if err != nil {
			return err
		}
		n = len(events) - changed
		s.deliver(events)
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("mailstore: check for other writers: %w", err)
	}
	return n, other, nil
}

// locked runs fn on the writer's connection under the write lock, outside
// a transaction.
func (s *Store) locked(fn func(c *conn) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.w == nil {
		return ErrClosed
	}
	return fn(s.w)
}
