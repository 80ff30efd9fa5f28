package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"umbra/provider/store"
)

// Put and Enqueue read their data from a stream as Deliver does
// (docs/spec/store.md §4.3, §5.1), and a claimed message is read back
// through Queue.Open (§5.2). These tests give them readers, of sizes on
// both sides of store.MaxDeliverBuffer, as stream.go gives Deliver.

// putSizes: the empty document, which Put allows, and streamSizes.
var putSizes = slices.Concat([]int64{0}, streamSizes)

// readAll reads r's size bytes in calls of MaxReadPiece, as a server
// sends them, and returns their digest.
func readAll(t *testing.T, r io.ReaderAt, size int64) [sha256.Size]byte {
	t.Helper()
	h := sha256.New()
	buf := make([]byte, store.MaxReadPiece)
	_, err := io.CopyBuffer(h, io.NewSectionReader(r, 0, size), buf)
	ok(t, err)
	return [sha256.Size]byte(h.Sum(nil))
}

// hasDoc fails unless address's document docID is revision rev at seq
// with the data of generated(seed, size), through Get and through Open.
func hasDoc(t *testing.T, m store.Mailbox, address, docID, kind string, rev, seq int64, seed string, size int64) {
	t.Helper()
	doc, err := m.Get(t.Context(), address, docID)
	ok(t, err)
	if doc.Kind != kind || doc.Revision != rev || doc.Seq != seq || doc.Deleted || doc.Size != size || int64(len(doc.Data)) != size {
		t.Fatalf("document %q: %+v (%d bytes), want %s revision %d seq %d of %d bytes", docID, doc.Change, len(doc.Data), kind, rev, seq, size)
	}
	want := digest(t, generated(seed, size))
	if sha256.Sum256(doc.Data) != want {
		t.Fatalf("document %q of %d bytes: Get returns other data than was put", docID, size)
	}
	c, r, err := m.Open(t.Context(), address, docID)
	ok(t, err)
	if c != doc.Change || readAll(t, r, size) != want {
		t.Fatalf("document %q of %d bytes: Open returns %+v or other data", docID, size, c)
	}
}

// testPutStreamed: documents read from streams, up to 24 MiB, come back
// byte for byte, created and replaced.
func testPutStreamed(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	const large = 24 << 20
	var seq, rev int64
	for _, size := range slices.Concat(putSizes, []int64{large}) {
		seed := fmt.Sprint("put ", size)
		r := generated(seed, size)
		if size < large {
			// Pieces smaller than asked for, the last one with io.EOF.
			r = iotest.DataErrReader(iotest.HalfReader(r))
		}
		// A new document, then the one replaced each time.
		c, err := m.Put(ctx, addr, fmt.Sprint("doc", size), "blob", 0, r, size)
		ok(t, err)
		seq++
		if c.Revision != 1 || c.Seq != seq || c.Size != size {
			t.Fatalf("Put of %d bytes: %+v", size, c)
		}
		hasDoc(t, m, addr, fmt.Sprint("doc", size), "blob", 1, seq, seed, size)
		c, err = m.Put(ctx, addr, "replaced", "blob", rev, generated(seed, size), size)
		ok(t, err)
		seq, rev = seq+1, rev+1
		if c.Revision != rev || c.Seq != seq || c.Size != size {
			t.Fatalf("replacing Put of %d bytes: %+v", size, c)
		}
		hasDoc(t, m, addr, "replaced", "blob", rev, seq, seed, size)
	}
}

// testPutLargeSmall: a large document replaced by a small one, an empty
// one and a large one again, and a tombstone by a large one, each
// readable whole after its Put.
func testPutLargeSmall(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	var rev int64
	for i, size := range []int64{3*store.MaxDeliverBuffer + 1, 10, 2*store.MaxDeliverBuffer + 7, 0, 4 * store.MaxDeliverBuffer, 1} {
		seed := fmt.Sprint("large and small ", i)
		kind := fmt.Sprint("kind", i)
		c, err := m.Put(ctx, addr, "doc", kind, rev, generated(seed, size), size)
		ok(t, err)
		rev++
		hasDoc(t, m, addr, "doc", kind, rev, c.Seq, seed, size)
	}
	del, err := m.Delete(ctx, addr, "doc", rev, t0)
	ok(t, err)
	const size = 2*store.MaxDeliverBuffer + 3
	c, err := m.Put(ctx, addr, "doc", "back", del.Revision, generated("back", size), size)
	ok(t, err)
	hasDoc(t, m, addr, "doc", "back", del.Revision+1, c.Seq, "back", size)
}

// testPutReaderFails: a Put whose reader fails, or yields another length
// than its size, changes nothing — the document, its revision, the
// account's head, the feed — creating or replacing, alone or among
// others at the same time; the error wraps the reader's (or is
// ErrInvalid); a conflicting Put fails as a conflict whatever its reader.
func testPutReaderFails(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	const kept = 2*store.MaxDeliverBuffer + 1
	c, err := m.Put(ctx, addr, "kept", "blob", 0, generated("kept", kept), kept)
	ok(t, err)
	for _, size := range putSizes {
		for _, doc := range []struct {
			id  string
			rev int64
		}{{"new", 0}, {"kept", 1}} {
			what := fmt.Sprintf("Put of %d bytes to %q", size, doc.id)
			_, err := m.Put(ctx, addr, doc.id, "blob", doc.rev, io.MultiReader(generated(what, size/2), failingReader{}), size)
			if !errors.Is(err, errSpool) || errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%s whose reader fails: %v, want the reader's error", what, err)
			}
			unchanged(t, m, addr, 1, 1, "after a failed "+what)
			for _, yields := range []int64{size - 1, size + 1} {
				if yields < 0 {
					continue
				}
				_, err := m.Put(ctx, addr, doc.id, "blob", doc.rev, generated(what, yields), size)
				is(t, err, store.ErrInvalid, fmt.Sprintf("%s yielding %d", what, yields))
				unchanged(t, m, addr, 1, 1, fmt.Sprintf("after a %s yielding %d", what, yields))
			}
		}
	}
	for _, size := range []int64{-1, store.MaxDataSize + 1} {
		_, err := m.Put(ctx, addr, "new", "blob", 0, failingReader{}, size)
		is(t, err, store.ErrInvalid, fmt.Sprintf("Put of size %d", size))
	}
	_, err = m.Put(ctx, addr, "kept", "blob", 7, failingReader{}, kept)
	is(t, err, store.ErrConflict, "Put with a stale revision and a failing reader")
	unchanged(t, m, addr, 1, 1, "after the failed Puts")
	hasDoc(t, m, addr, "kept", "blob", 1, c.Seq, "kept", kept)

	// Failing and working Puts at the same time: the failures take no
	// sequence number.
	const together = 8
	errs := make([]error, together)
	var wg sync.WaitGroup
	for i := range together {
		wg.Go(func() {
			size := int64(100)
			if i%4 >= 2 {
				size = store.MaxDeliverBuffer + 100
			}
			r := generated(fmt.Sprint(i), size)
			if i%2 == 1 {
				r = io.MultiReader(generated(fmt.Sprint(i), size/2), failingReader{})
			}
			_, errs[i] = m.Put(ctx, addr, fmt.Sprint("together", i), "blob", 0, r, size)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 1) != errors.Is(err, errSpool) || i%2 == 0 && err != nil {
			t.Fatalf("Put %d of %d at the same time: %v", i, together, err)
		}
	}
	feed, err := m.Changes(ctx, addr, 0, store.MaxPage)
	ok(t, err)
	for i, c := range feed {
		if c.Seq != int64(i+1) {
			t.Fatalf("sequence numbers with gaps after failed Puts: %+v", feed)
		}
	}
	if len(feed) != 1+together/2 {
		t.Fatalf("%d documents, want %d", len(feed), 1+together/2)
	}
}

// claimOne claims the one due entry, which must be id, and checks that
// it comes without its message.
func claimOne(t *testing.T, q store.Queue, id, size int64) store.QueueEntry {
	t.Helper()
	es, err := q.Claim(t.Context(), t0, store.MaxPage, time.Minute, "relay")
	ok(t, err)
	if len(es) != 1 || es[0].ID != id || es[0].Message != nil || es[0].Size != size {
		t.Fatalf("Claim: %d entries (%+v), want entry %d of %d bytes without its message", len(es), es, id, size)
	}
	return es[0]
}

// testEnqueueStreamed: messages read from streams, up to 24 MiB, are
// claimed without their bytes and read back through Queue.Open byte for
// byte, and whole through Get.
func testEnqueueStreamed(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	const large = 24 << 20
	for _, size := range slices.Concat(streamSizes, []int64{large}) {
		seed := fmt.Sprint("enqueue ", size)
		r := generated(seed, size)
		if size < large {
			r = iotest.DataErrReader(iotest.HalfReader(r))
		}
		m := store.Outbound{MessageID: messageID(seed), Domain: "example.org", Message: r, Size: size, NotBefore: t0}
		id := enqueue(t, s, m)
		want := digest(t, generated(seed, size))
		e := claimOne(t, q, id, size)
		mr, err := q.Open(ctx, e.ID)
		ok(t, err)
		if readAll(t, mr, size) != want {
			t.Fatalf("message of %d bytes: Queue.Open reads other bytes than were queued", size)
		}
		full, err := q.Get(ctx, id)
		ok(t, err)
		if full.Size != size || sha256.Sum256(full.Message) != want {
			t.Fatalf("message of %d bytes: Get returns %d other bytes", size, len(full.Message))
		}
		ok(t, q.Complete(ctx, id, "relay"))
	}
}

// testEnqueueReaderFails: a message whose reader fails, or yields another
// length than its size, queues nothing, and the same message queued
// again afterwards is a new entry.
func testEnqueueReaderFails(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	for _, size := range streamSizes {
		seed := fmt.Sprint("fails ", size)
		m := store.Outbound{MessageID: messageID(seed), Domain: "example.org", Size: size, NotBefore: t0}
		m.Message = io.MultiReader(generated(seed, size/2), failingReader{})
		_, _, err := q.Enqueue(ctx, m)
		if !errors.Is(err, errSpool) || errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Enqueue of %d bytes whose reader fails: %v, want the reader's error", size, err)
		}
		for _, yields := range []int64{size - 1, size + 1} {
			m.Message = generated(seed, yields)
			_, _, err := q.Enqueue(ctx, m)
			is(t, err, store.ErrInvalid, fmt.Sprintf("Enqueue of %d bytes said to be %d", yields, size))
		}
		if list, err := q.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("queue after failed Enqueues of %d bytes: %+v, %v", size, list, err)
		}
		m.Message = generated(seed, size)
		id := enqueue(t, s, m)
		e, err := q.Get(ctx, id)
		ok(t, err)
		if e.Size != size || sha256.Sum256(e.Message) != digest(t, generated(seed, size)) {
			t.Fatalf("Enqueue after failed ones: %d bytes of %d", len(e.Message), size)
		}
		ok(t, q.Drop(ctx, id))
	}
	for _, size := range []int64{0, -1, store.MaxDataSize + 1} {
		_, _, err := q.Enqueue(ctx, store.Outbound{MessageID: messageID("size"), Domain: "example.org", Message: failingReader{}, Size: size})
		is(t, err, store.ErrInvalid, fmt.Sprintf("Enqueue of size %d", size))
	}
}

// testEnqueueUnread: Enqueue of a message already queued returns its
// entry whatever the new reader yields, as the store need not read it.
func testEnqueueUnread(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	for _, size := range streamSizes {
		seed := fmt.Sprint("queued ", size)
		m := store.Outbound{MessageID: messageID(seed), Domain: "example.org", Message: generated(seed, size), Size: size, NotBefore: t0}
		first := enqueue(t, s, m)
		for _, r := range []io.Reader{failingReader{}, generated(seed, size-1), generated("another", size)} {
			m.Message = r
			again, created, err := q.Enqueue(ctx, m)
			ok(t, err)
			if created || again != first {
				t.Fatalf("Enqueue again of %d bytes: entry %d created %v, want %d false", size, again, created, first)
			}
		}
		e, err := q.Get(ctx, first)
		ok(t, err)
		if sha256.Sum256(e.Message) != digest(t, generated(seed, size)) {
			t.Fatalf("Enqueue again of %d bytes changed the message", size)
		}
	}
	list, err := q.List(ctx)
	ok(t, err)
	if len(list) != len(streamSizes) {
		t.Fatalf("%d entries, want %d", len(list), len(streamSizes))
	}
}

// testEnqueueConcurrent: the same message queued by several callers at
// once, small or streamed, makes one entry, one of them created.
func testEnqueueConcurrent(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	for _, size := range []int64{100, 2 * store.MaxDeliverBuffer} {
		seed := fmt.Sprint("concurrent ", size)
		const n = 4
		ids, created := make([]int64, n), make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := store.Outbound{MessageID: messageID(seed), Domain: "example.org", Message: generated(seed, size), Size: size, NotBefore: t0}
				ids[i], created[i], errs[i] = q.Enqueue(ctx, m)
			})
		}
		wg.Wait()
		news := 0
		for i := range n {
			ok(t, errs[i])
			if ids[i] != ids[0] {
				t.Fatalf("concurrent Enqueue of %d bytes: entries %v", size, ids)
			}
			if created[i] {
				news++
			}
		}
		if news != 1 {
			t.Fatalf("concurrent Enqueue of %d bytes: %d created, want 1", size, news)
		}
		e, err := q.Get(ctx, ids[0])
		ok(t, err)
		if sha256.Sum256(e.Message) != digest(t, generated(seed, size)) {
			t.Fatalf("concurrent Enqueue of %d bytes: other bytes queued", size)
		}
	}
}

// testQueueOpenGone: a reader of Queue.Open fails with ErrChanged and
// ErrNotFound once its entry is completed or dropped; Open of an entry
// that is gone or never was is ErrNotFound; reads run under Open's
// context, from several goroutines at once, and end with the store.
func testQueueOpenGone(t *testing.T, s store.Store) {
	ctx, q := t.Context(), s.Queue()
	const size = 3*store.MaxDeliverBuffer + 5
	queue := func(seed string) int64 {
		return enqueue(t, s, store.Outbound{MessageID: messageID(seed), Domain: "example.org", Message: generated(seed, size), Size: size, NotBefore: t0})
	}

	id := queue("completed")
	claimOne(t, q, id, size)
	r, err := q.Open(ctx, id)
	ok(t, err)
	data, err := io.ReadAll(io.NewSectionReader(r, 0, size))
	ok(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			off := int64(g) * size / 16 // a piece and more, within the message
			p := make([]byte, store.MaxReadPiece+g)
			if n, err := r.ReadAt(p, off); n != len(p) || err != nil || !bytes.Equal(p, data[off:off+int64(n)]) {
				t.Errorf("goroutine %d: ReadAt(%d bytes at %d) = %d, %v", g, len(p), off, n, err)
			}
		})
	}
	wg.Wait()
	readAt(t, r, size-5, 10, data[size-5:])
	ok(t, q.Complete(ctx, id, "relay"))
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, store.ErrChanged, "ReadAt after Complete")
	is(t, err, store.ErrNotFound, "ReadAt after Complete")
	_, err = q.Open(ctx, id)
	is(t, err, store.ErrNotFound, "Open after Complete")

	id = queue("dropped")
	r, err = q.Open(ctx, id)
	ok(t, err)
	ok(t, q.Drop(ctx, id))
	_, err = r.ReadAt(make([]byte, 10), store.MaxReadPiece)
	is(t, err, store.ErrChanged, "ReadAt after Drop")
	is(t, err, store.ErrNotFound, "ReadAt after Drop")
	_, err = q.Open(ctx, id)
	is(t, err, store.ErrNotFound, "Open after Drop")
	_, err = q.Open(ctx, 999999)
	is(t, err, store.ErrNotFound, "Open of an entry that never was")

	id = queue("read later")
	_, err = q.Open(ctxCancelled(t), id)
	is(t, err, context.Canceled, "Open with an ended context")
	rctx, cancel := context.WithCancel(ctx)
	r, err = q.Open(rctx, id)
	ok(t, err)
	cancel()
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, context.Canceled, "ReadAt once Open's context ended")
	r, err = q.Open(ctx, id)
	ok(t, err)
	ok(t, s.Close())
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, store.ErrClosed, "ReadAt after Close")
	_, err = q.Open(ctx, id)
	is(t, err, store.ErrClosed, "Open after Close")
}

// RunPutMemory checks that Put never holds a document whole, as
// RunDeliverMemory checks Deliver: a document of 64 MiB created, then
// replaced by another, each from a reader that makes it as it is read,
// within RunDeliverMemory's bounds. The caller must not run it in
// parallel with other tests.
func RunPutMemory(t *testing.T, s store.Store) {
	const size = 64 << 20
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	_, err := m.Put(ctx, addr, "first", "blob", 0, generated("first", 4<<20), 4<<20)
	ok(t, err)
	for rev, seed := range []string{"large", "replaced"} {
		var c store.Change
		boundedMemory(t, fmt.Sprintf("putting 64 MiB (revision %d)", rev+1), func() (err error) {
			c, err = m.Put(ctx, addr, "large", "blob", int64(rev), generated(seed, size), size)
			return err
		})
		if c.Revision != int64(rev+1) || c.Size != size {
			t.Fatalf("Put of 64 MiB: %+v", c)
		}
	}
}

// RunEnqueueMemory checks that Enqueue never holds a message whole, nor
// Claim, as RunDeliverMemory checks Deliver: a message of 64 MiB queued
// from a reader that makes it as it is read, then claimed, within
// RunDeliverMemory's bounds. The caller must not run it in parallel with
// other tests.
func RunEnqueueMemory(t *testing.T, s store.Store) {
	const size = 64 << 20
	ctx, q := t.Context(), s.Queue()
	out := func(seed string, size int64) store.Outbound {
		return store.Outbound{MessageID: messageID(seed), Domain: "example.org", Message: generated(seed, size), Size: size, NotBefore: t0}
	}
	first := enqueue(t, s, out("first", 4<<20))
	claimOne(t, q, first, 4<<20)
	ok(t, q.Complete(ctx, first, "relay"))
	var id int64
	boundedMemory(t, "queueing and claiming 64 MiB", func() (err error) {
		if id, _, err = q.Enqueue(ctx, out("large", size)); err != nil {
			return err
		}
		es, err := q.Claim(ctx, t0, store.MaxPage, time.Minute, "relay")
		if err == nil && (len(es) != 1 || es[0].ID != id || es[0].Size != size || es[0].Message != nil) {
			err = fmt.Errorf("claimed %+v, want entry %d of 64 MiB without its message", es, id)
		}
		return err
	})
}
