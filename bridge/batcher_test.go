package bridge

import (
	"context"
	"path/filepath"
	"testing"

	"umbra/bridge/mailstore"
)

// TestBatcherKeepsOrder: batches commit behind the applier in the order
// they were queued, and once one fails, none queued after it commits, so
// a feed cursor is never recorded past documents that were not.
func TestBatcherKeepsOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile))
	defer s.Close()
	b := &Bridge{store: s}
	msg := func(subject string) []byte { return []byte("Subject: " + subject + "\r\n\r\nbody\r\n") }

	q := newBatcher(b)
	if err := q.cur.Add(mailstore.NewMessage{Key: "k1", Mailbox: mailstore.Inbox, MIME: msg("one")}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	q.cur.SetCursor(10)
	if err := q.behind(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.cur.Add(mailstore.NewMessage{Key: "k2", Mailbox: mailstore.Inbox, MIME: msg("two")}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	q.cur.SetCursor(20)
	if err := q.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Cursor(ctx); err != nil || c != 20 {
		t.Fatalf("cursor %d, %v; want 20", c, err)
	}
	for _, k := range []string{"k1", "k2"} {
		if _, err := s.ByKey(ctx, k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}

	// A batch that cannot commit (its mailbox does not exist), then one
	// that moves the cursor on: the second must not commit.
	if err := q.cur.Add(mailstore.NewMessage{Key: "k3", Mailbox: "Nowhere", MIME: msg("three")}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	q.cur.SetCursor(30)
	if err := q.behind(ctx); err != nil {
		t.Fatal(err) // the failure shows at the next wait
	}
	if err := q.cur.Add(mailstore.NewMessage{Key: "k4", Mailbox: mailstore.Inbox, MIME: msg("four")}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	q.cur.SetCursor(40)
	if err := q.behind(ctx); err == nil {
		t.Fatal("behind after a failed commit reported no error")
	}
	// pullOnce flushes on the way out: that must not commit either.
	if err := q.flush(ctx); err == nil {
		t.Fatal("flush after a failed commit reported no error")
	}
	if c, _ := s.Cursor(ctx); c != 20 {
		t.Fatalf("cursor %d after a failed batch; want 20", c)
	}
	if _, err := s.ByKey(ctx, "k4"); err == nil {
		t.Fatal("a batch queued after a failed one committed")
	}
}
