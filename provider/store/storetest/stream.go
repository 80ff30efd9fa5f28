package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"umbra/provider/store"
)

// Deliver reads its message from a stream (docs/spec/store.md §4.2).
// These tests give it readers, never slices, of sizes on both sides of
// store.MaxDeliverBuffer, where an implementation may change its way.

// streamSizes: the smallest message, the largest an implementation may
// hold whole, the smallest it may not, and several buffers' worth.
var streamSizes = []int64{1, store.MaxDeliverBuffer, store.MaxDeliverBuffer + 1, 3*store.MaxDeliverBuffer + 5}

// generated yields size bytes of a stream determined by seed, made as it
// is read: no test holds a large message whole.
func generated(seed string, size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(sha256.Sum256([]byte(seed))), size)
}

func digest(t *testing.T, r io.Reader) [sha256.Size]byte {
	t.Helper()
	h := sha256.New()
	_, err := io.Copy(h, r)
	ok(t, err)
	return [sha256.Size]byte(h.Sum(nil))
}

var errSpool = errors.New("spool file broken")

// failingReader fails at once, as a spool file that cannot be read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errSpool }

// unchanged fails unless address's feed holds exactly docs documents and
// ends at head: a failed delivery stored nothing and took no number.
func unchanged(t *testing.T, m store.Mailbox, address string, head int64, docs int, what string) {
	t.Helper()
	h, err := m.Head(t.Context(), address)
	ok(t, err)
	feed, err := m.Changes(t.Context(), address, 0, store.MaxPage)
	ok(t, err)
	if h != head || len(feed) != docs {
		t.Fatalf("%s: head %d with %d documents, want %d with %d", what, h, len(feed), head, docs)
	}
}

// testDeliverStreamed: messages read from streams, up to 24 MiB, come
// back byte for byte.
func testDeliverStreamed(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	const large = 24 << 20
	for i, size := range slices.Concat(streamSizes, []int64{large}) {
		seed := fmt.Sprint("streamed ", size)
		r := generated(seed, size)
		if size < large {
			// Pieces smaller than asked for, the last one with io.EOF.
			r = iotest.DataErrReader(iotest.HalfReader(r))
		}
		docID, created, err := m.Deliver(ctx, addr, messageID(seed), r, size, t0)
		ok(t, err)
		if !created {
			t.Fatalf("delivery of %d bytes: created false", size)
		}
		doc, err := m.Get(ctx, addr, docID)
		ok(t, err)
		if doc.Kind != store.KindMail || doc.Revision != 1 || doc.Seq != int64(i+1) || doc.Size != size || int64(len(doc.Data)) != size {
			t.Fatalf("delivered document of %d bytes: %+v", size, doc.Change)
		}
		if sha256.Sum256(doc.Data) != digest(t, generated(seed, size)) {
			t.Fatalf("delivered document of %d bytes: data differs from the message", size)
		}
	}
}

// testDeliverStreamedConcurrent: streams larger than MaxDeliverBuffer
// delivered at the same time, the same message several times and others
// once each, make one document per message, one created, numbered
// without a gap.
func testDeliverStreamedConcurrent(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	const n, size = 4, 2 * store.MaxDeliverBuffer
	type result struct {
		doc     string
		created bool
		err     error
	}
	same, distinct := make([]result, n), make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &same[i]
			r.doc, r.created, r.err = m.Deliver(ctx, addr, messageID("the same"), generated("the same", size), size, t0)
		})
		wg.Go(func() {
			seed := fmt.Sprint("distinct ", i)
			r := &distinct[i]
			r.doc, r.created, r.err = m.Deliver(ctx, addr, messageID(seed), generated(seed, size), size, t0)
		})
	}
	wg.Wait()
	created := 0
	for i, r := range same {
		ok(t, r.err)
		if r.doc != same[0].doc {
			t.Fatalf("delivery %d of the same message made document %q, another %q", i, r.doc, same[0].doc)
		}
		if r.created {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d deliveries of the same message report created, want 1", created)
	}
	for _, r := range distinct {
		ok(t, r.err)
		if !r.created {
			t.Fatalf("a distinct message reports created false")
		}
	}
	feed, err := m.Changes(ctx, addr, 0, store.MaxPage)
	ok(t, err)
	for i, c := range feed {
		if c.Seq != int64(i+1) || c.Size != size {
			t.Fatalf("feed %+v", feed)
		}
	}
	if len(feed) != n+1 {
		t.Fatalf("%d documents, want %d", len(feed), n+1)
	}
}

// testDeliverReaderFails: a message whose reader fails is not stored, not
// recorded and takes no sequence number, alone or among others delivered
// at the same time; the error returned wraps the reader's; the same
// message delivered again is a new delivery.
func testDeliverReaderFails(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	var n int64
	for _, size := range streamSizes {
		seed := fmt.Sprint("fails ", size)
		r := io.MultiReader(generated(seed, size/2), failingReader{})
		_, _, err := m.Deliver(ctx, addr, messageID(seed), r, size, t0)
		if !errors.Is(err, errSpool) || errors.Is(err, store.ErrInvalid) {
			t.Fatalf("delivery of %d bytes whose reader fails: %v, want the reader's error", size, err)
		}
		unchanged(t, m, addr, n, int(n), fmt.Sprintf("after a failed delivery of %d bytes", size))
		docID, created, err := m.Deliver(ctx, addr, messageID(seed), generated(seed, size), size, t0)
		ok(t, err)
		n++
		doc, err := m.Get(ctx, addr, docID)
		ok(t, err)
		if !created || doc.Seq != n || doc.Size != size {
			t.Fatalf("delivery after a failed one: created %v, %+v; want seq %d", created, doc.Change, n)
		}
	}

	const together = 16
	errs := make([]error, together)
	var wg sync.WaitGroup
	for i := range together {
		wg.Go(func() {
			seed := fmt.Sprint("together ", i)
			r := generated(seed, 100)
			if i%2 == 1 {
				r = io.MultiReader(generated(seed, 50), failingReader{})
			}
			_, _, errs[i] = m.Deliver(ctx, addr, messageID(seed), r, 100, t0)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 1) != errors.Is(err, errSpool) || i%2 == 0 && err != nil {
			t.Fatalf("delivery %d of %d at the same time: %v", i, together, err)
		}
	}
	feed, err := m.Changes(ctx, addr, 0, store.MaxPage)
	ok(t, err)
	if want := int(n) + together/2; len(feed) != want {
		t.Fatalf("%d documents, want %d", len(feed), want)
	}
	for i, c := range feed {
		if c.Seq != int64(i+1) {
			t.Fatalf("sequence numbers with gaps after failed deliveries: %+v", feed)
		}
	}
}

// testDeliverSizeMismatch: a reader that yields fewer or more bytes than
// the size given, or a size out of range, is ErrInvalid and stores
// nothing.
func testDeliverSizeMismatch(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	id := messageID("mismatch")
	for _, size := range streamSizes {
		for _, yields := range []int64{size - 1, size + 1} {
			_, _, err := m.Deliver(ctx, addr, id, generated("mismatch", yields), size, t0)
			is(t, err, store.ErrInvalid, fmt.Sprintf("delivery of %d bytes said to be %d", yields, size))
			unchanged(t, m, addr, 0, 0, fmt.Sprintf("after a delivery of %d bytes said to be %d", yields, size))
		}
	}
	for _, size := range []int64{0, -1, store.MaxDataSize + 1} {
		_, _, err := m.Deliver(ctx, addr, id, failingReader{}, size, t0)
		is(t, err, store.ErrInvalid, fmt.Sprintf("delivery of size %d", size))
	}
	_, _, err := m.Deliver(ctx, addr, id, bytes.NewReader(nil), 0, t0)
	is(t, err, store.ErrInvalid, "delivery of an empty message")
	unchanged(t, m, addr, 0, 0, "after deliveries of invalid sizes")
	_, created, err := m.Deliver(ctx, addr, id, generated("mismatch", 10), 10, t0)
	ok(t, err)
	if !created {
		t.Fatal("a rejected delivery left a delivery record")
	}
}

// testRedeliverUnread: a redelivery returns the first document whatever
// its reader yields, as the store need not read it.
func testRedeliverUnread(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	for i, size := range streamSizes {
		seed := fmt.Sprint("redelivered ", size)
		first, _, err := m.Deliver(ctx, addr, messageID(seed), generated(seed, size), size, t0)
		ok(t, err)
		for _, r := range []io.Reader{failingReader{}, generated(seed, size-1)} {
			again, created, err := m.Deliver(ctx, addr, messageID(seed), r, size, t0)
			ok(t, err)
			if created || again != first {
				t.Fatalf("redelivery of %d bytes: doc %q created %v, want %q false", size, again, created, first)
			}
		}
		unchanged(t, m, addr, int64(i+1), i+1, fmt.Sprintf("after redeliveries of %d bytes", size))
	}
}

// RunDeliverMemory checks that Deliver never holds a message whole: while
// s stores a message of 64 MiB from a reader that makes it as it is read,
// Go allocates less than 8 MiB in all, and the process's resident memory
// (Go's and any other, such as that of a SQLite compiled to WebAssembly,
// which is no part of Go's heap), sampled meanwhile, grows by less than
// 8 MiB. A delivery of 4 MiB first lets the store set up what it keeps
// for later ones (buffers, caches), which is no copy of a message. It
// measures the whole process: the caller must not run it in parallel with
// other tests.
func RunDeliverMemory(t *testing.T, s store.Store) {
	const size = 64 << 20
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	_, _, err := m.Deliver(ctx, addr, messageID("first"), generated("first", 4<<20), 4<<20, t0)
	ok(t, err)

	var docID string
	var created bool
	boundedMemory(t, "delivering 64 MiB", func() (err error) {
		docID, created, err = m.Deliver(ctx, addr, messageID("large"), generated("large", size), size, t0)
		return err
	})
	feed, err := m.Changes(ctx, addr, 1, 1)
	ok(t, err)
	if !created || len(feed) != 1 || feed[0].DocID != docID || feed[0].Size != size {
		t.Fatalf("delivery of 64 MiB: created %v, feed %+v", created, feed)
	}
}

// boundedMemory runs op, which stores 64 MiB (what it does, for the
// log), and fails unless Go allocated less than 8 MiB meanwhile and the
// process's resident memory, sampled every 2 ms, grew by less than 8 MiB.
func boundedMemory(t *testing.T, what string, op func() error) {
	t.Helper()
	rss, rssOK := residentMemory(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rss0 := rss()
	peak := rss0
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, rss())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	err := op()
	close(stop)
	<-sampled
	runtime.ReadMemStats(&after)
	ok(t, err)

	allocated, grown := after.TotalAlloc-before.TotalAlloc, peak-rss0
	t.Logf("%s: Go allocated %.1f MiB, resident memory grew by %.1f MiB", what, mib(allocated), mib(grown))
	if allocated >= 8<<20 {
		t.Errorf("Go allocated %.1f MiB %s, want less than 8", mib(allocated), what)
	}
	if rssOK && grown >= 8<<20 {
		t.Errorf("resident memory grew by %.1f MiB %s, want less than 8", mib(grown), what)
	}
}

// residentMemory returns a function that reads the process's resident
// memory (Linux's /proc/self/// residentMemory returns a function that reads the process's resident
// memory (Linux's /proc/self/statm) without allocating, so that sampling
// it does not count in what Go allocates meanwhile; or, with false, one
// that returns 0 where there is no such file.
func residentMemory(t *testing.T) (func() uint64, bool) {
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		t.Logf("resident memory not checked: %v", err)
		return func() uint64 { return 0 }, false
	}
	t.Cleanup(func() { f.Close() })
	var buf [128]byte
	return func() uint64 {
		n, err := f.ReadAt(buf[:], 0)
		if err != nil && err != io.EOF {
			t.Errorf("read %s: %v", f.Name(), err)
		}
		// "size resident shared ...", counted in pages.
		_, rest, _ := bytes.Cut(buf[:n], []byte(" "))
		var pages uint64
		for _, c := range rest {
			if c < '0' || c > '9' {
				break
			}
			pages = pages*10 + uint64(c-'0')
		}
		return pages * uint64(os.Getpagesize())
	}, true
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
