package dmime

import (
	"crypto/ed25519"
	"crypto/sha256"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// generator emits a MIME message with one text part and one attachment of
// n bytes, without holding it, and hashes what it emits.
type generator struct {
	head, tail []byte
	block      []byte // repeated attachment content
	n          int64  // attachment bytes left
	sum        hash.Hash
}

func newGenerator(n int64) *generator {
	r := rand.New(rand.NewPCG(1, 2))
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &generator{
		head: []byte("From: a@a.test\r\nTo: b@b.test\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
			"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
			"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
		tail:  []byte("\r\n--B--\r\n"),
		block: block,
		n:     n,
		sum:   sha256.New(),
	}
}

func (g *generator) Read(p []byte) (int, error) {
	var n int
	switch {
	case len(g.head) > 0:
		n = copy(p, g.head)
		g.head = g.head[n:]
	case g.n > 0:
		off := int(g.n % int64(len(g.block)))
		n = copy(p[:min(int64(len(p)), g.n)], g.block[off:])
		g.n -= int64(n)
	case len(g.tail) > 0:
		n = copy(p, g.tail)
		g.tail = g.tail[n:]
	default:
		return 0, io.EOF
	}
	g.sum.Write(p[:n])
	return n, nil
}

// heapPeak samples the live heap until stopped.
type heapPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startHeapPeak() *heapPeak {
	h := &heapPeak{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	h.wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	})
	return h
}

func (h *heapPeak) Stop() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

// TestStreamingHeap seals, origin-signs and opens a message with a
// 256 MiB attachment through pipes, all three at once, and checks that the
// Go heap stays under 64 MiB while the recipient gets every byte back.
// Under the race detector (about ten times slower) it uses 16 MiB; the
// memory bound is the same.
func TestStreamingHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	size := int64(256 << 20)
	if raceEnabled {
		size = 16 << 20
	}
	w := newWorld(t)
	gen := newGenerator(size)
	runtime.GC()
	peak := startHeapPeak()

	sealedR, sealedW := io.Pipe()
	signedR, signedW := io.Pipe()
	var wg sync.WaitGroup
	var sealErr, signErr error
	wg.Go(func() {
		_, sealErr = Seal(sealedW, gen, w.params())
		sealedW.CloseWithError(sealErr)
	})
	wg.Go(func() {
		signErr = SignOrigin(signedW, sealedR, w.origin.sign)
		sealedR.CloseWithError(signErr)
		signedW.CloseWithError(signErr)
	})
	out := sha256.New()
	counter := &countWriter{w: out}
	_, openErr := Open(signedR, RoleRecipient, w.recip.enc, OpenOptions{
		MIME: counter, AuthorKey: w.authorKeys, OriginKeys: []ed25519.PublicKey{w.origin.pub()}, Recipient: w.recip.addr,
	})
	signedR.CloseWithError(io.ErrClosedPipe)
	wg.Wait()
	max := peak.Stop()
	if sealErr != nil || signErr != nil || openErr != nil {
		t.Fatalf("seal: %v; sign: %v; open: %v", sealErr, signErr, openErr)
	}
	if string(out.Sum(nil)) != string(gen.sum.Sum(nil)) || counter.n < size {
		t.Fatalf("recipient got %d bytes that differ from the %d-byte input", counter.n, size)
	}
	t.Logf("%d MiB attachment: heap peak %.1f MiB", size>>20, float64(max)/(1<<20))
	if max >= 64<<20 {
		t.Fatalf("heap peak %d bytes, want < 64 MiB", max)
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}
