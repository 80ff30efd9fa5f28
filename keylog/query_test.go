package keylog

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// TestQueries answers every query of spec §8 from a log of 150 records and
// checks each answer as a client would: the checkpoint opens with the log
// key, every record is found and proved in it, records come back in
// pages, and an older tree is proved consistent with the newer one.
func TestQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newTestLog(t, "a.test", testKey())
	vkey, err := VerifierKey("a.test", testKey().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(s string) []byte {
		t.Helper()
		q, err := ParseQuery(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if q.String() != s {
			t.Fatalf("%q re-encodes as %q", s, q.String())
		}
		b, err := l.Answer(ctx, q)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return b
	}
	for i := range 100 {
		l.Append(ctx, record(i))
	}
	older, err := Open(ask("CHECKPOINT"), "a.test", vkey)
	if err != nil || older.Size != 100 {
		t.Fatalf("checkpoint: %+v %v", older, err)
	}
	for i := 100; i < 150; i++ {
		l.Append(ctx, record(i))
	}
	c, err := Open(ask("CHECKPOINT"), "a.test", vkey)
	if err != nil || c.Size != 150 {
		t.Fatalf("checkpoint: %+v %v", c, err)
	}
	proof, err := DecodeProof(ask("CONSISTENCY 100 150"))
	if err != nil || VerifyConsistency(older, c, proof) != nil {
		t.Fatalf("consistency 100 → 150: %v", err)
	}
	for i := range 150 {
		h := sha256.Sum256(record(i))
		idx, err := DecodeIndex(ask(Query{Op: OpFind, Hash: h}.String()))
		if err != nil || idx != int64(i) {
			t.Fatalf("FIND record %d: %d, %v", i, idx, err)
		}
		proof, err := DecodeProof(ask(Query{Op: OpInclusion, A: idx, B: c.Size}.String()))
		if err != nil || VerifyInclusion(c, idx, record(i), proof) != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	var all [][]byte
	for start := 0; start < 150; {
		recs, err := DecodeRecords(ask(Query{Op: OpRecords, A: int64(start), B: MaxRecordsPerQuery}.String()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		start += len(recs)
	}
	if len(all) != 150 || string(all[149]) != string(record(149)) {
		t.Fatalf("RECORDS gave %d records", len(all))
	}

	// What the log does not have.
	for _, s := range []string{"INCLUSION 150 150", "INCLUSION 0 151", "CONSISTENCY 100 151", "CONSISTENCY 151 150", "RECORDS 150 1"} {
		q, _ := ParseQuery(s)
		if _, err := l.Answer(ctx, q); !errors.Is(err, ErrRange) {
			t.Errorf("%q: %v, want ErrRange", s, err)
		}
	}
	if _, err := l.Find(ctx, sha256.Sum256([]byte("never logged"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("FIND of a record never logged: %v", err)
	}
}

// TestBadQueries: malformed queries and answers are refused with
// ErrQuery.
func TestBadQueries(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "checkpoint", "CHECKPOINT ", "CHECKPOINT 1", "INCLUSION 1", "INCLUSION 1 2 3", "INCLUSION 01 2",
		"INCLUSION -1 2", "INCLUSION +1 2", "INCLUSION 1  2", "INCLUSION 1 9999999999999999999",
		"RECORDS 0 0", "RECORDS 0 65", "FIND", "FIND AAAA", "FIND " + strings.Repeat("A", 44),
		"FIND " + strings.Repeat("A", 42) + "=", "LOOKUP x", strings.Repeat("CHECKPOINT", 20),
		"FIND AAAAA\r" + strings.Repeat("A", 38), "CHECKPOINT\n",
	} {
		if q, err := ParseQuery(s); !errors.Is(err, ErrQuery) {
			t.Errorf("%q parsed as %+v, %v", s, q, err)
		}
	}
	for _, b := range [][]byte{nil, {0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 2, 'x'}, {0, 1, 0, 1, 'x'}} {
		if _, err := DecodeRecords(b); !errors.Is(err, ErrQuery) {
			t.Errorf("records %x: %v", b, err)
		}
	}
	for _, b := range [][]byte{nil, {1, 2, 3}, {0x80, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := DecodeIndex(b); !errors.Is(err, ErrQuery) {
			t.Errorf("index %x: %v", b, err)
		}
	}
}

// FuzzParseQuery: no panic, and what parses re-encodes to the same text.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"CHECKPOINT", "INCLUSION 5 10", "CONSISTENCY 0 7", "RECORDS 3 64",
		"FIND GShydCJB5dKGq8lgIWJexrhWTAGGgV_cryWrUHwuYlY", "INCLUSION 01 2", "RECORDS 1 65"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			return
		}
		if q.String() != s {
			t.Fatalf("%q parses and re-encodes as %q", s, q.String())
		}
	})
}

// FuzzDecodeRecords: no panic; what decodes re-frames to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'x'})
	f.Add([]byte{0, 0, 0, 2, 'x', 'y', 0, 0, 0, 1, 'z'})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(b)
		if err != nil {
			return
		}
		n := 0
		for _, r := range recs {
			n += 4 + len(r)
		}
		if n != len(b) {
			t.Fatalf("%d records from %d bytes cover %d", len(recs), len(b), n)
		}
	})
}
