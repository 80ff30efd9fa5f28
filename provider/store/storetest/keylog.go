package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"umbra/provider/store"
)

// testKeylog appends records the way package keylog does (the hashes
// tlog.StoredHashes computes from what the store returns) and checks that
// the store gives back the same records, hashes and tree; that only the
// next record can be appended; and that concurrent appenders of the same
// record number leave exactly one.
func testKeylog(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := s.Keylog()
	if n, err := k.Size(ctx); err != nil || n != 0 {
		t.Fatalf("empty log: size %d %v", n, err)
	}
	if _, err := k.Record(ctx, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record of an empty log: %v", err)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs, err := k.ReadHashes(ctx, idx)
		out := make([]tlog.Hash, len(hs))
		for i := range hs {
			out[i] = hs[i]
		}
		return out, err
	})
	appendOne := func(n int64) error {
		rec := fmt.Appendf(nil, "record %d", n)
		hashes, err := tlog.StoredHashes(n, rec, reader)
		if err != nil {
			return err
		}
		raw := make([][32]byte, len(hashes))
		for i := range hashes {
			raw[i] = hashes[i]
		}
		return k.Append(ctx, n, rec, raw)
	}
	var leaves []tlog.Hash
	for n := range int64(37) {
		if err := appendOne(n); err != nil {
			t.Fatalf("append %d: %v", n, err)
		}
		leaves = append(leaves, tlog.RecordHash(fmt.Appendf(nil, "record %d", n)))
	}
	if n, err := k.Size(ctx); err != nil || n != 37 {
		t.Fatalf("size %d %v, want 37", n, err)
	}
	if r, err := k.Record(ctx, 36); err != nil || !bytes.Equal(r, []byte("record 36")) {
		t.Fatalf("record 36: %q %v", r, err)
	}
	// The tree from the stored hashes is the tree of the records.
	th, err := tlog.TreeHash(37, reader)
	if err != nil {
		t.Fatal(err)
	}
	var mem memHashes
	for n := range int64(37) {
		hs, _ := tlog.StoredHashesForRecordHash(n, leaves[n], mem)
		mem = append(mem, hs...)
	}
	if want, _ := tlog.TreeHash(37, mem); th != want {
		t.Fatal("the stored tree is not the tree of the records")
	}
	if err := k.Append(ctx, 36, []byte("again"), nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("an append that is not the next: %v", err)
	}
	if err := k.Append(ctx, 38, []byte("gap"), nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("an append past the next: %v", err)
	}
	if err := k.Append(ctx, 37, nil, nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("an empty record: %v", err)
	}
	if _, err := k.ReadHashes(ctx, []int64{1 << 40}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a hash past the end: %v", err)
	}

	// Two sequencers racing for record 37: one wins, the other conflicts.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = appendOne(37) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("racing append: %v", err)
		}
	}
	if n, _ := k.Size(ctx); won != 1 || n != 38 {
		t.Fatalf("%d racing appends won, size %d", won, n)
	}
	if _, err := tlog.TreeHash(38, reader); err != nil {
		t.Fatalf("tree after the race: %v", err)
	}
}

// memHashes is a tlog.HashReader over a slice.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m[x]
	}
	return out, nil
}
