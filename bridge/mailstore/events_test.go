package mailstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestEventOrderAndCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	r := record(s)
	var inside []Event
	var cancel func()
	cancel = s.Subscribe(func(ev Event) {
		inside = append(inside, ev)
		// A callback may read the store, and cancel itself.
		if _, err := s.Mailboxes(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	})
	m := add(t, s, "k1", Inbox, Local)
	if len(inside) != 1 || inside[0].Kind != MessageAdded || inside[0].Origin != Local {
		t.Fatalf("self-cancelling subscriber saw %+v", inside)
	}
	box, err := s.CreateMailbox(ctx, "B", Remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetFlags(ctx, m.ID, []string{`\Seen`}, Local); err != nil {
		t.Fatal(err)
	}
	moved, err := s.Move(ctx, m.ID, "B", Local)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, m.ID, Inbox, "k2", Local); err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(ctx, moved.ID, Local); err != nil {
		t.Fatal(err)
	}
	in := m.MailboxID
	wantEvents(t, r,
		fmt.Sprintf("added %d 1", in), fmt.Sprintf("mailboxes %d 0", box.ID), fmt.Sprintf("flags %d 1", in),
		fmt.Sprintf("expunged %d 1", in), fmt.Sprintf("added %d 1", box.ID),
		fmt.Sprintf("added %d 2", in), fmt.Sprintf("expunged %d 1", box.ID))
	if len(inside) != 1 {
		t.Fatalf("cancelled subscriber called again: %+v", inside)
	}
	// Failed writes report nothing.
	if _, err := s.Move(ctx, 999, Inbox, Local); err == nil {
		t.Fatal("Move of a missing message succeeded")
	}
	wantEvents(t, r)
}

// TestConcurrentWritersSeeCommitOrder checks, with several writers, that
// the UIDs reported for a mailbox arrive in increasing order: the order
// of the commits.
func TestConcurrentWritersSeeCommitOrder(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	var mu sync.Mutex
	var last uint32
	s.Subscribe(func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.UID <= last {
			t.Errorf("UID %d after %d", ev.UID, last)
		}
		last = ev.UID
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				if _, _, err := s.Add(context.Background(), NewMessage{Key: fmt.Sprintf("%d-%d", w, i), Mailbox: Inbox, MIME: mimeMsg("s", fmt.Sprint(w, i))}, Remote); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if last != 40 {
		t.Fatalf("last UID %d, want 40", last)
	}
}

// TestReadersBesideWriter runs IMAP-like readers while the sync engine
// adds, under -race: every read sees a consistent mailbox.
func TestReadersBesideWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	inbox := mailbox(t, s, Inbox).ID
	const n = 100
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 { // more readers than pooled connections
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				ms, err := s.List(ctx, inbox)
				if err != nil {
					t.Error(err)
					return
				}
				for i, m := range ms {
					if m.UID != uint32(i+1) {
						t.Errorf("UID %d at %d", m.UID, i)
						return
					}
				}
				if len(ms) > 0 {
					if _, err := s.Content(ctx, ms[len(ms)-1].ContentID); err != nil {
						t.Error(err)
					}
				}
				if _, err := s.Search(ctx, inbox, FieldSubject, "subject"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range n {
		add(t, s, fmt.Sprint("k", i), Inbox, Remote)
	}
	close(done)
	wg.Wait()
	if got := uids(t, s, Inbox); len(got) != n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Mailboxes(ctx); err == nil {
		t.Fatal("read with a cancelled context succeeded")
	}
	if _, _, err := s.Add(ctx, NewMessage{Key: "k", Mailbox: Inbox}, Local); err == nil {
		t.Fatal("write with a cancelled context succeeded")
	}
	// The store still works afterwards.
	add(t, s, "k", Inbox, Local)
}
