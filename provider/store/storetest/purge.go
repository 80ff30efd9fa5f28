package storetest

import (
	"slices"
	"testing"
	"time"

	"umbra/provider/store"
)

// testPurgeDeliveries: delivery records go at or before the cutoff, and
// a message whose record went is a new delivery (docs/spec/store.md §4.2).
func testPurgeDeliveries(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	old, recent := messageID("old"), messageID("recent")
	first, _, err := deliver(ctx, m, addr, old, []byte("old"), t0)
	ok(t, err)
	_, _, err = deliver(ctx, m, addr, recent, []byte("recent"), t0.Add(time.Nanosecond))
	ok(t, err)

	_, err = m.PurgeDeliveries(ctx, time.Time{})
	is(t, err, store.ErrInvalid, "PurgeDeliveries with a zero cutoff")
	n, err := m.PurgeDeliveries(ctx, t0.Add(-time.Nanosecond))
	ok(t, err)
	if n != 0 {
		t.Fatalf("purge before every delivery removed %d", n)
	}
	n, err = m.PurgeDeliveries(ctx, t0) // exactly at the first delivery
	ok(t, err)
	if n != 1 {
		t.Fatalf("purge at the first delivery removed %d, want 1", n)
	}

	again, created, err := deliver(ctx, m, addr, old, []byte("old"), t0.Add(time.Hour))
	ok(t, err)
	if !created || again == first {
		t.Fatalf("redelivery after the purge: doc %q created %v, want a new document", again, created)
	}
	_, created, err = deliver(ctx, m, addr, recent, []byte("recent"), t0.Add(time.Hour))
	ok(t, err)
	if created {
		t.Fatal("a delivery after the cutoff was forgotten")
	}
}

// testCollectTombstones: tombstones deleted at or before the cutoff go;
// each account keeps the highest sequence number collected, and a
// listing from above 0 and below it is ErrResync (docs/spec/store.md
// §4.5).
func testCollectTombstones(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	for _, id := range []string{"a", "b", "c", "d"} { // seq 1–4
		_, err := put(ctx, m, alice, id, "k", 0, []byte(id))
		ok(t, err)
	}
	// Times are the caller's: the later change may carry the earlier time.
	_, err := m.Delete(ctx, alice, "c", 1, t0) // seq 5
	ok(t, err)
	_, err = m.Delete(ctx, alice, "b", 1, t0.Add(-time.Hour)) // seq 6
	ok(t, err)
	_, err = m.Delete(ctx, alice, "d", 1, t0.Add(-2*time.Hour)) // seq 7
	ok(t, err)
	_, err = put(ctx, m, alice, "d", "k", 2, []byte("d again")) // seq 8: no longer a tombstone
	ok(t, err)
	_, err = put(ctx, m, bob, "x", "k", 0, []byte("x"))
	ok(t, err)
	_, err = m.Delete(ctx, bob, "x", 1, t0.Add(-3*time.Hour))
	ok(t, err)

	_, err = m.CollectTombstones(ctx, time.Time{})
	is(t, err, store.ErrInvalid, "CollectTombstones with a zero cutoff")
	collect := func(cutoff time.Time, want int) {
		t.Helper()
		n, err := m.CollectTombstones(ctx, cutoff)
		ok(t, err)
		if n != want {
			t.Fatalf("CollectTombstones(%v) removed %d, want %d", cutoff, n, want)
		}
	}
	collect(t0.Add(-3*time.Hour-time.Nanosecond), 0)
	listing(t, m, alice, 1, "c", "b", "d")

	collect(t0.Add(-time.Hour), 2) // b exactly at the cutoff, and bob's x; d is live again
	if _, err := m.Get(ctx, alice, "b"); err == nil {
		t.Fatal("a collected tombstone is still there")
	}
	is(t, resyncAt(t, m, alice, 5), store.ErrResync, "Changes below the collected number")
	is(t, resyncAt(t, m, alice, 1), store.ErrResync, "Changes far below the collected number")
	listing(t, m, alice, 6, "d")           // at the collected number: nothing missed
	listing(t, m, alice, 0, "a", "c", "d") // from scratch: everything there is
	listing(t, m, bob, 2)                  // bob's collected number is his own: 2
	is(t, resyncAt(t, m, bob, 1), store.ErrResync, "bob's Changes below his collected number")

	collect(t0, 1) // c, at seq 5: the collected number stays 6
	is(t, resyncAt(t, m, alice, 5), store.ErrResync, "Changes below the collected number after a lower one was collected")
	listing(t, m, alice, 6, "d")
	listing(t, m, alice, 0, "a", "d")

	// A collected id is free again; the sequence goes on.
	c, err := put(ctx, m, alice, "b", "k", 0, []byte("b again"))
	ok(t, err)
	if c.Revision != 1 || c.Seq != 9 {
		t.Fatalf("re-created after collection: %+v, want revision 1 seq 9", c)
	}
	listing(t, m, alice, 6, "d", "b")
	head, err := m.Head(ctx, alice)
	ok(t, err)
	if head != 9 {
		t.Fatalf("head %d, want 9", head)
	}
}

// resyncAt returns the error of a listing of address's changes since.
func resyncAt(t *testing.T, m store.Mailbox, address string, since int64) error {
	_, err := m.Changes(t.Context(), address, since, store.MaxPage)
	return err
}

// listing checks that address's changes since are the documents ids, in
// that order.
func listing(t *testing.T, m store.Mailbox, address string, since int64, ids ...string) {
	t.Helper()
	list, err := m.Changes(t.Context(), address, since, store.MaxPage)
	if err != nil {
		t.Fatalf("Changes(%s, %d): %v", address, since, err)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.DocID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("Changes(%s, %d) = %v, want %v", address, since, got, ids)
	}
}
