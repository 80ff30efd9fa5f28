package keylog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// testKey is a fixed log key (seed SHA-256("keylog test")).
func testKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("keylog test"))
	return ed25519.NewKeyFromSeed(seed[:])
}

func newTestLog(t testing.TB, domain string, key ed25519.PrivateKey) *Log {
	s, err := NewSigner(domain, key)
	if err != nil {
		panic(err)
	}
	return New(domain, &MemStorage{}, s)
}

func record(i int) []byte { return fmt.Appendf(nil, "signet %d of alice@a.test", i) }

// TestProofs: a log of 100 records proves every record into every later
// tree and every tree into every later one; a changed record, a wrong
// index and a forked history do not verify.
func TestProofs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newTestLog(t, "a.test", testKey())
	vkey, err := VerifierKey("a.test", testKey().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var cps []Checkpoint
	for i := range 100 {
		n, err := l.Append(ctx, record(i))
		if err != nil || n != int64(i) {
			t.Fatalf("append %d: %d %v", i, n, err)
		}
		_, signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(signed, "a.test", vkey)
		if err != nil || c.Size != int64(i+1) {
			t.Fatalf("checkpoint %d: %+v %v", i, c, err)
		}
		cps = append(cps, c)
	}
	for _, c := range []Checkpoint{cps[0], cps[6], cps[63], cps[64], cps[99]} {
		for i := int64(0); i < c.Size; i++ {
			p, err := l.ProveInclusion(ctx, i, c.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(c, i, record(int(i)), p); err != nil {
				t.Fatalf("record %d in tree %d: %v", i, c.Size, err)
			}
			if err := VerifyInclusion(c, i, append(record(int(i)), '!'), p); !errors.Is(err, ErrProof) {
				t.Fatalf("a changed record %d verified: %v", i, err)
			}
			if c.Size > 1 {
				if err := VerifyInclusion(c, (i+1)%c.Size, record(int(i)), p); !errors.Is(err, ErrProof) {
					t.Fatalf("record %d verified at another index: %v", i, err)
				}
			}
		}
		for _, old := range []Checkpoint{cps[0], cps[5], cps[31], cps[32], cps[70]} {
			if old.Size > c.Size {
				continue
			}
			p, err := l.ProveConsistency(ctx, old.Size, c.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(old, c, decodeMust(t, EncodeProof(p))); err != nil {
				t.Fatalf("tree %d → %d: %v", old.Size, c.Size, err)
			}
		}
	}

	// A provider that shows another history: the same first 50 records,
	// then a different one. Its tree does not extend what was shown.
	fork := newTestLog(t, "a.test", testKey())
	for i := range 60 {
		r := record(i)
		if i == 50 {
			r = []byte("a bogus signet for alice@a.test")
		}
		if _, err := fork.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fc, _, _ := fork.Checkpoint(ctx)
	p, _ := fork.ProveConsistency(ctx, 55, 60)
	if err := VerifyConsistency(cps[54], fc, p); !errors.Is(err, ErrProof) {
		t.Fatalf("a forked log passed as consistent: %v", err)
	}
	p, _ = fork.ProveConsistency(ctx, 40, 60)
	if err := VerifyConsistency(cps[39], fc, p); err != nil {
		t.Fatalf("the fork agrees up to 50 records: %v", err)
	}
	if err := VerifyConsistency(cps[59], fc, nil); !errors.Is(err, ErrProof) {
		t.Fatalf("two trees of one size passed: %v", err)
	}
	if err := VerifyConsistency(cps[70], cps[69], nil); !errors.Is(err, ErrProof) {
		t.Fatalf("a shrinking log passed: %v", err)
	}
}

// decodeMust decodes a proof's wire form, which must round-trip.
func decodeMust(t *testing.T, b []byte) []tlog.Hash {
	t.Helper()
	p, err := DecodeProof(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckpointSignatures: another key, another domain's key and a
// changed body are refused.
func TestCheckpointSignatures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newTestLog(t, "a.test", testKey())
	if _, err := l.Append(ctx, record(0)); err != nil {
		t.Fatal(err)
	}
	_, signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	otherKey, _ := VerifierKey("a.test", other.Public().(ed25519.PublicKey))
	if _, err := Open(signed, "a.test", otherKey); err == nil {
		t.Fatal("opened with another key")
	}
	bKey, _ := VerifierKey("b.test", testKey().Public().(ed25519.PublicKey))
	if _, err := Open(signed, "a.test", bKey); err == nil {
		t.Fatal("opened with b.test's verifier key")
	}
	vkey, _ := VerifierKey("a.test", testKey().Public().(ed25519.PublicKey))
	changed := bytes.Replace(signed, []byte("\n1\n"), []byte("\n2\n"), 1)
	if _, err := Open(changed, "a.test", vkey); err == nil {
		t.Fatal("a changed size verified")
	}
	if _, err := Open(signed, "a.test", vkey); err != nil {
		t.Fatal(err)
	}
}

func TestRanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newTestLog(t, "a.test", testKey())
	if _, err := l.ProveInclusion(ctx, 0, 1); !errors.Is(err, ErrRange) {
		t.Fatalf("proof in an empty log: %v", err)
	}
	if _, err := l.Append(ctx, nil); err == nil {
		t.Fatal("empty record appended")
	}
	if _, err := l.Append(ctx, make([]byte, MaxRecord+1)); err == nil {
		t.Fatal("oversize record appended")
	}
	l.Append(ctx, record(0))
	l.Append(ctx, record(1))
	if _, err := l.ProveInclusion(ctx, 2, 2); !errors.Is(err, ErrRange) {
		t.Fatalf("index past the tree: %v", err)
	}
	if _, err := l.ProveConsistency(ctx, 1, 3); !errors.Is(err, ErrRange) {
		t.Fatalf("tree past the log: %v", err)
	}
	if r, err := l.Record(ctx, 1); err != nil || !bytes.Equal(r, record(1)) {
		t.Fatalf("record 1: %q %v", r, err)
	}
	if _, err := DecodeProof(make([]byte, 33)); !errors.Is(err, ErrProof) {
		t.Fatalf("a proof of 33 bytes: %v", err)
	}
}

// TestAppendConflict: two Logs over one storage, as two provider nodes
// over one database, append concurrently; each record gets its own
// number and the tree is that of the records in their order.
func TestAppendConflict(t *testing.T) {
	t.Parallel()
	st := &MemStorage{}
	s, err := NewSigner("a.test", testKey())
	if err != nil {
		t.Fatal(err)
	}
	logs := []*Log{New("a.test", st, s), New("a.test", st, s)}
	const each = 30
	ctx := context.Background()
	errs := make(chan error, 2*each)
	done := make(chan struct{})
	for w, l := range logs {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				if _, err := l.Append(ctx, record(w*each+i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	<-done
	<-done
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, _ := st.Size(ctx)
	if n != 2*each {
		t.Fatalf("%d records, want %d", n, 2*each)
	}
	seen := map[string]bool{}
	ref := newTestLog(t, "a.test", testKey()) // the same records appended by one Log
	for i := range n {
		r, err := st.Record(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(r)] {
			t.Fatalf("record %q appended twice", r)
		}
		seen[string(r)] = true
		if _, err := ref.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := logs[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want, _, _ := ref.Checkpoint(ctx); c.Hash != want.Hash {
		t.Fatalf("tree hash %x, want %x", c.Hash, want.Hash)
	}
}
