package imapd

import (
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
)

// view is one session's selection of a mailbox: its tracker (the
// session's own sequence-number view and queue of pending updates), its
// saved SEARCH result (RFC 5182, part of IMAP4rev2) and whether it was
// opened with EXAMINE.
type view struct {
	box         *mailbox
	conn        *imapserver.Conn // to know whether IMAP4rev2 is enabled
	tracker     *imapserver.SessionTracker
	name        string
	uidValidity uint32
	readOnly    bool
	searchRes   imap.UIDSet
	// notify wakes Idle; one buffered slot is enough, as Idle polls the
	// whole queue each time it wakes.
	notify chan struct{}

	// Guarded by box.mu:
	// keywords are the keywords the last FLAGS response listed.
	keywords []string
	// recent holds the UIDs that are \Recent for this session (RFC 3501
	// §2.3.2; recent.go); recentSent is the count last reported.
	recent     map[uint32]bool
	recentSent int
}

// selected is a message chosen by a command, with the sequence number the
// session knows it by (0: not announced to the session yet).
type selected struct {
	seq uint32
	message
}

// newView attaches a session to b and returns the SELECT data. The
// tracker is created under b.mu so the count it starts from is the one
// the SELECT response reports.
func newView(b *mailbox, mb mailstore.Mailbox, readOnly bool, conn *imapserver.Conn) (*view, *imap.SelectData) {
	v := &view{box: b, conn: conn, name: mb.Name, uidValidity: mb.UIDValidity, readOnly: readOnly, notify: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	v.tracker = b.tracker.NewSession()
	b.views[v] = struct{}{}
	v.recent = b.claimRecentLocked(!readOnly)
	v.recentSent = len(v.recent)

	uidNext := mb.UIDNext
	var firstUnseen uint32
	for i, m := range b.msgs {
		if m.uid >= uidNext {
			uidNext = m.uid + 1
		}
		if firstUnseen == 0 && !hasFlag(m.flags, string(imap.FlagSeen)) {
			firstUnseen = uint32(i) + 1
		}
	}
	v.keywords = slices.Clone(b.keywords)
	flags, perm := v.flagListsLocked()
	return v, &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    perm,
		NumMessages:       uint32(len(b.msgs)),
		NumRecent:         uint32(len(v.recent)),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(uidNext),
		UIDValidity:       mb.UIDValidity,
		HighestModSeq:     max(mb.HighestModSeq, b.highestModSeq),
	}
}

// flagListsLocked returns what FLAGS and PERMANENTFLAGS list for the
// keywords the session was told of (RFC 9051 §7.3.5, §7.1).
func (v *view) flagListsLocked() (flags, perm []imap.Flag) {
	flags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}
	for _, k := range v.keywords {
		flags = append(flags, imap.Flag(k))
	}
	if v.readOnly {
		return flags, nil // RFC 9051 §6.3.2: no permanent flags when read-only
	}
	return flags, append(slices.Clone(flags), imap.FlagWildcard)
}

// announceFlags writes FLAGS and PERMANENTFLAGS if a keyword appeared in
// the mailbox since the session was last told (RFC 9051 §7.3.5: FLAGS is
// sent whenever the mailbox's list of flags changes), as Dovecot does.
func (v *view) announceFlags(w *imapserver.UpdateWriter) error {
	v.box.mu.Lock()
	if len(v.keywords) == len(v.box.keywords) {
		v.box.mu.Unlock()
		return nil
	}
	v.keywords = slices.Clone(v.box.keywords)
	flags, perm := v.flagListsLocked()
	v.box.mu.Unlock()
	if err := w.WriteMailboxFlags(flags); err != nil {
		return err
	}
	if perm == nil {
		return nil
	}
	return w.WritePermanentFlags(perm)
}

// poll writes the session's pending updates: FLAGS first, so no FETCH
// shows a keyword the session was not told of, then the tracker's queue
// with \Recent added where it belongs, then RECENT if its count changed.
func (v *view) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if err := v.announceFlags(w); err != nil {
		return err
	}
	if err := v.tracker.Poll(w.WithMessageFlags(v.withRecent), allowExpunge); err != nil {
		return err
	}
	v.box.mu.Lock()
	n := len(v.recent)
	changed := n != v.recentSent
	v.recentSent = n
	v.box.mu.Unlock()
	if !changed {
		return nil
	}
	return w.WriteNumRecent(uint32(n))
}

// close detaches the session; the caller then releases the mailbox.
func (v *view) close() {
	v.box.mu.Lock()
	defer v.box.mu.Unlock()
	delete(v.box.views, v)
	v.tracker.Close()
}

func (v *view) wake() {
	select {
	case v.notify <- struct{}{}:
	default:
	}
}

// idle writes updates as they come until stop is closed. It polls before
// waiting and after every wake-up; since apply queues an update before
// waking, no update can slip between a poll and the wait.
func (v *view) idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		if err := v.poll(w, true); err != nil {
			return err
		}
		select {
		case <-v.notify:
		case <-stop:
			return nil
		}
	}
}

// choose returns the messages of numSet (sequence numbers or UIDs, "$"
// for the saved search result) in UID order.
func (v *view) choose(numSet imap.NumSet) []selected {
	if imap.IsSearchRes(numSet) {
		numSet = v.searchRes
	}
	b := v.box
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []selected
	switch set := numSet.(type) {
	case imap.SeqSet:
		max := v.maxSeqLocked()
		for i, m := range b.msgs {
			seq := v.tracker.EncodeSeqNum(uint32(i) + 1)
			if seq != 0 && seqContains(set, seq, max) {
				out = append(out, selected{seq, *m})
			}
		}
	case imap.UIDSet:
		max := v.maxUIDLocked()
		for i, m := range b.msgs {
			if uidContains(set, imap.UID(m.uid), max) {
				out = append(out, selected{v.tracker.EncodeSeqNum(uint32(i) + 1), *m})
			}
		}
	}
	return out
}

// checkSeqSet refuses sequence numbers beyond what the session knows: a
// sequence number lies between 1 and the last EXISTS (RFC 3501 §2.3.1.2),
// and using another is a protocol error, so BAD, as Dovecot answers. "*"
// and UID sets are always valid.
func (v *view) checkSeqSet(numSet imap.NumSet) error {
	set, ok := numSet.(imap.SeqSet)
	if !ok {
		return nil
	}
	n := v.tracker.NumMessages()
	for _, r := range set {
		if r.Start > n || r.Stop > n {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug,
				Text: fmt.Sprintf("Invalid message sequence number: the mailbox has %d messages", n)}
		}
	}
	return nil
}

// all returns every message of the mailbox with the bounds "*" stands for.
func (v *view) all() (msgs []selected, maxSeq uint32, maxUID imap.UID) {
	b := v.box
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs = make([]selected, len(b.msgs))
	for i, m := range b.msgs {
		msgs[i] = selected{v.tracker.EncodeSeqNum(uint32(i) + 1), *m}
	}
	return msgs, v.maxSeqLocked(), v.maxUIDLocked()
}

// maxSeqLocked is the largest sequence number the session knows of: what
// "*" means in a sequence set (RFC 9051 §9, seq-number).
func (v *view) maxSeqLocked() uint32 {
	for i := len(v.box.msgs); i > 0; i-- {
		if seq := v.tracker.EncodeSeqNum(uint32(i)); seq != 0 {
			return seq
		}
	}
	return 0
}

// maxUIDLocked is the largest UID in the mailbox: what "*" means in a UID
// set.
func (v *view) maxUIDLocked() imap.UID {
	if n := len(v.box.msgs); n > 0 {
		return imap.UID(v.box.msgs[n-1].uid)
	}
	return 0
}

// inRange reports whether n lies in start:stop, where 0 stands for "*"
// (max) and the bounds may come in either order (RFC 9051 §9, seq-range).
func inRange(start, stop, n, max uint32) bool {
	if max == 0 && (start == 0 || stop == 0) {
		return false // "*" of an empty mailbox
	}
	lo, hi := bounds(start, stop, max)
	return lo <= n && n <= hi
}

// bounds returns the range start:stop as lo ≤ hi, with 0 ("*") standing
// for top.
func bounds(start, stop, top uint32) (lo, hi uint32) {
	if start == 0 {
		start = top
	}
	if stop == 0 {
		stop = top
	}
	return min(start, stop), max(start, stop)
}

func seqContains(set imap.SeqSet, n, max uint32) bool {
	for _, r := range set {
		if inRange(r.Start, r.Stop, n, max) {
			return true
		}
	}
	return false
}

func uidContains(set imap.UIDSet, uid, max imap.UID) bool {
	for _, r := range set {
		if inRange(uint32(r.Start), uint32(r.Stop), uint32(uid), uint32(max)) {
			return true
		}
	}
	return false
}
