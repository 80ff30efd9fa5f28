package mailstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// AddUnique skips a message whose bytes the mailbox holds, whether added
// before or earlier in the same commit, and not one held elsewhere; the
// state queued after the adds sees the duplicates counted and commits
// with them.
func TestAddUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	add(t, s, "k0", Inbox, Local)
	held := mimeMsg("subject of k0", "body of k0")
	var b Batch
	dups := 0
	for i, m := range []NewMessage{
		{Key: "a", Mailbox: Inbox, MIME: held},                   // in INBOX already
		{Key: "b", Mailbox: Inbox, MIME: mimeMsg("new", "one")},  // new
		{Key: "c", Mailbox: Inbox, MIME: mimeMsg("new", "one")},  // as b, same commit
		{Key: "d", Mailbox: "Archive", MIME: held},               // other mailbox: not a duplicate
		{Key: "e", Mailbox: "Archive", MIME: mimeMsg("x", "y")},  // new
		{Key: "f", Mailbox: "Archive", MIME: mimeMsg("x", "y")},  // as e
		{Key: "g", Mailbox: "Archive", MIME: mimeMsg("x", "y!")}, // new
	} {
		if err := b.AddUnique(m, Local, func() { dups++ }); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	b.SetState("progress", func() []byte { return fmt.Appendf(nil, "%d duplicates", dups) })
	if err := s.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if dups != 3 {
		t.Errorf("%d duplicates, want 3", dups)
	}
	if got := uids(t, s, Inbox); len(got) != 2 {
		t.Errorf("INBOX UIDs %v, want 2 messages", got)
	}
	if got := uids(t, s, "Archive"); len(got) != 3 {
		t.Errorf("Archive UIDs %v, want 3 messages", got)
	}
	if v, err := s.GetState(ctx, "progress"); err != nil || string(v) != "3 duplicates" {
		t.Errorf("state %q, %v", v, err)
	}

	// A failing commit leaves neither messages nor state.
	b.SetState("progress", func() []byte { return []byte("lost") })
	if err := b.AddUnique(NewMessage{Key: "h", Mailbox: "NoSuchFolder", MIME: mimeMsg("h", "h")}, Local, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &b); err == nil {
		t.Fatal("commit into a missing mailbox succeeded")
	}
	if v, _ := s.GetState(ctx, "progress"); string(v) != "3 duplicates" {
		t.Errorf("state after a failed commit %q", v)
	}
}

// EachMessage walks a mailbox larger than its page in UID order, with
// every message's bytes.
func TestEachMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	for i := range 150 {
		add(t, s, fmt.Sprint("k", i), Inbox, Local)
	}
	var got []uint32
	err := s.EachMessage(ctx, mailbox(t, s, Inbox).ID, func(m Message, mime []byte) error {
		if want := mimeMsg("subject of "+m.Key, "body of "+m.Key); string(mime) != string(want) {
			t.Fatalf("message %s: %q", m.Key, mime)
		}
		got = append(got, m.UID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 || !slices.IsSorted(got) {
		t.Errorf("UIDs %v", got)
	}
}
