package postgres

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"umbra/provider/store"
)

// TestDeliverStreamDeadlock: a streamed delivery caught in a deadlock
// while it takes its locks, against a transaction that holds the
// account's row and then records the same message, is run again with its
// stream unread (or goes on, if the other is the one aborted), and
// stores the whole message once the other has rolled back.
func TestDeliverStreamDeadlock(t *testing.T) {
	t.Parallel()
	s := openTest(t, cluster.NewDatabase(t))
	ctx := t.Context()
	const addr = "bob@example.test"
	code := sha256.Sum256([]byte(addr))
	if err := s.Accounts().AddInvited(ctx, addr, code); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts().Activate(ctx, addr, code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*store.MaxDeliverBuffer)
	rand.Read(data)
	id := store.MessageID(sha256.Sum256(data))

	other, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `UPDATE accounts SET last_seq = last_seq WHERE address = $1`, addr); err != nil {
		t.Fatal(err)
	}
	type result struct {
		docID   string
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.docID, r.created, r.err = s.Mailbox().Deliver(ctx, addr, id, bytes.NewReader(data), int64(len(data)), time.Now())
		done <- r
	}()
	// Once the delivery has recorded the message and waits for the
	// account's row, the other transaction records the same message: each
	// waits for the other.
	for waiting := 0; waiting == 0; {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	_, err = other.Exec(ctx, `INSERT INTO deliveries (address, message_id, doc_id, delivered) VALUES ($1, $2, 'other', 0)`, addr, id[:])
	t.Logf("the other transaction's record: %v", err) // a deadlock error if PostgreSQL aborted it rather than the delivery
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !r.created {
		t.Fatalf("delivery caught in a deadlock: created %v, %v", r.created, r.err)
	}
	doc, err := s.Mailbox().Get(ctx, addr, r.docID)
	if err != nil || doc.Seq != 1 || !bytes.Equal(doc.Data, data) {
		t.Fatalf("document after the deadlock: %+v (%d bytes, equal %v), %v", doc.Change, len(doc.Data), bytes.Equal(doc.Data, data), err)
	}
}
