package mailstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestMailboxNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"INBOX", "INBOX"}, {"inbox", "INBOX"}, {"InBox/Sub", "INBOX/Sub"}, {"Inboxes", "Inboxes"},
		{"Ordner/Grüße", "Ordner/Grüße"}, {strings.Repeat("a", 255), strings.Repeat("a", 255)},
	} {
		if got, err := canonicalName(tc.in); err != nil || got != tc.want {
			t.Errorf("canonicalName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/a", "a/", "a//b", "a\x00b", "a\nb", "a\x7fb", "\xff", "a*", "a%b", strings.Repeat("a", 256), "a\u0085b"} {
		if _, err := canonicalName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("canonicalName(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCreateMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	r := record(s)
	m, err := s.CreateMailbox(ctx, "a/b/c", Local)
	if err != nil || m.Name != "a/b/c" || m.UIDNext != 1 || m.UIDValidity == 0 {
		t.Fatalf("CreateMailbox: %+v, %v", m, err)
	}
	a, ab := mailbox(t, s, "a"), mailbox(t, s, "a/b")
	wantEvents(t, r, fmt.Sprintf("mailboxes %d 0", a.ID), fmt.Sprintf("mailboxes %d 0", ab.ID), fmt.Sprintf("mailboxes %d 0", m.ID))
	if _, err := s.CreateMailbox(ctx, "a/b", Local); !errors.Is(err, ErrExists) {
		t.Fatalf("create existing: %v", err)
	}
	if _, err := s.CreateMailbox(ctx, "inbox", Local); !errors.Is(err, ErrExists) {
		t.Fatalf("create inbox: %v", err)
	}
	if _, err := s.CreateMailbox(ctx, "a//b", Local); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create a//b: %v", err)
	}
	if _, err := s.Mailbox(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Mailbox(nope): %v", err)
	}
	if got := mailbox(t, s, "iNbOx"); got.Name != Inbox {
		t.Fatalf("Mailbox(iNbOx) = %q", got.Name)
	}
	if err := s.SetSubscribed(ctx, "a", false); err != nil || mailbox(t, s, "a").Subscribed {
		t.Fatalf("SetSubscribed: %v", err)
	}
	wantEvents(t, r, fmt.Sprintf("mailboxes %d 0", a.ID))
	if err := s.SetSubscribed(ctx, "nope", true); err != nil {
		t.Fatalf("SetSubscribed(nope): %v", err) // a name needs no mailbox
	}
}

func TestMailboxCounts(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	m1 := add(t, s, "k1", Inbox, Remote, `\Seen`)
	m2 := add(t, s, "k2", Inbox, Remote)
	b := mailbox(t, s, Inbox)
	if b.Messages != 2 || b.Unseen != 1 || b.Size != m1.Size+m2.Size || b.UIDNext != 3 {
		t.Fatalf("INBOX %+v", b)
	}
}

// TestUIDRules checks UIDs across Move, Copy, Delete and re-creation:
// strictly increasing, never reused, and a re-created mailbox has a new
// UIDVALIDITY.
func TestUIDRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	r := record(s)
	box, err := s.CreateMailbox(ctx, "Box", Remote)
	if err != nil {
		t.Fatal(err)
	}
	r.take()
	m1 := add(t, s, "k1", Inbox, Remote)
	m2 := add(t, s, "k2", Inbox, Remote)
	inbox := mailbox(t, s, Inbox)
	wantEvents(t, r, fmt.Sprintf("added %d 1", inbox.ID), fmt.Sprintf("added %d 2", inbox.ID))

	moved, err := s.Move(ctx, m1.ID, "Box", Remote)
	if err != nil || moved.UID != 1 || moved.MailboxID != box.ID || moved.ID != m1.ID || moved.SyncedMailbox != "Box" {
		t.Fatalf("Move: %+v, %v", moved, err)
	}
	wantEvents(t, r, fmt.Sprintf("expunged %d 1", inbox.ID), fmt.Sprintf("added %d 1", box.ID))
	back, err := s.Move(ctx, m1.ID, Inbox, Remote)
	if err != nil || back.UID != 3 {
		t.Fatalf("Move back: %+v, %v", back, err)
	}
	copied, err := s.Copy(ctx, m2.ID, "Box", "k2-copy", Local)
	if err != nil || copied.UID != 2 || copied.ContentID != m2.ContentID || copied.Key != "k2-copy" {
		t.Fatalf("Copy: %+v, %v", copied, err)
	}
	if _, err := s.Copy(ctx, m2.ID, "Box", "k1", Local); !errors.Is(err, ErrExists) {
		t.Fatalf("Copy to an existing key: %v", err)
	}
	if _, err := s.Move(ctx, m2.ID, "Nope", Local); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Move to a missing mailbox: %v", err)
	}
	if got := uids(t, s, Inbox); !slices.Equal(got, []uint32{2, 3}) {
		t.Fatalf("INBOX UIDs %v", got)
	}
	if err := s.Expunge(ctx, back.ID, Remote); err != nil {
		t.Fatal(err)
	}
	m4 := add(t, s, "k4", Inbox, Remote)
	if m4.UID != 4 {
		t.Fatalf("UID after expunge %d, want 4", m4.UID)
	}

	r.take()
	if err := s.DeleteMailbox(ctx, "Box", Remote); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r, fmt.Sprintf("expunged %d 2", box.ID), fmt.Sprintf("mailboxes %d 0", box.ID))
	if _, err := s.ByKey(ctx, "k2-copy"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("message of a deleted mailbox: %v", err)
	}
	if _, err := s.Content(ctx, m2.ContentID); err != nil {
		t.Fatalf("content still used by k2 was collected: %v", err)
	}
	again, err := s.CreateMailbox(ctx, "Box", Remote)
	if err != nil || again.UIDValidity == box.UIDValidity || again.ID == box.ID || again.UIDNext != 1 {
		t.Fatalf("re-created mailbox %+v (old %+v), %v", again, box, err)
	}
	if _, err := s.List(ctx, box.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("List of a deleted mailbox: %v", err)
	}
	if ms, err := s.List(ctx, again.ID); err != nil || len(ms) != 0 {
		t.Fatalf("List of an empty mailbox: %v, %v", ms, err)
	}
	if err := s.DeleteMailbox(ctx, "INBOX", Local); !errors.Is(err, ErrInvalid) {
		t.Fatalf("delete INBOX: %v", err)
	}
	if err := s.DeleteMailbox(ctx, "Nope", Local); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
}

func TestRenameMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	for _, n := range []string{"P/Q/R", "P/Q2", "PX"} {
		if _, err := s.CreateMailbox(ctx, n, Remote); err != nil {
			t.Fatal(err)
		}
	}
	pq := mailbox(t, s, "P/Q")
	m := add(t, s, "k1", "P/Q", Remote)
	r := record(s)
	if err := s.RenameMailbox(ctx, "P", "Z/New", Local); err != nil {
		t.Fatal(err)
	}
	if len(r.take()) != 5 {
		t.Fatal("want one event per renamed or created mailbox")
	}
	var names []string
	ms, _ := s.Mailboxes(ctx)
	for _, b := range ms {
		names = append(names, b.Name)
	}
	want := []string{"INBOX", "Archive", "Drafts", "Junk", "PX", "Sent", "Trash", "Z", "Z/New", "Z/New/Q", "Z/New/Q/R", "Z/New/Q2"}
	if !slices.Equal(names, want) {
		t.Fatalf("after rename: %q, want %q", names, want)
	}
	// Same mailbox: UIDVALIDITY and UIDs kept, message now in the new name
	// and pending (its mailbox name changed).
	nq := mailbox(t, s, "Z/New/Q")
	if nq.ID != pq.ID || nq.UIDValidity != pq.UIDValidity {
		t.Fatalf("renamed %+v, was %+v", nq, pq)
	}
	got, err := s.Get(ctx, m.ID)
	if err != nil || got.Mailbox != "Z/New/Q" || got.UID != m.UID {
		t.Fatalf("message after rename %+v, %v", got, err)
	}
	p, _ := s.Pending(ctx, 0)
	if len(p) != 1 || p[0].Key != "k1" || p[0].Mailbox != "Z/New/Q" {
		t.Fatalf("pending after rename %+v", p)
	}
	mp, _ := s.MailboxesPending(ctx)
	pend := map[string]bool{}
	for _, x := range mp {
		pend[x.Name] = x.Deleted
	}
	if len(pend) != 9 || !pend["P"] || !pend["P/Q/R"] || pend["Z/New/Q2"] {
		t.Fatalf("pending mailboxes %+v", mp)
	}

	if _, err := s.CreateMailbox(ctx, "Taken", Remote); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"INBOX", "Other", ErrInvalid},
		{"inbox", "Other", ErrInvalid},
		{"Z", "Z/New/Q/x", ErrInvalid},
		{"Z", "Taken", ErrExists},
		{"Taken", "Inbox", ErrExists},
		{"Nope", "X", ErrNotFound},
		{"Taken", "a//b", ErrInvalid},
	} {
		if err := s.RenameMailbox(ctx, tc.from, tc.to, Local); !errors.Is(err, tc.want) {
			t.Errorf("rename %q to %q: %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
	// A special-use mailbox may be renamed and keeps its attribute.
	if err := s.RenameMailbox(ctx, "Sent", "Sent Items", Remote); err != nil {
		t.Fatal(err)
	}
	if b := mailbox(t, s, "Sent Items"); b.SpecialUse != Sent {
		t.Fatalf("renamed Sent: %+v", b)
	}
	// A child name made too long by the rename is refused.
	long := strings.Repeat("x", 250)
	if err := s.RenameMailbox(ctx, "Z", long, Local); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rename making a child too long: %v", err)
	}
}

func TestDeleteMailboxLocalLeavesTombstones(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.CreateMailbox(ctx, "Old", Remote); err != nil {
		t.Fatal(err)
	}
	add(t, s, "k1", "Old", Remote)
	if err := s.DeleteMailbox(ctx, "Old", Local); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Pending(ctx, 0)
	if len(p) != 1 || !p[0].Expunged || p[0].Key != "k1" || p[0].Mailbox != "" {
		t.Fatalf("pending %+v", p)
	}
	mp, _ := s.MailboxesPending(ctx)
	if len(mp) != 1 || mp[0].Name != "Old" || !mp[0].Deleted {
		t.Fatalf("pending mailboxes %+v", mp)
	}
}
