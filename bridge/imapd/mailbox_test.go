package imapd

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

// TestLoadReplaysEvents checks the replay of events committed between a
// mailbox's registration and its listing: duplicates of listed state are
// harmless, later changes win.
func TestLoadReplaysEvents(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	for _, s := range []string{"a", "b", "c"} {
		e.add(t, "INBOX", s, s, mailstore.Remote)
	}
	mb, _ := e.store.Mailbox(t.Context(), "INBOX")
	b := newMailbox(mb.ID)
	for _, ev := range []mailstore.Event{
		{Kind: mailstore.MessageAdded, UID: 2},                              // already listed
		{Kind: mailstore.FlagsChanged, UID: 2, Flags: []string{`\Flagged`}}, // a later change
		{Kind: mailstore.MessageExpunged, UID: 3},
		{Kind: mailstore.MessageExpunged, UID: 9}, // never listed
		{Kind: mailstore.MessageAdded, UID: 4, Flags: []string{`\Seen`}},
	} {
		ev.MailboxID = mb.ID
		b.apply(ev)
	}
	if err := b.load(t.Context(), e.store); err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, m := range b.msgs {
		uids = append(uids, m.uid)
	}
	if !slices.Equal(uids, []uint32{1, 2, 4}) || !slices.Equal(b.msgs[1].flags, []string{`\Flagged`}) ||
		b.msgs[2].loaded || b.incomplete != 1 {
		t.Errorf("after load: uids %v, flags of 2 %v, incomplete %d", uids, b.msgs[1].flags, b.incomplete)
	}
	// A session attached now counts three messages.
	v, data := newView(b, mb, false, nil)
	defer v.close()
	if data.NumMessages != 3 || data.UIDNext != 5 || data.FirstUnseenSeqNum != 1 {
		t.Errorf("SELECT data %+v", data)
	}
	// UID 4 is not in the store, so it stays without details.
	if err := b.ensureDetails(t.Context(), e.store); err != nil || b.incomplete != 1 {
		t.Errorf("ensureDetails: %v, incomplete %d", err, b.incomplete)
	}
}

func TestNumberSets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		start, stop, n, max uint32
		want                bool
	}{
		{1, 3, 2, 10, true},
		{3, 1, 2, 10, true},  // reversed range
		{0, 0, 10, 10, true}, // "*"
		{0, 0, 9, 10, false},
		{12, 0, 10, 10, true}, // 12:* is 10:12
		{12, 0, 9, 10, false},
		{1, 0, 1, 0, false}, // empty mailbox
	} {
		if got := inRange(tc.start, tc.stop, tc.n, tc.max); got != tc.want {
			t.Errorf("inRange(%d:%d, %d, max %d) = %v", tc.start, tc.stop, tc.n, tc.max, got)
		}
	}
	set := imap.SeqSet{{Start: 1, Stop: 2}, {Start: 5, Stop: 0}}
	var got []uint32
	for n := uint32(1); n <= 7; n++ {
		if seqContains(set, n, 7) {
			got = append(got, n)
		}
	}
	if !slices.Equal(got, []uint32{1, 2, 5, 6, 7}) {
		t.Errorf("1:2,5:* of 7 = %v", got)
	}
}
