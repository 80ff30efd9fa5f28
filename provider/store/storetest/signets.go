package storetest

import (
	"bytes"
	"testing"

	"umbra/provider/store"
	"umbra/signet"
)

// chain appends n signets to address's chain and returns their
// fingerprints, index 0 for seq 1.
func chain(t *testing.T, s store.Store, address string, n int) []signet.Fingerprint {
	t.Helper()
	var fps []signet.Fingerprint
	for i := 1; i <= n; i++ {
		b := sig(address, i)
		fp := signet.FingerprintOf(b)
		seq, err := s.Signets().Append(t.Context(), address, fp, b)
		ok(t, err)
		if seq != int64(i) {
			t.Fatalf("Append #%d: seq %d", i, seq)
		}
		fps = append(fps, fp)
	}
	return fps
}

func testSignetChain(t *testing.T, s store.Store) {
	ctx, g := t.Context(), s.Signets()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	_, err := g.Current(ctx, alice)
	is(t, err, store.ErrNotFound, "Current of an empty chain")

	fps := chain(t, s, alice, 5)
	cur, err := g.Current(ctx, alice)
	ok(t, err)
	if cur.Seq != 5 || cur.Fingerprint != fps[4] || !bytes.Equal(cur.Signet, sig(alice, 5)) || cur.Address != alice || cur.Added.IsZero() {
		t.Fatalf("Current = %+v", cur)
	}

	// Appending a signet already in the chain is idempotent.
	seq, err := g.Append(ctx, alice, fps[2], sig(alice, 3))
	ok(t, err)
	if seq != 3 {
		t.Fatalf("re-Append of #3: seq %d", seq)
	}
	if cur, _ := g.Current(ctx, alice); cur.Seq != 5 {
		t.Fatalf("re-Append moved the chain: current #%d", cur.Seq)
	}

	_, err = g.Append(ctx, alice, fps[0], sig(alice, 9))
	is(t, err, store.ErrInvalid, "Append with a fingerprint of other bytes")
	_, err = g.Append(ctx, bob, fps[1], sig(alice, 2))
	is(t, err, store.ErrExists, "Append of another account's signet")
	other := sig("nobody@example.test", 1)
	_, err = g.Append(ctx, "nobody@example.test", signet.FingerprintOf(other), other)
	is(t, err, store.ErrNotFound, "Append to no account")
	_, err = g.Append(ctx, alice, signet.FingerprintOf(nil), nil)
	is(t, err, store.ErrInvalid, "Append of an empty signet")
	big := make([]byte, store.MaxSignetSize+1)
	_, err = g.Append(ctx, alice, signet.FingerprintOf(big), big)
	is(t, err, store.ErrInvalid, "Append of an oversize signet")

	r, err := g.ByFingerprint(ctx, fps[2])
	ok(t, err)
	if r.Address != alice || r.Seq != 3 || r.Fingerprint != fps[2] || !bytes.Equal(r.Signet, sig(alice, 3)) {
		t.Fatalf("ByFingerprint = %+v", r)
	}
	_, err = g.ByFingerprint(ctx, signet.FingerprintOf([]byte("unknown")))
	is(t, err, store.ErrNotFound, "ByFingerprint unknown")

	// Bob's chain is his own and numbered from 1.
	bobs := chain(t, s, bob, 1)
	if cur, _ := g.Current(ctx, bob); cur.Fingerprint != bobs[0] || cur.Seq != 1 {
		t.Fatalf("bob's current = %+v", cur)
	}
}

func testSignetHistory(t *testing.T, s store.Store) {
	ctx, g := t.Context(), s.Signets()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	_, err := g.History(ctx, alice, signet.Fingerprint{}, signet.Fingerprint{}, 10)
	is(t, err, store.ErrNotFound, "History of an empty chain")
	fps := chain(t, s, alice, 6)
	bobs := chain(t, s, bob, 2)
	var zero signet.Fingerprint

	for _, c := range []struct {
		name        string
		start, stop signet.Fingerprint
		limit       int
		want        []int64
	}{
		{"all", zero, zero, 100, []int64{1, 2, 3, 4, 5, 6}},
		{"middle", fps[1], fps[4], 100, []int64{2, 3, 4, 5}},
		{"to current", fps[3], zero, 100, []int64{4, 5, 6}},
		{"from first", zero, fps[0], 100, []int64{1}},
		{"one", fps[2], fps[2], 100, []int64{3}},
		{"limited", fps[1], zero, 2, []int64{2, 3}},
		{"clamped", zero, zero, store.MaxHistory + 1, []int64{1, 2, 3, 4, 5, 6}},
	} {
		got, err := g.History(ctx, alice, c.start, c.stop, c.limit)
		ok(t, err)
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d signets, want %d", c.name, len(got), len(c.want))
		}
		for i, r := range got {
			if r.Seq != c.want[i] || r.Fingerprint != fps[r.Seq-1] || !bytes.Equal(r.Signet, sig(alice, int(r.Seq))) {
				t.Fatalf("%s: [%d] = #%d %s, want #%d", c.name, i, r.Seq, r.Fingerprint, c.want[i])
			}
		}
	}
	_, err = g.History(ctx, alice, fps[4], fps[1], 10)
	is(t, err, store.ErrInvalid, "History with start after stop")
	_, err = g.History(ctx, alice, bobs[0], zero, 10)
	is(t, err, store.ErrNotFound, "History from another chain's signet")
	_, err = g.History(ctx, alice, zero, bobs[1], 10)
	is(t, err, store.ErrNotFound, "History to another chain's signet")
	_, err = g.History(ctx, alice, zero, zero, 0)
	is(t, err, store.ErrInvalid, "History with limit 0")
}
