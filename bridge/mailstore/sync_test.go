package mailstore

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestPendingPushed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	a := add(t, s, "a", Inbox, Local)
	add(t, s, "b", Inbox, Remote)
	c := add(t, s, "c", Inbox, Local, `\Seen`)

	p, err := s.Pending(ctx, 0)
	if err != nil || len(p) != 2 || p[0].Key != "a" || p[1].Key != "c" || p[1].Mailbox != Inbox ||
		!slices.Equal(p[1].Flags, []string{`\Seen`}) || p[0].ContentID != a.ContentID || p[0].Change >= p[1].Change {
		t.Fatalf("Pending: %+v, %v", p, err)
	}
	if one, _ := s.Pending(ctx, 1); len(one) != 1 || one[0].Key != "a" {
		t.Fatalf("Pending(1): %+v", one)
	}
	snapshot := p[1]
	// A change after the snapshot keeps c pending when the snapshot is pushed.
	if _, err := s.Move(ctx, c.ID, "Archive", Local); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(s.Pushed(ctx, "a", p[0].Change), s.Pushed(ctx, "c", snapshot.Change)); err != nil {
		t.Fatal(err)
	}
	p, _ = s.Pending(ctx, 0)
	if len(p) != 1 || p[0].Key != "c" || p[0].Mailbox != "Archive" || p[0].Change <= snapshot.Change {
		t.Fatalf("after pushing the snapshot: %+v", p)
	}
	// Pushed records the pushed state as agreed.
	got, _ := s.ByKey(ctx, "a")
	if got.SyncedMailbox != Inbox || got.SyncedFlags == nil {
		t.Fatalf("pushed message %+v", got)
	}
	if err := s.Pushed(ctx, "c", p[0].Change); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx, 0); len(p) != 0 {
		t.Fatalf("pending after full push: %+v", p)
	}
	got, _ = s.ByKey(ctx, "c")
	if got.SyncedMailbox != "Archive" || !slices.Equal(got.SyncedFlags, []string{`\Seen`}) {
		t.Fatalf("pushed message %+v", got)
	}
	if err := s.Pushed(ctx, "unknown", 99); err != nil {
		t.Fatalf("Pushed of an unknown key: %v", err)
	}
	// Remote changes never make a message pending.
	if _, err := s.Move(ctx, got.ID, Inbox, Remote); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, got.ID, Inbox, "c2", Remote); err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(ctx, got.ID, Remote); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx, 0); len(p) != 0 {
		t.Fatalf("remote changes made pending: %+v", p)
	}
}

func TestMailboxesPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.CreateMailbox(ctx, "L", Local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMailbox(ctx, "R", Remote); err != nil {
		t.Fatal(err)
	}
	p, err := s.MailboxesPending(ctx)
	if err != nil || len(p) != 1 || p[0].Name != "L" || p[0].Deleted {
		t.Fatalf("MailboxesPending: %+v, %v", p, err)
	}
	snap := p[0]
	if err := s.DeleteMailbox(ctx, "L", Local); err != nil {
		t.Fatal(err)
	}
	if err := s.MailboxPushed(ctx, "L", snap.Change); err != nil {
		t.Fatal(err)
	}
	p, _ = s.MailboxesPending(ctx)
	if len(p) != 1 || !p[0].Deleted || p[0].Change <= snap.Change {
		t.Fatalf("after pushing the old snapshot: %+v", p)
	}
	if err := s.MailboxPushed(ctx, "L", p[0].Change); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.MailboxesPending(ctx); len(p) != 0 {
		t.Fatalf("after push: %+v", p)
	}
}

func TestDocsAndCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	if c, err := s.Cursor(ctx); err != nil || c != 0 {
		t.Fatalf("initial cursor %d, %v", c, err)
	}
	if err := s.SetCursor(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cursor(ctx); c != 17 {
		t.Fatalf("cursor %d", c)
	}
	if revs, err := s.Revisions(ctx, []string{"x"}); err != nil || len(revs) != 0 {
		t.Fatalf("Revisions(x): %v, %v", revs, err)
	}
	docs := []Doc{{ID: "m2", Kind: "meta", Revision: 1, Key: "k"}, {ID: "c1", Kind: "content", Revision: 1, Key: "k"}, {ID: "f", Kind: "folders", Revision: 1}}
	for _, d := range docs {
		if err := s.PutDoc(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutDoc(ctx, Doc{ID: "m2", Kind: "meta", Revision: 5, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if revs, err := s.Revisions(ctx, []string{"m2"}); err != nil || revs["m2"] != 5 {
		t.Fatalf("revision after upsert %v, %v", revs, err)
	}
	if revs, err := s.Revisions(ctx, []string{"m2", "x", "f"}); err != nil || len(revs) != 2 || revs["m2"] != 5 || revs["f"] != 1 {
		t.Fatalf("Revisions: %v, %v", revs, err)
	}
	got, err := s.DocsOfKey(ctx, "k")
	if err != nil || len(got) != 2 || got[0].ID != "c1" || got[1].Revision != 5 {
		t.Fatalf("DocsOfKey: %+v, %v", got, err)
	}
	if got, _ := s.DocsOfKey(ctx, ""); len(got) != 0 {
		t.Fatalf("DocsOfKey(\"\"): %+v", got)
	}
	if err := s.PutDoc(ctx, Doc{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutDoc without id: %v", err)
	}
}
