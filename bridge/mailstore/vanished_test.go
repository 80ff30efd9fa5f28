package mailstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// TestVanished: a UID expunged locally, one expunged from the provider
// and one moved away are kept with their expunge's mod-sequence, survive
// a restart, and go with their mailbox (RFC 7162 §3.2.5: QRESYNC).
func TestVanished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	var ms []Message
	for i := range 5 {
		ms = append(ms, add(t, s, fmt.Sprint("k", i), Inbox, Remote))
	}
	inbox := mailbox(t, s, Inbox).ID
	before := mailbox(t, s, Inbox).HighestModSeq
	if err := s.Expunge(ctx, ms[1].ID, Local); err != nil {
		t.Fatal(err)
	}
	mid := mailbox(t, s, Inbox).HighestModSeq
	if err := s.Expunge(ctx, ms[3].ID, Remote); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Move(ctx, ms[0].ID, "Archive", Remote); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, since uint64, want []uint32) {
		t.Helper()
		got, err := s.Vanished(ctx, inbox, since)
		if err != nil || !got.Exact || !slices.Equal(got.UIDs, want) || got.UIDNext != 6 {
			t.Errorf("Vanished(%d) = %+v, %v; want %v, exact, UIDNEXT 6", since, got, err, want)
		}
	}
	check(s, before, []uint32{1, 2, 4})
	check(s, mid, []uint32{1, 4})
	check(s, mailbox(t, s, Inbox).HighestModSeq, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, path)
	check(s, 0, []uint32{1, 2, 4})
	if _, err := s.CreateMailbox(ctx, "Gone", Local); err != nil {
		t.Fatal(err)
	}
	gone := mailbox(t, s, "Gone").ID
	add(t, s, "g", "Gone", Remote)
	if err := s.DeleteMailbox(ctx, "Gone", Local); err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	n, err := s.w.int64Row(`SELECT count(*) FROM vanished WHERE mailbox_id = ?`, gone)
	s.wmu.Unlock()
	if err != nil || n != 0 {
		t.Errorf("a deleted mailbox keeps %d expunged uids (%v)", n, err)
	}
}

// TestVanishedBounded: beyond keptVanished per mailbox the oldest
// expunged UIDs are forgotten, and a question from before them is
// answered as not exact.
func TestVanishedBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	inbox := mailbox(t, s, Inbox).ID
	const extra = 5
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		for i := range keptVanished + extra {
			if err := noteVanished(c, inbox, uint32(i+1), int64(100+i)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Vanished(ctx, inbox, 100+extra-1)
	if err != nil || !got.Exact || len(got.UIDs) != keptVanished || got.UIDs[0] != extra+1 {
		t.Errorf("from the floor: %d uids, exact %v, %v", len(got.UIDs), got.Exact, err)
	}
	if got, err := s.Vanished(ctx, inbox, 100+extra-2); err != nil || got.Exact {
		t.Errorf("from before the floor: exact %v, %v", got.Exact, err)
	}
}

// TestMigrateV4: a version 3 store opens as version 4 with the floor at
// each mailbox's HIGHESTMODSEQ (earlier expunges were not kept), and
// expunges after the migration are kept.
func TestMigrateV4(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	m := add(t, s, "a", Inbox, Remote)
	add(t, s, "b", Inbox, Remote)
	s = downgrade(t, s, path, toV3)
	inbox := mailbox(t, s, Inbox)
	if got, err := s.Vanished(ctx, inbox.ID, inbox.HighestModSeq-1); err != nil || got.Exact {
		t.Errorf("before the migration: exact %v, %v", got.Exact, err)
	}
	if err := s.Expunge(ctx, m.ID, Local); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Vanished(ctx, inbox.ID, inbox.HighestModSeq); err != nil || !got.Exact || !slices.Equal(got.UIDs, []uint32{1}) {
		t.Errorf("after the migration: %+v, %v", got, err)
	}
}
