package imapd

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

// \Recent (RFC 3501 §2.3.2) is IMAP4rev1's "first session to see this
// message": a message is recent to exactly one session. As in Dovecot,
// each mailbox keeps the first UID no session has claimed yet
// (mailbox.firstRecent, saved in the store's state so a restart does not
// make old mail recent again). SELECT claims every message from there on;
// EXAMINE shows them as recent without claiming them; a message arriving
// while the mailbox is selected is claimed by one session that selected
// it read-write. IMAP4rev2 removed \Recent (RFC 9051 Appendix E), and
// imapserver leaves the RECENT responses out once a client ENABLEs it.

// recentState names the state entry holding mailbox id's firstRecent.
func recentState(id int64) string { return "imapd/first-recent/" + strconv.FormatInt(id, 10) }

// loadFirstRecent returns the saved first unclaimed UID of mailbox id; 1
// (everything is recent) for a mailbox no session has selected yet.
func loadFirstRecent(ctx context.Context, st *mailstore.Store, id int64) (uint32, error) {
	b, err := st.GetState(ctx, recentState(id))
	if errors.Is(err, mailstore.ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil || n == 0 {
		return 1, nil // unreadable: the safe answer is "all recent"
	}
	return uint32(n), nil
}

// saveRecent records b's first unclaimed UID if it moved since it was
// loaded or last saved (a SELECT of a mailbox with nothing new costs no
// write). It is called outside every lock (it writes to the store).
func (s *Server) saveRecent(b *mailbox) error {
	b.mu.Lock()
	n, saved := b.firstRecent, b.savedRecent
	b.mu.Unlock()
	if n == saved {
		return nil
	}
	if err := s.store.SetState(s.ctx, recentState(b.id), []byte(strconv.FormatUint(uint64(n), 10))); err != nil {
		return fmt.Errorf("imapd: save recent of mailbox %d: %w", b.id, err)
	}
	b.mu.Lock()
	b.savedRecent = max(b.savedRecent, n)
	b.mu.Unlock()
	return nil
}

// claimRecentLocked returns the messages recent to a session that
// selects the mailbox now, and claims them if claim (SELECT, not
// EXAMINE).
func (b *mailbox) claimRecentLocked(claim bool) map[uint32]bool {
	recent := map[uint32]bool{}
	for _, m := range b.msgs {
		if m.uid >= b.firstRecent {
			recent[m.uid] = true
		}
	}
	if claim && len(b.msgs) > 0 {
		b.firstRecent = max(b.firstRecent, b.msgs[len(b.msgs)-1].uid+1)
	}
	return recent
}

// arrivedLocked gives a new message's \Recent to one session that has
// the mailbox selected read-write, if any.
func (b *mailbox) arrivedLocked(uid uint32) {
	for v := range b.views {
		if !v.readOnly {
			v.recent[uid] = true
			b.firstRecent = max(b.firstRecent, uid+1)
			return
		}
	}
}

// goneLocked forgets an expunged message's \Recent.
func (b *mailbox) goneLocked(uid uint32) {
	for v := range b.views {
		delete(v.recent, uid)
	}
}

// isRecentLocked reports whether uid is recent to this session.
func (v *view) isRecentLocked(uid uint32) bool { return v.recent[uid] }

// withRecent adds \Recent to the flags of a recent message, for the
// FETCH responses the tracker writes, and gives the message's current
// mod-sequence, which they carry once CONDSTORE is enabled. flags is not
// changed.
func (v *view) withRecent(uid imap.UID, flags []imap.Flag) ([]imap.Flag, uint64) {
	recent, modseq := v.recentAndModSeq(uint32(uid))
	if recent {
		flags = append(flags[:len(flags):len(flags)], imap.Flag(flagRecent))
	}
	return flags, modseq
}

// recentAndModSeq reports whether uid shows \Recent to this session, and
// its current mod-sequence.
func (v *view) recentAndModSeq(uid uint32) (bool, uint64) {
	v.box.mu.Lock()
	recent := v.isRecentLocked(uid)
	var modseq uint64
	if i, ok := v.box.find(uid); ok {
		modseq = v.box.msgs[i].modseq
	}
	v.box.mu.Unlock()
	if v.conn != nil && v.conn.Enabled(imap.CapIMAP4rev2) {
		recent = false // RFC 9051 Appendix E: \Recent is gone
	}
	return recent, modseq
}

// messageFlags returns m's flags as this session sees them.
func (v *view) messageFlags(m message) []imap.Flag {
	recent, _ := v.recentAndModSeq(m.uid)
	flags := make([]imap.Flag, len(m.flags), len(m.flags)+1)
	for i, f := range m.flags {
		flags[i] = imap.Flag(f)
	}
	if recent {
		flags = append(flags, imap.Flag(flagRecent))
	}
	return flags
}

// statusRecent counts the messages of mb no session has claimed (STATUS
// RECENT, RFC 3501 §6.3.10).
func (s *Server) statusRecent(mb mailstore.Mailbox) (uint32, error) {
	s.mu.Lock()
	b := s.boxes[mb.ID]
	s.mu.Unlock()
	var first uint32
	if b != nil {
		<-b.ready
		b.mu.Lock()
		first = b.firstRecent
		b.mu.Unlock()
	} else {
		var err error
		if first, err = loadFirstRecent(s.ctx, s.store, mb.ID); err != nil {
			return 0, err
		}
	}
	if first >= mb.UIDNext {
		return 0, nil
	}
	msgs, err := s.store.List(s.ctx, mb.ID)
	if err != nil {
		return 0, err
	}
	var n uint32
	for _, m := range msgs {
		if m.UID >= first {
			n++
		}
	}
	return n, nil
}
