package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/provider/store"
)

// body is the message of outbound(i, …).
func body(i int) []byte { return fmt.Appendf(nil, "message %d", i) }

func outbound(i int, notBefore time.Time) store.Outbound {
	return store.Outbound{
		MessageID: messageID(fmt.Sprint("outbound ", i)),
		Domain:    "example.org",
		Message:   bytes.NewReader(body(i)),
		Size:      int64(len(body(i))),
		BounceTo:  fmt.Appendf(nil, "bounce %d", i),
		NotBefore: notBefore,
	}
}

func enqueue(t *testing.T, s store.Store, m store.Outbound) int64 {
	t.Helper()
	id, created, err := s.Queue().Enqueue(t.Context(), m)
	ok(t, err)
	if !created {
		t.Fatalf("Enqueue %s: created false", m.MessageID)
	}
	return id
}

func testEnqueue(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	before := time.Now().Add(-time.Second)
	m := outbound(1, time.Time{}) // due now
	id := enqueue(t, s, m)
	after := time.Now().Add(time.Second)
	e, err := q.Get(ctx, id)
	ok(t, err)
	if e.ID != id || e.MessageID != m.MessageID || e.Domain != m.Domain || !bytes.Equal(e.Message, body(1)) ||
		!bytes.Equal(e.BounceTo, m.BounceTo) || e.Size != int64(len(body(1))) || e.Attempts != 0 ||
		e.LastError != "" || e.LeaseOwner != "" || !e.LeaseUntil.IsZero() {
		t.Fatalf("queued entry: %+v", e)
	}
	if e.Created.Before(before) || e.Created.After(after) || !e.NextAttempt.Equal(e.Created) {
		t.Fatalf("queued entry times: created %v, next %v", e.Created, e.NextAttempt)
	}

	dup := m
	dup.Message, dup.Size = strings.NewReader("another body"), 12
	again, created, err := q.Enqueue(ctx, dup)
	ok(t, err)
	if created || again != id {
		t.Fatalf("re-Enqueue: id %d created %v, want %d false", again, created, id)
	}
	if e, _ := q.Get(ctx, id); !bytes.Equal(e.Message, body(1)) {
		t.Fatal("re-Enqueue replaced the message")
	}

	noBounce := outbound(2, t0)
	noBounce.BounceTo = nil
	id2 := enqueue(t, s, noBounce)
	if e, _ := q.Get(ctx, id2); e.BounceTo != nil || !e.NextAttempt.Equal(t0) {
		t.Fatalf("entry without bounce-to: %+v", e)
	}
	if id2 <= id {
		t.Fatalf("entry ids not increasing: %d then %d", id, id2)
	}

	bad := outbound(3, t0)
	bad.Domain = "Example.org"
	_, _, err = q.Enqueue(ctx, bad)
	is(t, err, store.ErrInvalid, "Enqueue to an invalid domain")
	bad = outbound(3, t0)
	bad.Message, bad.Size = nil, 0
	_, _, err = q.Enqueue(ctx, bad)
	is(t, err, store.ErrInvalid, "Enqueue an empty message")
	bad = outbound(3, t0)
	bad.BounceTo = make([]byte, store.MaxBounceToSize+1)
	_, _, err = q.Enqueue(ctx, bad)
	is(t, err, store.ErrInvalid, "Enqueue an oversize bounce-to")
	_, err = q.Get(ctx, 999999)
	is(t, err, store.ErrNotFound, "Get a missing entry")
}

// testClaimExclusive: concurrent relays never receive the same entry, and
// between them they receive all of them.
func testClaimExclusive(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	const n, claimers = 60, 4
	for i := range n {
		enqueue(t, s, outbound(i, t0))
	}
	var mu sync.Mutex
	got := map[int64]string{}
	var wg sync.WaitGroup
	for c := range claimers {
		owner := fmt.Sprint("relay-", c)
		wg.Go(func() {
			// Each claim takes at least one entry, so n claims are more
			// than enough; more means entries are handed out twice.
			for range n {
				es, err := q.Claim(ctx, t0.Add(time.Second), 5, time.Minute, owner)
				if err != nil {
					t.Error(err)
					return
				}
				if len(es) == 0 {
					return
				}
				mu.Lock()
				for _, e := range es {
					if prev, dup := got[e.ID]; dup {
						t.Errorf("entry %d claimed by %s and %s", e.ID, prev, owner)
					}
					got[e.ID] = owner
					if e.LeaseOwner != owner || !e.LeaseUntil.Equal(t0.Add(time.Second+time.Minute)) || e.Attempts != 1 || e.Message != nil || e.Size == 0 {
						t.Errorf("claimed entry: %+v", e)
					}
				}
				mu.Unlock()
			}
			t.Errorf("%s still claiming after %d claims", owner, n)
		})
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d entries claimed, want %d", len(got), n)
	}
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	id := enqueue(t, s, outbound(1, t0))
	es, err := q.Claim(ctx, t0, 10, time.Minute, "relay-a")
	ok(t, err)
	if len(es) != 1 || es[0].ID != id {
		t.Fatalf("first claim: %+v", es)
	}
	es, err = q.Claim(ctx, t0.Add(59*time.Second), 10, time.Minute, "relay-b")
	ok(t, err)
	if len(es) != 0 {
		t.Fatalf("claim under a live lease returned %d entries", len(es))
	}
	// relay-a crashed: once its lease has expired, relay-b takes over.
	es, err = q.Claim(ctx, t0.Add(time.Minute), 10, time.Minute, "relay-b")
	ok(t, err)
	if len(es) != 1 || es[0].ID != id || es[0].Attempts != 2 || es[0].LeaseOwner != "relay-b" {
		t.Fatalf("claim after expiry: %+v", es)
	}
	is(t, q.Complete(ctx, id, "relay-a"), store.ErrLeaseLost, "Complete by the expired owner")
	is(t, q.Reschedule(ctx, id, "relay-a", t0.Add(time.Hour), "late"), store.ErrLeaseLost, "Reschedule by the expired owner")
	ok(t, q.Complete(ctx, id, "relay-b"))
	_, err = q.Get(ctx, id)
	is(t, err, store.ErrNotFound, "Get a completed entry")
	is(t, q.Complete(ctx, id, "relay-b"), store.ErrNotFound, "Complete twice")

	// An expired lease that nobody took over still belongs to its owner.
	id = enqueue(t, s, outbound(2, t0))
	_, err = q.Claim(ctx, t0, 10, time.Minute, "relay-a")
	ok(t, err)
	ok(t, q.Complete(ctx, id, "relay-a"))
}

func testReschedule(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	id := enqueue(t, s, outbound(1, t0))
	_, err := q.Claim(ctx, t0, 1, time.Minute, "relay")
	ok(t, err)
	is(t, q.Reschedule(ctx, id, "someone else", t0.Add(time.Hour), "x"), store.ErrLeaseLost, "Reschedule by another owner")
	is(t, q.Complete(ctx, id, "someone else"), store.ErrLeaseLost, "Complete by another owner")
	ok(t, q.Reschedule(ctx, id, "relay", t0.Add(10*time.Minute), "451 4.3.0 try later"))
	e, err := q.Get(ctx, id)
	ok(t, err)
	if !e.NextAttempt.Equal(t0.Add(10*time.Minute)) || e.LastError != "451 4.3.0 try later" || e.LeaseOwner != "" || !e.LeaseUntil.IsZero() || e.Attempts != 1 {
		t.Fatalf("rescheduled: %+v", e)
	}
	is(t, q.Reschedule(ctx, id, "relay", t0, "again"), store.ErrLeaseLost, "Reschedule after releasing")

	if es, _ := q.Claim(ctx, t0.Add(5*time.Minute), 10, time.Minute, "relay"); len(es) != 0 {
		t.Fatalf("claimed before its next attempt: %+v", es)
	}
	es, err := q.Claim(ctx, t0.Add(10*time.Minute), 10, time.Minute, "relay")
	ok(t, err)
	if len(es) != 1 || es[0].Attempts != 2 || es[0].LastError != "451 4.3.0 try later" {
		t.Fatalf("claim at the next attempt: %+v", es)
	}
	long := strings.Repeat("€", store.MaxLastError) // 3 bytes each: the limit falls inside a rune
	ok(t, q.Reschedule(ctx, id, "relay", t0.Add(time.Hour), long))
	e, err = q.Get(ctx, id)
	ok(t, err)
	if len(e.LastError) > store.MaxLastError || !strings.HasPrefix(long, e.LastError) || len(e.LastError) < store.MaxLastError-2 {
		t.Fatalf("long error kept as %d bytes", len(e.LastError))
	}
	is(t, q.Complete(ctx, 999999, "relay"), store.ErrNotFound, "Complete a missing entry")
	_, err = q.Claim(ctx, t0, 0, time.Minute, "relay")
	is(t, err, store.ErrInvalid, "Claim with limit 0")
	_, err = q.Claim(ctx, t0, 1, 0, "relay")
	is(t, err, store.ErrInvalid, "Claim with no lease")
	_, err = q.Claim(ctx, t0, 1, time.Minute, "")
	is(t, err, store.ErrInvalid, "Claim without owner")
}

func testQueueOrder(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	late := enqueue(t, s, outbound(1, t0.Add(3*time.Second)))
	early := enqueue(t, s, outbound(2, t0.Add(1*time.Second)))
	mid := enqueue(t, s, outbound(3, t0.Add(2*time.Second)))
	tie := enqueue(t, s, outbound(4, t0.Add(2*time.Second)))
	es, err := q.Claim(ctx, t0.Add(1500*time.Millisecond), 10, time.Minute, "relay")
	ok(t, err)
	if len(es) != 1 || es[0].ID != early {
		t.Fatalf("claim at +1.5s: %+v", es)
	}
	es, err = q.Claim(ctx, t0.Add(5*time.Second), 2, time.Minute, "relay")
	ok(t, err)
	if len(es) != 2 || es[0].ID != mid || es[1].ID != tie {
		t.Fatalf("claim of 2 at +5s: got %v, want [%d %d]", ids(es), mid, tie)
	}
	es, err = q.Claim(ctx, t0.Add(5*time.Second), 10, time.Minute, "relay")
	ok(t, err)
	if len(es) != 1 || es[0].ID != late {
		t.Fatalf("last claim: got %v, want [%d]", ids(es), late)
	}
}

func ids(es []store.QueueEntry) []int64 {
	var l []int64
	for _, e := range es {
		l = append(l, e.ID)
	}
	return l
}

func testDropList(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	var want []int64
	for i := range 3 {
		want = append(want, enqueue(t, s, outbound(i, t0)))
	}
	list, err := q.List(ctx)
	ok(t, err)
	if len(list) != 3 {
		t.Fatalf("List: %d entries", len(list))
	}
	for i, e := range list {
		if e.ID != want[i] || e.Message != nil || e.Size != int64(len(body(i))) || e.Domain != "example.org" {
			t.Fatalf("List[%d] = %+v", i, e)
		}
	}
	_, err = q.Claim(ctx, t0, 1, time.Minute, "relay") // claims want[0]
	ok(t, err)
	ok(t, q.Drop(ctx, want[0])) // dropping a claimed entry is allowed
	ok(t, q.Drop(ctx, want[1]))
	is(t, q.Drop(ctx, want[1]), store.ErrNotFound, "Drop twice")
	is(t, q.Complete(ctx, want[0], "relay"), store.ErrNotFound, "Complete a dropped entry")
	list, err = q.List(ctx)
	ok(t, err)
	if len(list) != 1 || list[0].ID != want[2] {
		t.Fatalf("List after drops: %v", ids(list))
	}
	// Once dropped, the message may be queued again, as a new entry.
	again := enqueue(t, s, outbound(1, t0))
	if again == want[1] {
		t.Fatalf("a new entry reused id %d", again)
	}
}

// testRetry: Retry makes a waiting entry due at once and releases a live
// claim, keeping attempts and age; the old holder's Complete then fails.
func testRetry(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	id := enqueue(t, s, outbound(0, t0))
	got, err := q.Claim(ctx, t0, 1, time.Hour, "relay")
	ok(t, err)
	if len(got) != 1 {
		t.Fatalf("Claim: %d entries", len(got))
	}
	ok(t, q.Reschedule(ctx, id, "relay", t0.Add(time.Hour), "refused"))
	if got, err := q.Claim(ctx, t0.Add(time.Minute), 1, time.Hour, "relay"); err != nil || len(got) != 0 {
		t.Fatalf("Claim before the retry: %d entries, %v", len(got), err)
	}
	ok(t, q.Retry(ctx, id, t0.Add(time.Minute)))
	got, err = q.Claim(ctx, t0.Add(time.Minute), 1, time.Hour, "relay")
	ok(t, err)
	if len(got) != 1 || got[0].Attempts != 2 || got[0].LastError != "refused" {
		t.Fatalf("Claim after the retry: %+v", got)
	}
	// Retry releases a live claim.
	ok(t, q.Retry(ctx, id, t0.Add(2*time.Minute)))
	is(t, q.Complete(ctx, id, "relay"), store.ErrLeaseLost, "Complete after Retry")
	e, err := q.Get(ctx, id)
	ok(t, err)
	if e.LeaseOwner != "" || !e.NextAttempt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("entry after Retry: %+v", e)
	}
	is(t, q.Retry(ctx, id+1000, t0), store.ErrNotFound, "Retry of an unknown entry")
}
