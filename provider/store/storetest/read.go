package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"

	"umbra/provider/store"
)

// content returns n bytes of a deterministic random stream: no two pieces
// alike, so a piece read from the wrong offset shows.
func content(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	rand.NewChaCha8(s).Read(b)
	return b
}

// openReader opens a document that must not be a tombstone.
func openReader(t testing.TB, ctx context.Context, m store.Mailbox, address, docID string) (store.Change, io.ReaderAt) {
	t.Helper()
	c, r, err := m.Open(ctx, address, docID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Deleted || r == nil {
		t.Fatalf("Open %q: change %+v, reader %v", docID, c, r)
	}
	return c, r
}

// readAt checks one ReadAt against want, the bytes from off to the end of
// the document, of which it asks for n.
func readAt(t *testing.T, r io.ReaderAt, off int64, n int, want []byte) {
	t.Helper()
	p := make([]byte, n)
	got, err := r.ReadAt(p, off)
	wantN := min(n, len(want))
	switch {
	case got != wantN:
		t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d", n, off, got, err, wantN)
	case wantN < n && err != io.EOF:
		t.Fatalf("ReadAt(%d bytes at %d) past the end: error %v, want io.EOF", n, off, err)
	case wantN == n && err != nil && err != io.EOF:
		t.Fatalf("ReadAt(%d bytes at %d): %v", n, off, err)
	case !bytes.Equal(p[:got], want[:wantN]):
		t.Fatalf("ReadAt(%d bytes at %d): wrong bytes", n, off)
	}
}

// testOpenRead reads a document larger than many pieces through Open:
// odd sizes at odd offsets, whole, past its end, and from 8 goroutines at
// once.
func testOpenRead(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)
	data := content(24<<20, 1)
	putc, err := put(ctx, m, addr, "big", "blob", 0, data)
	ok(t, err)
	c, r := openReader(t, ctx, m, addr, "big")
	if c != putc {
		t.Fatalf("Open: change %+v, want Put's %+v", c, putc)
	}

	size := int64(len(data))
	for _, rd := range []struct {
		off int64
		n   int
	}{
		{0, 1}, {1, 4095}, {12345, store.MaxReadPiece + 7}, {store.MaxReadPiece - 3, 7},
		{3<<20 + 1, 3<<20 + 5}, {size - 10, 10}, // exactly to the end
		{size - 5, 100}, {size - 1, store.MaxReadPiece + 1}, {size, 10}, {size + 100, 1}, // past it
		{7, 0},
	} {
		readAt(t, r, rd.off, rd.n, data[min(rd.off, size):])
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("ReadAt at a negative offset succeeded")
	}

	whole := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(r, 0, size), whole); err != nil || !bytes.Equal(whole, data) {
		t.Fatalf("the whole document through a SectionReader: %v, equal %v", err, bytes.Equal(whole, data))
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 0))
			for range 8 {
				off := rnd.Int64N(size)
				p := make([]byte, rnd.IntN(2*store.MaxReadPiece))
				n, err := r.ReadAt(p, off)
				if want := min(int64(len(p)), size-off); int64(n) != want || (err != nil && err != io.EOF) || !bytes.Equal(p[:n], data[off:off+want]) {
					t.Errorf("goroutine %d: ReadAt(%d bytes at %d) = %d, %v, equal %v", g, len(p), off, n, err, bytes.Equal(p[:n], data[off:off+int64(n)]))
					return
				}
			}
		})
	}
	wg.Wait()
}

// testOpenChanged: Open of tombstones and missing documents, and readers
// that outlive their revision, their context or the store.
func testOpenChanged(t *testing.T, s store.Store) {
	ctx, m := t.Context(), s.Mailbox()
	addr := "alice@example.test"
	active(t, s, addr)

	// A few KiB: out of line in PostgreSQL too; every kind of read and
	// seek iotest knows, through a SectionReader.
	data := content(3000, 2)
	_, err := put(ctx, m, addr, "doc", "note", 0, data)
	ok(t, err)
	_, r := openReader(t, ctx, m, addr, "doc")
	ok(t, iotest.TestReader(io.NewSectionReader(r, 0, int64(len(data))), data))

	_, err = put(ctx, m, addr, "empty", "note", 0, nil)
	ok(t, err)
	_, r = openReader(t, ctx, m, addr, "empty")
	if n, err := r.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt of an empty document = %d, %v; want 0, io.EOF", n, err)
	}

	_, _, err = m.Open(ctx, addr, "missing")
	is(t, err, store.ErrNotFound, "Open of a missing document")
	_, _, err = m.Open(ctx, "nobody@example.test", "doc")
	is(t, err, store.ErrNotFound, "Open in a missing account")
	_, _, err = m.Open(ctx, addr, "not/an id")
	is(t, err, store.ErrInvalid, "Open of an invalid id")

	// Replaced after Open: the old reader fails, a new one reads the
	// new revision.
	_, r = openReader(t, ctx, m, addr, "doc")
	second := content(3000, 3)
	putc, err := put(ctx, m, addr, "doc", "note", 1, second)
	ok(t, err)
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, store.ErrChanged, "ReadAt after Put")
	c, r := openReader(t, ctx, m, addr, "doc")
	if c != putc {
		t.Fatalf("Open after Put: change %+v, want %+v", c, putc)
	}
	readAt(t, r, 100, 50, second[100:])

	// Deleted after Open; then Open returns the tombstone, no reader.
	del, err := m.Delete(ctx, addr, "doc", 2, t0)
	ok(t, err)
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, store.ErrChanged, "ReadAt after Delete")
	c, tr, err := m.Open(ctx, addr, "doc")
	ok(t, err)
	if c != del || tr != nil {
		t.Fatalf("Open of a tombstone: change %+v, reader %v; want %+v, nil", c, tr, del)
	}

	// Collected and created again under its id: revision 1 again, but
	// not the document opened.
	_, err = put(ctx, m, addr, "again", "note", 0, data)
	ok(t, err)
	_, r = openReader(t, ctx, m, addr, "again")
	_, err = m.Delete(ctx, addr, "again", 1, t0)
	ok(t, err)
	_, err = m.CollectTombstones(ctx, t0)
	ok(t, err)
	_, err = put(ctx, m, addr, "again", "note", 0, second)
	ok(t, err)
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, store.ErrChanged, "ReadAt after the document was collected and created again")

	// The reads run under Open's context.
	_, _, err = m.Open(ctxCancelled(t), addr, "empty")
	is(t, err, context.Canceled, "Open with an ended context")
	_, err = put(ctx, m, addr, "short", "note", 0, data)
	ok(t, err)
	rctx, cancel := context.WithCancel(ctx)
	_, r = openReader(t, rctx, m, addr, "short")
	cancel()
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, context.Canceled, "ReadAt once Open's context ended")

	_, r = openReader(t, ctx, m, addr, "short")
	ok(t, s.Close())
	_, err = r.ReadAt(make([]byte, 10), 0)
	is(t, err, store.ErrClosed, "ReadAt after Close")
	_, _, err = m.Open(ctx, addr, "short")
	is(t, err, store.ErrClosed, "Open after Close")
}

// BenchmarkRead reads a document of 64 KiB and one of 4 MiB of s whole,
// with Get or (open) through Open in reads of MaxReadPiece. Each
// backend's BenchmarkGet and BenchmarkOpenRead call it.
func BenchmarkRead(b *testing.B, s store.Store, open bool) {
	ctx, m := b.Context(), s.Mailbox()
	addr := "bench@example.test"
	active(b, s, addr)
	for _, size := range []int{64 << 10, 4 << 20} {
		docID := fmt.Sprintf("doc%d", size)
		if _, err := put(ctx, m, addr, docID, "blob", 0, content(size, 4)); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			buf := make([]byte, store.MaxReadPiece)
			for b.Loop() {
				if !open {
					if _, err := m.Get(ctx, addr, docID); err != nil {
						b.Fatal(err)
					}
					continue
				}
				c, r, err := m.Open(ctx, addr, docID)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < c.Size; off += int64(len(buf)) {
					if _, err := r.ReadAt(buf, off); err != nil && err != io.EOF {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
