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
