package keylog

import (
	"context"
	"crypto/ed25519"
	"testing"
)

// The log's costs (docs/benchmarks.md): appending to a log of 100,000
// records in memory (the store's fsync comes on top), proving and
// verifying inclusion in it, and opening a checkpoint.
var benchLog = func() *Log {
	l := newTestLog(nil, "a.test", testKey())
	for i := range 100_000 {
		if _, err := l.Append(context.Background(), record(i)); err != nil {
			panic(err)
		}
	}
	return l
}

func BenchmarkAppend(b *testing.B) {
	l := newTestLog(b, "a.test", testKey())
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Append(ctx, record(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProveInclusion(b *testing.B) {
	l := benchLog()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := l.ProveInclusion(ctx, int64(i*7919%100_000), 100_000); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyInclusion(b *testing.B) {
	l := benchLog()
	ctx := context.Background()
	c, _, _ := l.Checkpoint(ctx)
	p, _ := l.ProveInclusion(ctx, 4242, 100_000)
	for b.Loop() {
		if err := VerifyInclusion(c, 4242, record(4242), p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenCheckpoint(b *testing.B) {
	l := benchLog()
	_, signed, _ := l.Checkpoint(context.Background())
	vkey, _ := VerifierKey("a.test", testKey().Public().(ed25519.PublicKey))
	for b.Loop() {
		if _, err := Open(signed, "a.test", vkey); err != nil {
			b.Fatal(err)
		}
	}
}
