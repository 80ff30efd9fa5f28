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

// Check reports what another Store on the same file (another process, as
// `umbra import` and `umbra tag` are) added or tagged, once, and nothing
// when nothing changed.
func TestWatchSeesOtherWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	r := record(s)
	w, err := s.NewWatch()
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("Check with no change: %d, %v", n, err)
	}
	add(t, s, "own", Inbox, Local)
	wantEvents(t, r, fmt.Sprintf("added %d 1", mailbox(t, s, Inbox).ID))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("Check after our own write: %d, %v", n, err)
	}
	add(t, s, "own2", Inbox, Local)
	wantEvents(t, r, fmt.Sprintf("added %d 2", mailbox(t, s, Inbox).ID))

	other, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.CreateMailbox(ctx, "Imported", Local); err != nil {
		t.Fatal(err)
	}
	add(t, other, "x1", "Imported", Local, `\Seen`)
	add(t, other, "x2", Inbox, Remote)
	if n, other, err := s.Check(w); err != nil || n != 3 || !other {
		t.Fatalf("Check: %d, %v; want the other's 2 and our own since the last Check again", n, err)
	}
	imported, inbox := mailbox(t, s, "Imported").ID, mailbox(t, s, Inbox).ID
	wantEvents(t, r, "mailboxes 0 0", fmt.Sprintf("added %d 2", inbox), fmt.Sprintf("added %d 1", imported), fmt.Sprintf("added %d 3", inbox))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("second Check: %d, %v", n, err)
	}
	wantEvents(t, r)

	// The other process tags a message (`umbra tag`): a flags event, once.
	own, err := other.ByKey(ctx, "own")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ChangeFlags(ctx, own.ID, FlagChange{Add: []string{"work"}}, Local); err != nil {
		t.Fatal(err)
	}
	if n, changed, err := s.Check(w); err != nil || n != 0 || !changed {
		t.Fatalf("Check after the other's tag: %d, %v, %v", n, changed, err)
	}
	wantEvents(t, r, "mailboxes 0 0", fmt.Sprintf("flags %d 1", inbox))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("Check after that: %d, %v", n, err)
	}
	wantEvents(t, r)
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
