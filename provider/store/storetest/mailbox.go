package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"umbra/provider/store"
)

func testDeliverIdempotent(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	id := messageID("message 1")
	docID, created, err := deliver(ctx, m, alice, id, []byte("first copy"), t0)
	ok(t, err)
	if !created {
		t.Fatal("first Deliver: created false")
	}
	ok(t, store.CheckDocID(docID))
	doc, err := m.Get(ctx, alice, docID)
	ok(t, err)
	if doc.Kind != store.KindMail || doc.Revision != 1 || doc.Seq != 1 || doc.Deleted || string(doc.Data) != "first copy" || doc.Size != 10 {
		t.Fatalf("delivered document: %+v", doc)
	}

	again, created, err := deliver(ctx, m, alice, id, []byte("second copy"), t0)
	ok(t, err)
	if created || again != docID {
		t.Fatalf("redelivery: doc %q created %v, want %q false", again, created, docID)
	}
	if doc, _ := m.Get(ctx, alice, docID); string(doc.Data) != "first copy" || doc.Seq != 1 {
		t.Fatalf("redelivery changed the document: %+v", doc)
	}

	// Deleting the document does not let a redelivery resurrect it.
	_, err = m.Delete(ctx, alice, docID, 1, t0)
	ok(t, err)
	again, created, err = deliver(ctx, m, alice, id, []byte("third copy"), t0)
	ok(t, err)
	if created || again != docID {
		t.Fatalf("redelivery after delete: doc %q created %v", again, created)
	}
	if doc, _ := m.Get(ctx, alice, docID); !doc.Deleted || doc.Data != nil {
		t.Fatalf("redelivery resurrected the document: %+v", doc)
	}
	changes, err := m.Changes(ctx, alice, 0, 100)
	ok(t, err)
	if len(changes) != 1 || changes[0].Seq != 2 {
		t.Fatalf("changes after redeliveries: %+v", changes)
	}

	// The same message id is a different delivery for another account.
	other, created, err := deliver(ctx, m, bob, id, []byte("bob's copy"), t0)
	ok(t, err)
	if !created || other == docID {
		t.Fatalf("delivery to bob: doc %q created %v", other, created)
	}
	_, _, err = deliver(ctx, m, "nobody@example.test", id, []byte("x"), t0)
	is(t, err, store.ErrNotFound, "Deliver to no account")
	_, _, err = deliver(ctx, m, "not an address", id, []byte("x"), t0)
	is(t, err, store.ErrInvalid, "Deliver to an invalid address")
}

// testDeliverConcurrent: N goroutines delivering the same message produce
// one document; different messages delivered at the same time each get
// their own.
func testDeliverConcurrent(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	const n = 16
	type result struct {
		doc     string
		created bool
		err     error
	}
	same := make([]result, n)
	distinct := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &same[i]
			r.doc, r.created, r.err = deliver(ctx, m, addr, messageID("the same"), fmt.Appendf(nil, "copy %d", i), t0)
		})
		wg.Go(func() {
			r := &distinct[i]
			r.doc, r.created, r.err = deliver(ctx, m, addr, messageID(fmt.Sprint("distinct ", i)), []byte("x"), t0)
		})
	}
	wg.Wait()
	docs := map[string]bool{}
	createdSame := 0
	for i, r := range same {
		ok(t, r.err)
		if r.doc != same[0].doc {
			t.Fatalf("delivery %d of the same message made document %q, others %q", i, r.doc, same[0].doc)
		}
		if r.created {
			createdSame++
		}
	}
	if createdSame != 1 {
		t.Fatalf("%d deliveries of the same message report created, want 1", createdSame)
	}
	docs[same[0].doc] = true
	for _, r := range distinct {
		ok(t, r.err)
		if !r.created || docs[r.doc] {
			t.Fatalf("distinct delivery: doc %q created %v (duplicate id %v)", r.doc, r.created, docs[r.doc])
		}
		docs[r.doc] = true
	}
	changes, err := m.Changes(ctx, addr, 0, 1000)
	ok(t, err)
	if len(changes) != n+1 {
		t.Fatalf("%d documents in the feed, want %d", len(changes), n+1)
	}
	for _, c := range changes {
		if !docs[c.DocID] {
			t.Fatalf("unexpected document %q in the feed", c.DocID)
		}
	}
}

func conflict(t *testing.T, err error, current int64, what string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("%s: got %v, want a *store.ConflictError", what, err)
	}
	if ce.Current != current {
		t.Fatalf("%s: conflict reports revision %d, want %d", what, ce.Current, current)
	}
}

func testPutDeleteConflicts(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	c, err := put(ctx, m, addr, "folders", "index", 0, []byte("v1"))
	ok(t, err)
	if c.Revision != 1 || c.Seq != 1 || c.DocID != "folders" || c.Kind != "index" || c.Size != 2 || c.Deleted {
		t.Fatalf("create: %+v", c)
	}
	_, err = put(ctx, m, addr, "folders", "index", 0, []byte("v1 again"))
	conflict(t, err, 1, "create over an existing document")
	_, err = put(ctx, m, addr, "folders", "index", 2, []byte("v3"))
	conflict(t, err, 1, "Put with a future revision")
	_, err = put(ctx, m, addr, "fresh", "index", 1, []byte("x"))
	conflict(t, err, 0, "Put to a missing document with revision 1")

	c, err = put(ctx, m, addr, "folders", "index2", 1, []byte("v2"))
	ok(t, err)
	if c.Revision != 2 || c.Seq != 2 || c.Kind != "index2" {
		t.Fatalf("update: %+v", c)
	}
	doc, err := m.Get(ctx, addr, "folders")
	ok(t, err)
	if doc.Revision != 2 || doc.Seq != 2 || string(doc.Data) != "v2" || doc.Kind != "index2" {
		t.Fatalf("Get after update: %+v", doc)
	}

	_, err = m.Delete(ctx, addr, "folders", 1, t0)
	conflict(t, err, 2, "Delete with a stale revision")
	c, err = m.Delete(ctx, addr, "folders", 2, t0)
	ok(t, err)
	if c.Revision != 3 || c.Seq != 3 || !c.Deleted || c.Size != 0 || c.Kind != "index2" {
		t.Fatalf("delete: %+v", c)
	}
	doc, err = m.Get(ctx, addr, "folders")
	ok(t, err)
	if !doc.Deleted || doc.Data != nil || doc.Revision != 3 || doc.Size != 0 {
		t.Fatalf("tombstone: %+v", doc)
	}
	_, err = m.Delete(ctx, addr, "folders", 3, t0)
	is(t, err, store.ErrNotFound, "Delete a tombstone")
	_, err = m.Delete(ctx, addr, "folders", 2, t0)
	conflict(t, err, 3, "Delete a tombstone with a stale revision")
	_, err = put(ctx, m, addr, "folders", "index", 0, []byte("new"))
	conflict(t, err, 3, "create over a tombstone")
	c, err = put(ctx, m, addr, "folders", "index", 3, []byte("revived"))
	ok(t, err)
	if c.Revision != 4 || c.Seq != 4 || c.Deleted {
		t.Fatalf("revive: %+v", c)
	}
	_, err = m.Delete(ctx, addr, "missing", 0, t0)
	is(t, err, store.ErrNotFound, "Delete a missing document")

	// The failed calls above took no sequence numbers.
	changes, err := m.Changes(ctx, addr, 0, 10)
	ok(t, err)
	if len(changes) != 1 || changes[0].Seq != 4 || changes[0].Revision != 4 {
		t.Fatalf("feed: %+v", changes)
	}
	_, err = put(ctx, m, "nobody@example.test", "d", "k", 0, []byte("x"))
	is(t, err, store.ErrNotFound, "Put for no account")
}

func testDocumentValidation(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	for _, id := range []string{"", "a b", "a/b", "é", "a\x00", strings.Repeat("a", store.MaxDocIDLen+1)} {
		_, err := put(ctx, m, addr, id, "k", 0, nil)
		is(t, err, store.ErrInvalid, fmt.Sprintf("Put id %q", id))
		_, err = m.Get(ctx, addr, id)
		is(t, err, store.ErrInvalid, fmt.Sprintf("Get id %q", id))
		_, err = m.Delete(ctx, addr, id, 1, t0)
		is(t, err, store.ErrInvalid, fmt.Sprintf("Delete id %q", id))
	}
	longest := strings.Repeat("z", store.MaxDocIDLen)
	_, err := put(ctx, m, addr, longest, "k", 0, nil)
	ok(t, err)
	_, err = put(ctx, m, addr, "Az09-_.~:", "k", 0, []byte{})
	ok(t, err)
	for _, kind := range []string{"", "Mail", "a b", strings.Repeat("k", store.MaxKindLen+1)} {
		_, err := put(ctx, m, addr, "d", kind, 0, nil)
		is(t, err, store.ErrInvalid, fmt.Sprintf("Put kind %q", kind))
	}
	_, err = put(ctx, m, addr, "d", "k", -1, nil)
	is(t, err, store.ErrInvalid, "Put with a negative revision")
	_, err = m.Get(ctx, addr, "missing")
	is(t, err, store.ErrNotFound, "Get a missing document")
	_, err = m.Changes(ctx, addr, 0, 0)
	is(t, err, store.ErrInvalid, "Changes with limit 0")
	_, err = m.Changes(ctx, "nobody@example.test", 0, 10)
	is(t, err, store.ErrNotFound, "Changes of no account")
}

// testSeqConcurrent: many writers of one account; the sequence numbers
// they are given are exactly 1..N, and the feed agrees with the last
// write of every document.
func testSeqConcurrent(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr, other := "alice@example.test", "bob@example.test"
	active(t, s, addr)
	active(t, s, other)
	const writers, rounds = 8, 6
	var mu sync.Mutex
	var seqs []int64
	last := map[string]store.Change{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			doc := fmt.Sprint("doc-", w)
			var rev int64
			for r := range rounds {
				c, err := put(ctx, m, addr, doc, "k", rev, fmt.Appendf(nil, "%d/%d", w, r))
				if err != nil {
					t.Error(err)
					return
				}
				rev = c.Revision
				// A conflicting write to the same account takes no number.
				if _, err := put(ctx, m, addr, doc, "k", 0, nil); !errors.Is(err, store.ErrConflict) {
					t.Errorf("stale Put: %v", err)
				}
				// Another account's writes do not touch this sequence.
				if _, err := put(ctx, m, other, doc, "k", int64(r), nil); err != nil {
					t.Error(err)
				}
				mu.Lock()
				seqs = append(seqs, c.Seq)
				last[doc] = c
				mu.Unlock()
			}
			id, _, err := deliver(ctx, m, addr, messageID(doc), []byte("mail"), t0)
			if err != nil {
				t.Error(err)
				return
			}
			d, err := m.Get(ctx, addr, id)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seqs = append(seqs, d.Seq)
			last[id] = d.Change
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("sequence numbers given out: %v; want 1..%d without gaps or repeats", seqs, len(seqs))
		}
	}
	changes, err := m.Changes(ctx, addr, 0, store.MaxPage)
	ok(t, err)
	if len(changes) != len(last) {
		t.Fatalf("feed has %d documents, want %d", len(changes), len(last))
	}
	for i, c := range changes {
		if i > 0 && c.Seq <= changes[i-1].Seq {
			t.Fatalf("feed not strictly increasing at %d: %d after %d", i, c.Seq, changes[i-1].Seq)
		}
		if want := last[c.DocID]; c != want {
			t.Fatalf("feed entry %+v, last write was %+v", c, want)
		}
	}
}

func testChangesPaging(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr, other := "alice@example.test", "bob@example.test"
	active(t, s, addr)
	active(t, s, other)
	if cs, err := m.Changes(ctx, addr, 0, 10); err != nil || len(cs) != 0 {
		t.Fatalf("empty feed: %v, %v", cs, err)
	}
	if h, err := m.Head(ctx, addr); err != nil || h != 0 {
		t.Fatalf("head of an empty feed: %d, %v", h, err)
	}
	if _, err := m.Head(ctx, "nobody@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head of an unknown account: %v", err)
	}
	revs := map[string]int64{}
	for i := range 30 {
		doc := fmt.Sprint("d", i%20) // the last 10 writes update documents
		c, err := put(ctx, m, addr, doc, "k", revs[doc], bytes.Repeat([]byte{byte(i)}, i))
		ok(t, err)
		revs[doc] = c.Revision
	}
	_, err := m.Delete(ctx, addr, "d3", revs["d3"], t0)
	ok(t, err)
	oc, err := put(ctx, m, other, "d0", "k", 0, nil)
	ok(t, err)
	if oc.Seq != 1 {
		t.Fatalf("another account's first change has seq %d, want 1", oc.Seq)
	}

	all, err := m.Changes(ctx, addr, 0, store.MaxPage)
	ok(t, err)
	if len(all) != 20 || all[len(all)-1].Seq != 31 || all[len(all)-1].DocID != "d3" || !all[len(all)-1].Deleted {
		t.Fatalf("whole feed: %d entries, last %+v", len(all), all[len(all)-1])
	}
	if h, err := m.Head(ctx, addr); err != nil || h != 31 {
		t.Fatalf("head %d, %v; want 31", h, err)
	}
	// The updated documents moved to the end: d10..d19 first, then d0..d9.
	if all[0].DocID != "d10" || all[0].Seq != 11 || all[0].Size != 10 {
		t.Fatalf("first entry %+v, want d10 at seq 11", all[0])
	}
	var paged []store.Change
	since := int64(0)
	for range len(all) { // more pages than entries: the feed does not advance
		page, err := m.Changes(ctx, addr, since, 7)
		ok(t, err)
		paged = append(paged, page...)
		if len(page) < 7 {
			break
		}
		since = page[len(page)-1].Seq
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged feed differs from the whole feed:\n%v\n%v", paged, all)
	}
	if tail, err := m.Changes(ctx, addr, 31, 10); err != nil || len(tail) != 0 {
		t.Fatalf("feed after the last seq: %v, %v", tail, err)
	}
	if mid, _ := m.Changes(ctx, addr, 25, 100); len(mid) != 6 || mid[0].Seq != 26 {
		t.Fatalf("feed after 25: %+v", mid)
	}
}
