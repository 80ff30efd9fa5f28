package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
)

// FuzzMailbox drives a fresh account of s through a sequence of Put,
// Delete, Deliver, Get and tombstone collection decoded from the input,
// and checks every answer against a model of the mailbox rules
// (docs/spec/store.md §4): revisions, conflicts, tombstones, idempotent
// delivery, the gap-free change sequence and the collected number. raw is
// a client-chosen document id, the mailbox's outside input: it must be
// accepted exactly when store.CheckDocID accepts it.
func FuzzMailbox(f *testing.F, s store.Store) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 1, 0, 1, 3, 0, 0}, "doc-1")
	f.Add([]byte{2, 0, 5, 2, 0, 5, 1, 3, 1, 0, 3, 2, 3, 3, 0}, "a")
	f.Add([]byte{0, 2, 0, 3, 2, 0, 1, 2, 1, 0, 2, 2, 3, 2, 0}, "bad id")
	f.Add([]byte{0, 1, 1, 0, 1, 0, 1, 1, 1, 2, 9, 9, 1, 3, 2}, "")
	f.Add([]byte{0, 0, 0, 1, 0, 1, 4, 5, 1, 0, 0, 0, 3, 0, 0, 4, 23, 3}, "c") // collected, listed before it, re-created
	var accounts atomic.Int64
	f.Fuzz(func(t *testing.T, ops []byte, raw string) {
		addr := fmt.Sprintf("fuzz%d@example.test", accounts.Add(1))
		active(t, s, addr)
		fuzzOps(t, s.Mailbox(), addr, ops, raw)
	})
}

type modelDoc struct {
	change  store.Change
	data    string
	deleted time.Time // of a tombstone
}

func fuzzOps(t *testing.T, m store.Mailbox, addr string, ops []byte, raw string) {
	ctx := t.Context()
	docs := map[string]*modelDoc{}
	delivered := map[byte]string{}
	pool := []string{"a", "b", raw}
	var seq, collected int64
	for step := 0; len(ops) >= 3 && step < 24; step++ {
		op, x, y := ops[0], ops[1], ops[2]
		ops = ops[3:]
		id := pool[int(x)%len(pool)]
		rev := int64(y % 4)
		d := docs[id]
		var cur int64
		if d != nil {
			cur = d.change.Revision
		}
		validID := store.CheckDocID(id) == nil
		switch op % 5 {
		case 0:
			data := fmt.Sprintf("%d:%d", step, y)
			c, err := put(ctx, m, addr, id, "k", rev, []byte(data))
			switch {
			case !validID:
				is(t, err, store.ErrInvalid, fmt.Sprintf("Put id %q", id))
			case rev != cur:
				conflict(t, err, cur, fmt.Sprintf("Put %q rev %d", id, rev))
			default:
				ok(t, err)
				seq++
				want := store.Change{DocID: id, Kind: "k", Revision: cur + 1, Seq: seq, Size: int64(len(data))}
				if c != want {
					t.Fatalf("Put %q: %+v, want %+v", id, c, want)
				}
				docs[id] = &modelDoc{change: c, data: data}
			}
		case 1:
			at := t0.Add(time.Duration(step) * time.Second)
			c, err := m.Delete(ctx, addr, id, rev, at)
			switch {
			case !validID:
				is(t, err, store.ErrInvalid, fmt.Sprintf("Delete id %q", id))
			case d == nil:
				is(t, err, store.ErrNotFound, fmt.Sprintf("Delete missing %q", id))
			case rev != cur:
				conflict(t, err, cur, fmt.Sprintf("Delete %q rev %d", id, rev))
			case d.change.Deleted:
				is(t, err, store.ErrNotFound, fmt.Sprintf("Delete tombstone %q", id))
			default:
				ok(t, err)
				seq++
				want := store.Change{DocID: id, Kind: d.change.Kind, Revision: cur + 1, Seq: seq, Deleted: true}
				if c != want {
					t.Fatalf("Delete %q: %+v, want %+v", id, c, want)
				}
				docs[id] = &modelDoc{change: c, deleted: at}
			}
		case 2:
			key := y % 4
			data := fmt.Sprint("mail ", step)
			docID, created, err := deliver(ctx, m, addr, messageID(string(rune(key))), []byte(data), t0)
			ok(t, err)
			if prev, seen := delivered[key]; seen {
				if created || docID != prev {
					t.Fatalf("redelivery %d: %q created %v, want %q", key, docID, created, prev)
				}
				continue
			}
			if !created || docs[docID] != nil {
				t.Fatalf("delivery %d: %q created %v", key, docID, created)
			}
			seq++
			delivered[key] = docID
			pool = append(pool, docID)
			docs[docID] = &modelDoc{change: store.Change{DocID: docID, Kind: store.KindMail, Revision: 1, Seq: seq, Size: int64(len(data))}, data: data}
		case 3:
			got, err := m.Get(ctx, addr, id)
			switch {
			case !validID:
				is(t, err, store.ErrInvalid, fmt.Sprintf("Get id %q", id))
			case d == nil:
				is(t, err, store.ErrNotFound, fmt.Sprintf("Get missing %q", id))
			default:
				ok(t, err)
				if got.Change != d.change || string(got.Data) != d.data || (got.Data == nil) != d.change.Deleted {
					t.Fatalf("Get %q: %+v, want %+v %q", id, got, d.change, d.data)
				}
			}
		case 4:
			// Collect the tombstones deleted up to step x (other accounts'
			// too: they are done), then list from since y.
			cutoff := t0.Add(time.Duration(x%24) * time.Second)
			want := 0
			for id, d := range docs {
				if d.change.Deleted && !d.deleted.After(cutoff) {
					want++
					collected = max(collected, d.change.Seq)
					delete(docs, id)
				}
			}
			n, err := m.CollectTombstones(ctx, cutoff)
			ok(t, err)
			if n < want {
				t.Fatalf("CollectTombstones removed %d, want at least this account's %d", n, want)
			}
			since := int64(y) % (seq + 1)
			_, err = m.Changes(ctx, addr, since, store.MaxPage)
			if since > 0 && since < collected {
				is(t, err, store.ErrResync, fmt.Sprintf("Changes since %d, collected %d", since, collected))
			} else {
				ok(t, err)
			}
		}
	}
	feed, err := m.Changes(ctx, addr, 0, store.MaxPage)
	ok(t, err)
	if len(feed) != len(docs) {
		t.Fatalf("feed has %d documents, model %d", len(feed), len(docs))
	}
	for i, c := range feed {
		if d := docs[c.DocID]; d == nil || c != d.change {
			t.Fatalf("feed[%d] = %+v, model %+v", i, c, d)
		}
		if i > 0 && c.Seq <= feed[i-1].Seq {
			t.Fatalf("feed not increasing at %d", i)
		}
	}
	if head, err := m.Head(ctx, addr); err != nil || head != seq {
		t.Fatalf("head %d (%v), model %d", head, err, seq)
	}
}
