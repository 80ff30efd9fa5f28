package sqlite

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/storetest"
)

// rss returns the process's resident set size (VmRSS), in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// allocated returns the bytes the Go heap has allocated so far, freed or
// not.
func allocated() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.TotalAlloc)
}

// TestOpenMemory: reading a 64 MiB document through Open, in reads of
// MaxReadPiece, costs the process a few MiB, where Get of the same
// document costs it the document twice over (a copy in a read
// connection's wasm memory, which keeps that size, and the []byte). Not
// parallel: the figures are the whole process's.
func TestOpenMemory(t *testing.T) {
	const size = 64 << 20
	s := openTest(t, t.TempDir())
	ctx, m := t.Context(), s.Mailbox()
	const addr = "alice@example.test"
	code := sha256.Sum256([]byte(addr))
	if err := s.Accounts().AddInvited(ctx, addr, code); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts().Activate(ctx, addr, code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{}).Read(data)
	if _, err := m.Put(ctx, addr, "big", "blob", 0, bytes.NewReader(data), size); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	data = nil
	debug.FreeOSMemory() // the Put's copies go back to the OS

	// Open: the peak over the reads, sampled after each.
	rss0, alloc0, start := rss(t), allocated(), time.Now()
	c, r, err := m.Open(ctx, addr, "big")
	if err != nil {
		t.Fatal(err)
	}
	h, buf, peak := sha256.New(), make([]byte, store.MaxReadPiece), rss0
	for off := int64(0); off < c.Size; off += int64(len(buf)) {
		n, err := r.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		h.Write(buf[:n])
		peak = max(peak, rss(t))
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("Open read other bytes than were put")
	}
	openRSS, openAlloc, openTime := peak-rss0, allocated()-alloc0, time.Since(start)

	debug.FreeOSMemory()
	rss0, alloc0, start = rss(t), allocated(), time.Now()
	d, err := m.Get(ctx, addr, "big")
	if err != nil {
		t.Fatal(err)
	}
	getRSS, getAlloc, getTime := rss(t)-rss0, allocated()-alloc0, time.Since(start)
	if sha256.Sum256(d.Data) != want {
		t.Fatal("Get read other bytes than were put")
	}

	t.Logf("64 MiB document: Open grew VmRSS by %.1f MiB and allocated %.1f MiB of Go heap in %v; Get %.1f MiB and %.1f MiB in %v",
		float64(openRSS)/(1<<20), float64(openAlloc)/(1<<20), openTime, float64(getRSS)/(1<<20), float64(getAlloc)/(1<<20), getTime)
	if openAlloc > 4*store.MaxReadPiece || getAlloc < size {
		t.Errorf("Go heap: Open allocated %d bytes, Get %d; want Open's a few pieces at most, Get's the document", openAlloc, getAlloc)
	}
	if openRSS > size/4 || getRSS < size {
		t.Errorf("VmRSS: Open grew it by %d bytes, Get by %d; want Open's far below the document's %d, Get's above", openRSS, getRSS, size)
	}
}

func BenchmarkGet(b *testing.B) { storetest.BenchmarkRead(b, openTest(b, b.TempDir()), false) }

func BenchmarkOpenRead(b *testing.B) { storetest.BenchmarkRead(b, openTest(b, b.TempDir()), true) }
