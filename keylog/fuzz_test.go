package keylog

import (
	"context"
	"crypto/ed25519"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// FuzzOpen: a signed checkpoint from a stranger never panics, and what
// opens re-encodes to the signed text.
func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	l := newTestLog(f, "a.test", testKey())
	for i := range 5 {
		l.Append(ctx, record(i))
		_, signed, err := l.Checkpoint(ctx)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
	}
	f.Add([]byte("umbra-keylog/a.test\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— umbra-keylog/a.test AAAA\n"))
	vkey, _ := VerifierKey("a.test", testKey().Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := Open(msg, "a.test", vkey)
		if err != nil {
			return
		}
		if p, err := ParseText(c.Text()); err != nil || p != c {
			t.Fatalf("opened %+v does not round-trip: %v", c, err)
		}
	})
}

// FuzzProof: any bytes as an inclusion or consistency proof for a real
// tree: no panic, and only the right proof verifies.
func FuzzProof(f *testing.F) {
	ctx := context.Background()
	l := newTestLog(f, "a.test", testKey())
	for i := range 21 {
		l.Append(ctx, record(i))
	}
	c, _, _ := l.Checkpoint(ctx)
	old := Checkpoint{Origin: c.Origin, Size: 13}
	old.Hash, _ = tlog.TreeHash(13, l.reader(ctx))
	good, _ := l.ProveInclusion(ctx, 7, 21)
	cons, _ := l.ProveConsistency(ctx, 13, 21)
	f.Add(int64(7), EncodeProof(good))
	f.Add(int64(13), EncodeProof(cons))
	f.Add(int64(0), []byte{})
	f.Fuzz(func(t *testing.T, index int64, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			return
		}
		if VerifyInclusion(c, index, record(7), p) == nil && (index != 7 || string(EncodeProof(p)) != string(EncodeProof(good))) {
			t.Fatalf("a forged inclusion proof verified at %d", index)
		}
		_ = VerifyConsistency(old, c, p)
	})
}

// FuzzIndexedProof: an indexed proof as a message carries it (spec §10)
// from a stranger: no panic, what decodes re-encodes, and only the real
// proof of record 7 verifies for it.
func FuzzIndexedProof(f *testing.F) {
	ctx := context.Background()
	l := newTestLog(f, "a.test", testKey())
	for i := range 21 {
		l.Append(ctx, record(i))
	}
	c, _, _ := l.Checkpoint(ctx)
	good, _ := l.ProveInclusion(ctx, 7, 21)
	genuine := EncodeIndexedProof(7, 21, good)
	f.Add(genuine)
	f.Add(EncodeIndexedProof(0, 1, nil))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		index, size, p, err := DecodeIndexedProof(b)
		if err != nil {
			return
		}
		if string(EncodeIndexedProof(index, size, p)) != string(b) {
			t.Fatalf("%x decodes and re-encodes differently", b)
		}
		if size == c.Size && VerifyInclusion(c, index, record(7), p) == nil && string(b) != string(genuine) {
			t.Fatalf("a forged indexed proof verified: %x", b)
		}
	})
}
