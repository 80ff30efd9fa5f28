package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
)

// session returns session number n of device d, issued at issued, with
// tokens valid for an hour (access) and thirty days (refresh).
func session(d store.Device, n int, issued time.Time) store.Session {
	return store.Session{
		Account: d.Account, DeviceID: d.ID, Issued: issued,
		AccessHash: sha256.Sum256(fmt.Appendf(nil, "access %d %s %s", n, d.Account, d.ID)), AccessExpires: issued.Add(time.Hour),
		RefreshHash: sha256.Sum256(fmt.Appendf(nil, "refresh %d %s %s", n, d.Account, d.ID)), RefreshExpires: issued.Add(30 * 24 * time.Hour),
	}
}

func sameSession(t *testing.T, got, want store.Session, what string) {
	t.Helper()
	if got.Account != want.Account || got.DeviceID != want.DeviceID || got.AccessHash != want.AccessHash || got.RefreshHash != want.RefreshHash ||
		!got.Issued.Equal(want.Issued) || !got.AccessExpires.Equal(want.AccessExpires) || !got.RefreshExpires.Equal(want.RefreshExpires) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
}

// live fails unless want is the live session of its access hash.
func live(t *testing.T, s store.Store, want store.Session, what string) {
	t.Helper()
	got, err := s.Sessions().ByAccess(t.Context(), want.AccessHash)
	if err != nil {
		t.Fatalf("%s: ByAccess: %v", what, err)
	}
	sameSession(t, got, want, what)
}

// dead fails unless no live session has h as its access hash.
func dead(t *testing.T, s store.Store, h [32]byte, what string) {
	t.Helper()
	_, err := s.Sessions().ByAccess(t.Context(), h)
	is(t, err, store.ErrNotFound, what)
}

func testSessionLifecycle(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice := "alice@example.test"
	active(t, s, alice)
	d := addDevice(t, s, alice, "phone")
	s1 := session(d, 1, t0)
	ok(t, v.Create(ctx, s1))
	live(t, s, s1, "new session")
	s2 := session(d, 2, t0.Add(time.Minute)) // a second login of the same device
	ok(t, v.Create(ctx, s2))
	live(t, s, s2, "second session")
	live(t, s, s1, "first session beside the second")
	dead(t, s, sha256.Sum256([]byte("no such token")), "ByAccess of an unknown hash")
	dead(t, s, s1.RefreshHash, "ByAccess of a refresh hash")

	// Expiry is the caller's business: an expired session is still found.
	old := session(d, 3, t0.Add(-48*time.Hour))
	ok(t, v.Create(ctx, old))
	live(t, s, old, "session past its expiry")

	dup := session(d, 4, t0)
	dup.AccessHash = s1.AccessHash
	is(t, v.Create(ctx, dup), store.ErrExists, "Create with a taken access hash")
	dup = session(d, 4, t0)
	dup.RefreshHash = s1.RefreshHash
	is(t, v.Create(ctx, dup), store.ErrExists, "Create with a taken refresh hash")
	dup = session(d, 4, t0)
	dup.AccessHash = s1.RefreshHash
	is(t, v.Create(ctx, dup), store.ErrExists, "Create with another session's refresh hash as access hash")
	dead(t, s, session(d, 4, t0).AccessHash, "a rejected Create")

	other := session(d, 5, t0)
	other.DeviceID = "no-such-device"
	is(t, v.Create(ctx, other), store.ErrNotFound, "Create for no device")
	other = session(d, 5, t0)
	other.Account = "nobody@example.test"
	is(t, v.Create(ctx, other), store.ErrNotFound, "Create for no account")
	invited := "invited@example.test"
	ok(t, s.Accounts().AddInvited(ctx, invited, codeHash(invited)))
	other.Account = invited
	is(t, v.Create(ctx, other), store.ErrState, "Create for an invited account")

	n, err := v.DeleteByDevice(ctx, alice, d.ID)
	ok(t, err)
	if n != 3 {
		t.Fatalf("DeleteByDevice removed %d sessions, want 3", n)
	}
	for _, x := range []store.Session{s1, s2, old} {
		dead(t, s, x.AccessHash, "ByAccess after DeleteByDevice")
	}
	// The device itself stays: it can log in again.
	ok(t, v.Create(ctx, session(d, 6, t0)))
}

func testSessionValidation(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice := "alice@example.test"
	active(t, s, alice)
	d := addDevice(t, s, alice, "phone")
	good := session(d, 1, t0)
	bad := map[string]func(x *store.Session){
		"zero access hash":         func(x *store.Session) { x.AccessHash = [32]byte{} },
		"zero refresh hash":        func(x *store.Session) { x.RefreshHash = [32]byte{} },
		"equal hashes":             func(x *store.Session) { x.RefreshHash = x.AccessHash },
		"zero issued":              func(x *store.Session) { x.Issued = time.Time{} },
		"access expires at issue":  func(x *store.Session) { x.AccessExpires = x.Issued },
		"refresh expires at issue": func(x *store.Session) { x.RefreshExpires = x.Issued.Add(-time.Second) },
		"refresh after 2262":       func(x *store.Session) { x.RefreshExpires = time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for what, mutate := range bad {
		x := good
		mutate(&x)
		is(t, v.Create(ctx, x), store.ErrInvalid, "Create with "+what)
		ok(t, v.Create(ctx, good))
		_, err := v.Refresh(ctx, good.RefreshHash, x)
		is(t, err, store.ErrInvalid, "Refresh into "+what)
		live(t, s, good, "session after a rejected Refresh into "+what)
		_, err = v.DeleteByDevice(ctx, alice, d.ID)
		ok(t, err)
	}
	x := good
	x.DeviceID = "not/an/id"
	is(t, v.Create(ctx, x), store.ErrInvalid, "Create with a bad device id")
	x = good
	x.Account = "alice@EXAMPLE.test"
	is(t, v.Create(ctx, x), store.ErrInvalid, "Create with a bad account")
	_, err := v.DeleteByDevice(ctx, alice, "")
	is(t, err, store.ErrInvalid, "DeleteByDevice with an empty id")
	_, err = v.Purge(ctx, time.Unix(-1, 0))
	is(t, err, store.ErrInvalid, "Purge before 1970")
}

// testSessionRefresh: a refresh token works once; the new session keeps
// the old one's account and device whatever next says.
func testSessionRefresh(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	d := addDevice(t, s, alice, "phone")
	bd := addDevice(t, s, bob, "phone")
	s1 := session(d, 1, t0)
	ok(t, v.Create(ctx, s1))

	next := session(bd, 2, t0.Add(time.Hour)) // names bob's device: ignored
	got, err := v.Refresh(ctx, s1.RefreshHash, next)
	ok(t, err)
	want := next
	want.Account, want.DeviceID = alice, d.ID
	sameSession(t, got, want, "Refresh")
	live(t, s, want, "refreshed session")
	dead(t, s, s1.AccessHash, "the replaced session's access hash")
	other := session(d, 30, t0)
	ok(t, v.Create(ctx, other))
	bob1 := session(bd, 31, t0)
	ok(t, v.Create(ctx, bob1))
	_, err = v.Refresh(ctx, s1.RefreshHash, session(d, 3, t0.Add(time.Hour)))
	is(t, err, store.ErrNotFound, "second Refresh of one token")
	dead(t, s, session(d, 3, t0).AccessHash, "the failed Refresh's session")
	// A reuse ends every session of the device, and nobody else's.
	dead(t, s, want.AccessHash, "the session refreshed from a reused token")
	dead(t, s, other.AccessHash, "another session of the device after a reuse")
	live(t, s, bob1, "another device's session after a reuse")
	want = session(d, 32, t0)
	ok(t, v.Create(ctx, want))
	// A token never issued ends nothing.
	_, err = v.Refresh(ctx, [32]byte{7}, session(d, 33, t0.Add(time.Hour)))
	is(t, err, store.ErrNotFound, "Refresh of an unknown token")
	live(t, s, want, "session after an unknown token")

	// A refresh token is accepted until, not at, its expiry.
	atExpiry := session(d, 4, want.RefreshExpires)
	_, err = v.Refresh(ctx, want.RefreshHash, atExpiry)
	is(t, err, store.ErrNotFound, "Refresh at the refresh token's expiry")
	live(t, s, want, "session after a Refresh too late")
	justBefore := session(d, 5, want.RefreshExpires.Add(-time.Nanosecond))
	_, err = v.Refresh(ctx, want.RefreshHash, justBefore)
	ok(t, err)

	// A taken hash fails the refresh and leaves the old session alone.
	other = session(d, 6, t0)
	ok(t, v.Create(ctx, other))
	clash := session(d, 7, t0.Add(time.Hour))
	clash.AccessHash = other.AccessHash
	_, err = v.Refresh(ctx, justBefore.RefreshHash, clash)
	is(t, err, store.ErrExists, "Refresh into a taken hash")
	live(t, s, justBefore, "session after a Refresh into a taken hash")
	_, err = v.Refresh(ctx, justBefore.RefreshHash, session(d, 8, t0.Add(time.Hour)))
	ok(t, err)
}

// testRefreshRace: of 16 concurrent Refreshes of one token exactly one
// succeeds; the others are reuses of the spent token, so in the end no
// session of the device is live.
func testRefreshRace(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice := "alice@example.test"
	active(t, s, alice)
	d := addDevice(t, s, alice, "phone")
	s0 := session(d, 0, t0)
	ok(t, v.Create(ctx, s0))
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = v.Refresh(ctx, s0.RefreshHash, session(d, i+1, t0.Add(time.Minute))) })
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		next := session(d, i+1, t0.Add(time.Minute))
		switch {
		case err == nil:
			wins++
			// The losers used the token after it was spent: a reuse,
			// which ended the winner's session too.
			dead(t, s, next.AccessHash, "the winning Refresh's session after the reuses")
		case errors.Is(err, store.ErrNotFound):
			dead(t, s, next.AccessHash, "a losing Refresh's session")
		default:
			t.Fatalf("losing Refresh: %v, want ErrNotFound", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent Refreshes of one token succeeded, want 1", wins, n)
	}
	dead(t, s, s0.AccessHash, "the refreshed session")
}

// testRevocation: once Revoke or Disable returns, no session of the
// device or account authenticates or refreshes — including sessions
// created concurrently with the revocation and lookups already running.
func testRevocation(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice := "alice@example.test"
	active(t, s, alice)
	phone := addDevice(t, s, alice, "phone")
	laptop := addDevice(t, s, alice, "laptop")
	ps := session(phone, 1, t0)
	ls := session(laptop, 1, t0)
	ok(t, v.Create(ctx, ps))
	ok(t, v.Create(ctx, ls))

	const n = 16
	var revoked atomic.Bool
	created := make([]error, n)
	var stale atomic.Int64 // successful lookups that started after Revoke returned
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { created[i] = v.Create(ctx, session(phone, 100+i, t0)) })
		wg.Go(func() {
			for after := 0; after < 20; {
				before := revoked.Load()
				_, err := v.ByAccess(ctx, ps.AccessHash)
				if before {
					after++
					if err == nil {
						stale.Add(1)
					}
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	ok(t, s.Devices().Revoke(ctx, alice, phone.ID, t0.Add(time.Hour)))
	revoked.Store(true)
	wg.Wait()
	if n := stale.Load(); n != 0 {
		t.Fatalf("%d lookups started after Revoke returned found the revoked device's session", n)
	}
	dead(t, s, ps.AccessHash, "session of a revoked device")
	for i, err := range created {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Create racing Revoke: %v, want nil or ErrNotFound", err)
		}
		dead(t, s, session(phone, 100+i, t0).AccessHash, "session created while the device was revoked")
	}
	_, err := v.Refresh(ctx, ps.RefreshHash, session(phone, 2, t0.Add(time.Minute)))
	is(t, err, store.ErrNotFound, "Refresh of a revoked device's session")
	is(t, v.Create(ctx, session(phone, 3, t0)), store.ErrNotFound, "Create for a revoked device")
	live(t, s, ls, "session of the other device")

	// A disabled account's sessions end with it.
	ok(t, s.Accounts().Disable(ctx, alice))
	dead(t, s, ls.AccessHash, "session of a disabled account")
	_, err = v.Refresh(ctx, ls.RefreshHash, session(laptop, 2, t0.Add(time.Minute)))
	is(t, err, store.ErrNotFound, "Refresh in a disabled account")
	is(t, v.Create(ctx, session(laptop, 3, t0)), store.ErrState, "Create in a disabled account")
}

// testSessionIsolation: sessions of one account are never found,
// refreshed or deleted through another's.
func testSessionIsolation(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	ad := addDevice(t, s, alice, "shared")
	bd := addDevice(t, s, bob, "shared") // the same id in both accounts
	as, bs := session(ad, 1, t0), session(bd, 1, t0)
	ok(t, v.Create(ctx, as))
	ok(t, v.Create(ctx, bs))
	cross := session(ad, 2, t0)
	cross.Account = bob
	cross.DeviceID = addDevice(t, s, alice, "alice only").ID
	is(t, v.Create(ctx, cross), store.ErrNotFound, "Create for bob with alice's device")

	n, err := v.DeleteByDevice(ctx, bob, bd.ID)
	ok(t, err)
	if n != 1 {
		t.Fatalf("DeleteByDevice in bob's account removed %d, want 1", n)
	}
	live(t, s, as, "alice's session after bob's were deleted")
	ok(t, s.Devices().Revoke(ctx, alice, ad.ID, t0))
	dead(t, s, as.AccessHash, "alice's revoked session")
	ok(t, v.Create(ctx, bs))
	live(t, s, bs, "bob's session after alice revoked her device with the same id")
}

// testSessionPurge: Purge removes exactly the sessions whose two tokens
// have both expired at or before now.
func testSessionPurge(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Sessions()
	alice := "alice@example.test"
	active(t, s, alice)
	d := addDevice(t, s, alice, "phone")
	gone := session(d, 1, t0)
	gone.RefreshExpires = t0.Add(2 * time.Hour)
	longAccess := session(d, 2, t0) // refresh ends first, access lasts longer
	longAccess.AccessExpires, longAccess.RefreshExpires = t0.Add(3*time.Hour), t0.Add(time.Hour)
	kept := session(d, 3, t0) // refresh for thirty days
	for _, x := range []store.Session{gone, longAccess, kept} {
		ok(t, v.Create(ctx, x))
	}
	n, err := v.Purge(ctx, t0.Add(2*time.Hour))
	ok(t, err)
	if n != 1 {
		t.Fatalf("Purge removed %d sessions, want 1", n)
	}
	dead(t, s, gone.AccessHash, "purged session")
	live(t, s, longAccess, "session whose access token is still valid")
	live(t, s, kept, "session whose refresh token is still valid")
}
