package mailstore

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// Watch notices what another process (`umbra import`, `umbra tag`) wrote
// to the store, which this Store's subscribers would otherwise never hear
// of: SQLite's data_version of the writer's connection changes only when
// another connection commits
// (https://sqlite.org/pragma.html#pragma_data_version), and this Store's
// own writes all go through that connection.
//
// What changed is found by mod-sequence, which every change of a message
// takes from the store-wide counter (nextModSeq): a message row with a
// mod-sequence above the last Check's changed since, and a vanished row
// above it is an expunge since (vanished.go). A changed message whose UID
// is at or above its mailbox's UIDNEXT of the last Check arrived since
// (added, copied or moved in: each takes the next UID); one below it had
// its flags changed.
type Watch struct {
	version int64
	modseq  int64            // the store-wide mod-sequence counter at the last Check
	uidNext map[int64]uint32 // each mailbox's UIDNEXT then, by id
}

// watchMark notes the store's present state in w.
func watchMark(c *conn, w *Watch) error {
	var err error
	if w.modseq, err = c.int64Row(`SELECT value FROM counter WHERE name = 'modseq'`); err != nil {
		return err
	}
	w.uidNext = make(map[int64]uint32, len(w.uidNext))
	return c.query(`SELECT id, uidnext FROM mailbox`, func(st *sqlite3.Stmt) error {
		w.uidNext[st.ColumnInt64(0)] = uint32(st.ColumnInt64(1))
		return nil
	})
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

// Check delivers to the subscribers, as if this Store had made them, what
// another process changed since the last Check: one MailboxesChanged; a
// MessageExpunged for each message that left a mailbox (expunged or moved
// away), so that IMAP sessions report it at once (RFC 9051 §7.5.1 EXPUNGE,
// RFC 7162 §3.2.10 VANISHED); a FlagsChanged for each message whose flags
// changed (`umbra tag`); and a MessageAdded (Origin Local when the message
// waits to be pushed, else Remote) for each message that arrived in a
// mailbox, in UID order within each mailbox, as IMAP sequence numbers
// want. It returns the number of messages that arrived, and whether
// another process committed anything at all (a state it set, say). When
// none did, it only notes the present state.
//
// This Store's own changes since the last Check are reported again: its
// subscribers take them as no change (an expunged UID they no longer
// hold, flags they already have).
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
		if events, err = expungedSince(c, w, events); err != nil {
			return err
		}
		var arrived []Event
		err = c.query(`SELECT mailbox_id, uid, flags, modseq, change > pushed FROM message
				WHERE modseq > ? AND mailbox_id IS NOT NULL ORDER BY mailbox_id, uid`,
			func(st *sqlite3.Stmt) error {
				origin := Remote
				if st.ColumnBool(4) {
					origin = Local
				}
				ev := Event{Kind: FlagsChanged, MailboxID: st.ColumnInt64(0), UID: uint32(st.ColumnInt64(1)),
					Flags: splitFlags(st.ColumnText(2)), ModSeq: uint64(st.ColumnInt64(3)), Origin: origin}
				if ev.UID < w.uidNext[ev.MailboxID] {
					events = append(events, ev)
					return nil
				}
				ev.Kind = MessageAdded
				arrived = append(arrived, ev)
				return nil
			}, w.modseq)
		if err != nil {
			return err
		}
		if err := watchMark(c, w); err != nil {
			return err
		}
		n = len(arrived)
		s.deliver(append(events, arrived...))
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("mailstore: check for other writers: %w", err)
	}
	return n, other, nil
}

// expungedSince appends to events a MessageExpunged for each UID that
// left a mailbox since w's mod-sequence, in the order of the expunges.
// The events carry Origin Remote: a vanished row does not say whose the
// expunge was, and none is needed (the push loop is woken for whatever
// another process left pending, bridge.watchOthers), while a Local
// expunge would read to the spam trainer as the first half of a user's
// move into the event after it.
//
// Where the store forgot some of those expunges (more than keptVanished
// in one mailbox since w's mod-sequence: its vanished floor rose past
// it), every UID below the mailbox's UIDNEXT that it no longer holds is
// reported instead, as RFC 7162 §3.2.5.2 allows for VANISHED: subscribers
// ignore UIDs they do not hold. A mailbox deleted meanwhile has no rows
// left to read; it is left to the MailboxesChanged.
func expungedSince(c *conn, w *Watch, events []Event) ([]Event, error) {
	type box struct {
		id, highest int64
		uidNext     uint32
	}
	var inexact []box
	err := c.query(`SELECT id, highest_modseq, uidnext FROM mailbox WHERE vanished_floor > ?`, func(st *sqlite3.Stmt) error {
		inexact = append(inexact, box{st.ColumnInt64(0), st.ColumnInt64(1), uint32(st.ColumnInt64(2))})
		return nil
	}, w.modseq)
	if err != nil {
		return nil, err
	}
	err = c.query(`SELECT mailbox_id, uid, modseq FROM vanished WHERE modseq > ? ORDER BY modseq`, func(st *sqlite3.Stmt) error {
		events = append(events, Event{Kind: MessageExpunged, MailboxID: st.ColumnInt64(0), UID: uint32(st.ColumnInt64(1)),
			ModSeq: uint64(st.ColumnInt64(2)), Origin: Remote})
		return nil
	}, w.modseq)
	if err != nil {
		return nil, err
	}
	for _, b := range inexact {
		if events, err = expungedGaps(c, b.id, b.uidNext, b.highest, events); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// expungedGaps appends a MessageExpunged at mod-sequence modseq for every
// UID below uidNext that mailbox id does not hold.
func expungedGaps(c *conn, id int64, uidNext uint32, modseq int64, events []Event) ([]Event, error) {
	uid := uint32(1)
	gap := func(below uint32) {
		for ; uid < below; uid++ {
			events = append(events, Event{Kind: MessageExpunged, MailboxID: id, UID: uid, ModSeq: uint64(modseq), Origin: Remote})
		}
	}
	err := c.query(`SELECT uid FROM message WHERE mailbox_id = ? ORDER BY uid`, func(st *sqlite3.Stmt) error {
		held := uint32(st.ColumnInt64(0))
		gap(held)
		uid = held + 1
		return nil
	}, id)
	if err != nil {
		return nil, err
	}
	gap(uidNext)
	return events, nil
}

// locked runs fn on the writer's connection under the write lock, in a
// read transaction: one snapshot, so that a commit of another process
// between two of fn's queries is neither half seen nor, once the
// mod-sequence is noted, missed.
func (s *Store) locked(fn func(c *conn) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.w == nil {
		return ErrClosed
	}
	return s.w.tx(context.Background(), false, func() error { return fn(s.w) })
}
