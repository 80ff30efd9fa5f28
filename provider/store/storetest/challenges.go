package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"umbra/provider/store"
)

func challenge(name string, expires time.Time) store.Challenge {
	return store.Challenge{
		Value:   sha256.Sum256([]byte("challenge " + name)),
		Purpose: "login",
		Address: "alice@example.test",
		Key:     deviceKey(name),
		Expires: expires,
	}
}

func sameChallenge(t *testing.T, got, want store.Challenge, what string) {
	t.Helper()
	if got.Value != want.Value || got.Purpose != want.Purpose || got.Address != want.Address ||
		!bytes.Equal(got.Key, want.Key) || (got.Key == nil) != (want.Key == nil) || !got.Expires.Equal(want.Expires) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
}

// testChallengeSingleUse: a challenge comes back once, with every field,
// whether or not its address has an account.
func testChallengeSingleUse(t *testing.T, s store.Store) {
	ctx, c := t.Context(), s.Challenges()
	login := challenge("login", t0.Add(time.Minute))
	ok(t, c.Put(ctx, login))
	is(t, c.Put(ctx, login), store.ErrExists, "Put of a stored value")
	backup := challenge("backup", t0.Add(time.Minute))
	backup.Purpose, backup.Address, backup.Key = "key-backup", "nobody@example.org", nil
	ok(t, c.Put(ctx, backup))

	got, err := c.Take(ctx, login.Value)
	ok(t, err)
	sameChallenge(t, got, login, "Take")
	_, err = c.Take(ctx, login.Value)
	is(t, err, store.ErrNotFound, "second Take")
	got, err = c.Take(ctx, backup.Value)
	ok(t, err)
	sameChallenge(t, got, backup, "Take of a challenge without a key")
	_, err = c.Take(ctx, sha256.Sum256([]byte("never put")))
	is(t, err, store.ErrNotFound, "Take of a value never put")

	// A taken value may be put again (a new challenge, however unlikely).
	ok(t, c.Put(ctx, login))
	_, err = c.Take(ctx, login.Value)
	ok(t, err)
}

// testChallengeRace: of 16 concurrent Takes of one challenge exactly one
// gets it.
func testChallengeRace(t *testing.T, s store.Store) {
	ctx, c := t.Context(), s.Challenges()
	ch := challenge("race", t0.Add(time.Minute))
	ok(t, c.Put(ctx, ch))
	const n = 16
	got := make([]store.Challenge, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = c.Take(ctx, ch.Value) })
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			sameChallenge(t, got[i], ch, "the winning Take")
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("losing Take: %v, want ErrNotFound", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent Takes got the challenge, want 1", wins, n)
	}
}

// testChallengeExpiry: the store returns an expired challenge until it is
// purged (the caller checks Expires), and Purge removes exactly those
// expired at or before now.
func testChallengeExpiry(t *testing.T, s store.Store) {
	ctx, c := t.Context(), s.Challenges()
	early := challenge("early", t0)
	onTime := challenge("on time", t0.Add(time.Minute))
	late := challenge("late", t0.Add(time.Minute+time.Nanosecond))
	for _, ch := range []store.Challenge{early, onTime, late} {
		ok(t, c.Put(ctx, ch))
	}
	got, err := c.Take(ctx, early.Value)
	ok(t, err)
	sameChallenge(t, got, early, "Take of an expired challenge")
	ok(t, c.Put(ctx, early))
	n, err := c.Purge(ctx, t0.Add(time.Minute))
	ok(t, err)
	if n != 2 {
		t.Fatalf("Purge removed %d, want 2", n)
	}
	for _, ch := range []store.Challenge{early, onTime} {
		_, err := c.Take(ctx, ch.Value)
		is(t, err, store.ErrNotFound, "Take of a purged challenge")
	}
	_, err = c.Take(ctx, late.Value)
	ok(t, err)
	_, err = c.Purge(ctx, time.Time{})
	is(t, err, store.ErrInvalid, "Purge at the zero time")
}

func testChallengeValidation(t *testing.T, s store.Store) {
	ctx, c := t.Context(), s.Challenges()
	good := challenge("good", t0)
	bad := map[string]func(c *store.Challenge){
		"empty purpose":       func(c *store.Challenge) { c.Purpose = "" },
		"upper-case purpose":  func(c *store.Challenge) { c.Purpose = "Login" },
		"long purpose":        func(c *store.Challenge) { c.Purpose = string(make([]byte, store.MaxPurposeLen+1)) },
		"bad address":         func(c *store.Challenge) { c.Address = "alice" },
		"short key":           func(c *store.Challenge) { c.Key = c.Key[:31] },
		"empty non-nil key":   func(c *store.Challenge) { c.Key = c.Key[:0] },
		"zero expiry":         func(c *store.Challenge) { c.Expires = time.Time{} },
		"expiry after 2262":   func(c *store.Challenge) { c.Expires = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		"purpose with spaces": func(c *store.Challenge) { c.Purpose = "log in" },
	}
	for what, mutate := range bad {
		ch := good
		mutate(&ch)
		is(t, c.Put(ctx, ch), store.ErrInvalid, "Put with "+what)
	}
	_, err := c.Take(ctx, good.Value)
	is(t, err, store.ErrNotFound, "Take after rejected Puts")
}
