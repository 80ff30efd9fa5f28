package storetest

import (
	"bytes"
	"testing"
	"time"

	"umbra/provider/store"
)

func testRemoteSignets(t *testing.T, s store.Store) {
	ctx, r := t.Context(), s.RemoteSignets()
	_, err := r.Get(ctx, "example.org")
	is(t, err, store.ErrNotFound, "Get an uncached domain")
	a := store.RemoteSignet{Domain: "example.org", Signet: []byte("org signet 1"), Fetched: t0, Expires: t0.Add(time.Hour)}
	b := store.RemoteSignet{Domain: "example.net", Signet: []byte("org signet 2"), Fetched: t0, Expires: t0.Add(2 * time.Hour)}
	ok(t, r.Put(ctx, a))
	ok(t, r.Put(ctx, b))
	got, err := r.Get(ctx, "example.org")
	ok(t, err)
	if got.Domain != a.Domain || !bytes.Equal(got.Signet, a.Signet) || !got.Fetched.Equal(a.Fetched) || !got.Expires.Equal(a.Expires) {
		t.Fatalf("Get = %+v, want %+v", got, a)
	}
	a2 := store.RemoteSignet{Domain: "example.org", Signet: []byte("org signet 1b"), Fetched: t0.Add(time.Minute), Expires: t0.Add(3 * time.Hour)}
	ok(t, r.Put(ctx, a2))
	got, err = r.Get(ctx, "example.org")
	ok(t, err)
	if !bytes.Equal(got.Signet, a2.Signet) || !got.Expires.Equal(a2.Expires) {
		t.Fatalf("Put did not replace: %+v", got)
	}
	// Purge removes exactly the entries expired at or before now.
	n, err := r.Purge(ctx, t0.Add(2*time.Hour))
	ok(t, err)
	if n != 1 {
		t.Fatalf("Purge removed %d, want 1", n)
	}
	_, err = r.Get(ctx, "example.net")
	is(t, err, store.ErrNotFound, "Get a purged entry")
	if _, err := r.Get(ctx, "example.org"); err != nil {
		t.Fatalf("Purge removed a live entry: %v", err)
	}
	bad := a
	bad.Expires = bad.Fetched
	is(t, r.Put(ctx, bad), store.ErrInvalid, "Put expiring when fetched")
	bad = a
	bad.Domain = "EXAMPLE.org"
	is(t, r.Put(ctx, bad), store.ErrInvalid, "Put for an invalid domain")
	bad = a
	bad.Signet = nil
	is(t, r.Put(ctx, bad), store.ErrInvalid, "Put an empty signet")
}
