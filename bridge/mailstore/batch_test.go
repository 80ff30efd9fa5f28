package mailstore

import (
	"context"
	"errors"
	"testing"
)

func TestBatchCommitsAllOrNone(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := context.Background()
	var events []Event
	defer s.Subscribe(func(e Event) { events = append(events, e) })()

	b := new(Batch)
	for _, k := range []string{"k1", "k2"} {
		if err := b.Add(NewMessage{Key: k, Mailbox: Inbox, MIME: mimeMsg("batched "+k, "body")}, Local); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PutDoc(Doc{ID: "mail-1", Kind: "mail", Revision: 1, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	b.Pushed("k2", 1<<40)
	if b.Len() != 4 || b.Size() == 0 {
		t.Fatalf("Len %d Size %d", b.Len(), b.Size())
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatal("the batch is not empty after Commit")
	}
	if len(events) != 2 || events[0].Kind != MessageAdded || events[0].UID+1 != events[1].UID {
		t.Fatalf("events %+v", events)
	}
	if docs, err := s.DocsOfKey(ctx, "k1"); err != nil || len(docs) != 1 || docs[0].ID != "mail-1" {
		t.Fatalf("DocsOfKey: %+v %v", docs, err)
	}
	pending, err := s.Pending(ctx, 0)
	if err != nil || len(pending) != 1 || pending[0].Key != "k1" {
		t.Fatalf("Pending after Pushed(k2): %+v %v", pending, err)
	}
	// Both adds are found by search: the index queue was flushed.
	uids, err := s.Search(ctx, mailbox(t, s, Inbox).ID, FieldSubject, "batched")
	if err != nil || len(uids) != 2 {
		t.Fatalf("Search: %v %v", uids, err)
	}

	// A failing write undoes the whole batch.
	b.Add(NewMessage{Key: "k3", Mailbox: Inbox, MIME: mimeMsg("three", "x")}, Remote)
	b.Add(NewMessage{Key: "k4", Mailbox: "No/Such", MIME: mimeMsg("four", "x")}, Remote)
	if err := s.Commit(ctx, b); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Commit with a missing mailbox: %v", err)
	}
	if _, err := s.ByKey(ctx, "k3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("k3 was kept from a failed batch: %v", err)
	}
	if len(events) != 2 {
		t.Fatalf("a failed batch sent events: %+v", events[2:])
	}
	if uids, _ := s.Search(ctx, mailbox(t, s, Inbox).ID, FieldSubject, "three"); len(uids) != 0 {
		t.Fatalf("the failed batch left index rows: %v", uids)
	}
	// And the next write works and indexes.
	add(t, s, "k5", Inbox, Remote)
}
