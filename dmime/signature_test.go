package dmime

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestTracesKeepSignatures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	when := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, tr := range []Trace{{when, TraceRelayed, "a.test"}, {when.Add(time.Second), TraceReceived, "b.test"}} {
		var next bytes.Buffer
		if err := AppendTrace(&next, bytes.NewReader(msg), tr); err != nil {
			t.Fatal(err)
		}
		msg = next.Bytes()
	}
	if err := VerifyOrigin(bytes.NewReader(msg), w.origin.pub()); err != nil {
		t.Fatalf("VerifyOrigin after traces: %v", err)
	}
	if err := VerifyAuthor(bytes.NewReader(msg), w.author.pub()); err != nil {
		t.Fatalf("VerifyAuthor after traces: %v", err)
	}
	got, o, err := w.openRecipient(msg)
	if err != nil || string(got) != simpleMIME {
		t.Fatalf("Open after traces: %v", err)
	}
	tr := o.Layout.Traces
	if len(tr) != 2 || tr[0].Domain != "a.test" || tr[1].Kind != TraceReceived || !tr[1].Time.Equal(when.Add(time.Second)) {
		t.Fatalf("traces %+v", tr)
	}
}

func TestSignOriginRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var raw bytes.Buffer
	if _, err := Seal(&raw, bytes.NewReader([]byte(simpleMIME)), w.params()); err != nil {
		t.Fatal(err)
	}
	unsigned := raw.Bytes()
	err := AppendTrace(io.Discard, bytes.NewReader(unsigned), Trace{time.Now(), TraceRelayed, "a.test"})
	wantErr(t, "trace before the origin signature", err, ErrNoOriginSignature)
	err = VerifyOrigin(bytes.NewReader(unsigned), w.origin.pub())
	wantErr(t, "VerifyOrigin of an unsigned message", err, ErrNoOriginSignature)

	signed := w.seal(t, []byte(simpleMIME))
	err = SignOrigin(io.Discard, bytes.NewReader(signed), w.origin.sign)
	wantErr(t, "second origin signature", err, ErrChunkOrder)
	err = AppendTrace(io.Discard, bytes.NewReader(signed), Trace{time.Now(), 9, "a.test"})
	wantErr(t, "unknown trace kind", err, ErrInput)

	for range maxTraces {
		var next bytes.Buffer
		if err := AppendTrace(&next, bytes.NewReader(signed), Trace{time.Now(), TraceRelayed, "a.test"}); err != nil {
			t.Fatal(err)
		}
		signed = next.Bytes()
	}
	err = AppendTrace(io.Discard, bytes.NewReader(signed), Trace{time.Now(), TraceRelayed, "a.test"})
	wantErr(t, "too many traces", err, ErrInput)
	tr, err := (Trace{time.Now(), TraceRelayed, "a.test"}).encode()
	if err != nil {
		t.Fatal(err)
	}
	over := append(append(bytes.Clone(signed), chunkHeader(typeTrace, len(tr))...), tr...)
	_, err = Inspect(bytes.NewReader(over))
	wantErr(t, "33rd trace", err, ErrTrailingData)
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want int64 }{
		{1, MinBucket}, {MinBucket, MinBucket}, {MinBucket + 1, 8704}, {9000, 9216},
		{1_000_000, 1_015_808}, {1 << 30, 1 << 30}, {1<<30 + 1, 1<<30 + 1<<25},
	} {
		if got := bucket(c.in); got != c.want {
			t.Errorf("bucket(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	// Every core size, including those where a new padding segment would
	// be needed, reaches a bucket exactly.
	for l := int64(100); l < 400_000; l += 977 {
		n, err := paddingLen(l)
		if err != nil {
			t.Fatal(err)
		}
		if total := l + paddingWire(n); total != bucket(total) {
			t.Fatalf("core %d + padding %d = %d, not a bucket", l, n, total)
		}
	}
}

// The origin signature names no key: a verifier holding several of the
// origin's message-signing keys accepts it under any one of them, and the
// layout digest (the delivery key of providers) is the same for every
// reader and changes with the content.
func TestOriginKeysAndDigest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	if err := VerifyOrigin(bytes.NewReader(msg), other, w.origin.pub()); err != nil {
		t.Fatalf("second key of two: %v", err)
	}
	if err := VerifyOrigin(bytes.NewReader(msg), other); !errors.Is(err, ErrOriginSignature) {
		t.Fatalf("wrong key only: %v", err)
	}
	if err := VerifyOrigin(bytes.NewReader(msg)); !errors.Is(err, ErrInput) {
		t.Fatalf("no key: %v", err)
	}
	l1, err := Inspect(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	_, o, err := w.openRecipient(msg)
	if err != nil || o.Layout.Digest != l1.Digest || l1.Digest == [32]byte{} {
		t.Fatalf("digest differs between readers: %v", err)
	}
	l2, err := Inspect(bytes.NewReader(w.seal(t, []byte(simpleMIME))))
	if err != nil || l2.Digest == l1.Digest {
		t.Fatalf("two seals share a digest: %v", err)
	}
}

// TestTraceChunk: the chunk made from a layout is the one AppendTrace
// appends, and the same rules refuse it.
func TestTraceChunk(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	signed := w.seal(t, []byte(simpleMIME))
	tr := Trace{time.Unix(1700000000, 0), TraceReceived, strings.Repeat("d", 60) + ".test"}
	var want bytes.Buffer
	if err := AppendTrace(&want, bytes.NewReader(signed), tr); err != nil {
		t.Fatal(err)
	}
	l, err := Inspect(bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	got, err := TraceChunk(l, tr)
	if err != nil || !bytes.Equal(append(signed, got...), want.Bytes()) {
		t.Fatalf("TraceChunk: %v, not the chunk AppendTrace appends", err)
	}
	if len(got) > MaxTraceChunk {
		t.Errorf("trace chunk of %d bytes, MaxTraceChunk %d", len(got), MaxTraceChunk)
	}
	_, err = TraceChunk(&Layout{}, tr)
	wantErr(t, "trace chunk before the origin signature", err, ErrNoOriginSignature)
	_, err = TraceChunk(&Layout{OriginSigned: true, Traces: make([]Trace, maxTraces)}, tr)
	wantErr(t, "too many traces", err, ErrInput)
	_, err = TraceChunk(l, Trace{time.Now(), 9, "a.test"})
	wantErr(t, "unknown trace kind", err, ErrInput)
}
