package storetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"umbra/provider/store"
)

// deviceKey is a deterministic Ed25519 public key named by seed.
func deviceKey(seed string) ed25519.PublicKey {
	s := sha256.Sum256([]byte("device key " + seed))
	return ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey)
}

// device returns a device of account with the key named seed; its id is
// derived from the key as the provider does (16 base64url characters).
func device(account, seed string, created time.Time) store.Device {
	k := deviceKey(seed)
	h := sha256.Sum256(k)
	return store.Device{Account: account, ID: base64.RawURLEncoding.EncodeToString(h[:12]), Key: k, Name: "device " + seed, Created: created}
}

// addDevice enrols the device named seed in account and returns it.
func addDevice(t *testing.T, s store.Store, account, seed string) store.Device {
	t.Helper()
	d := device(account, seed, t0)
	ok(t, s.Devices().Add(t.Context(), d))
	return d
}

func sameDevice(t *testing.T, got, want store.Device, what string) {
	t.Helper()
	if got.Account != want.Account || got.ID != want.ID || !bytes.Equal(got.Key, want.Key) || got.Name != want.Name ||
		!got.Created.Equal(want.Created) || !got.LastSeen.Equal(want.LastSeen) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
}

func deviceIDs(ds []store.Device) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func testDeviceLifecycle(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Devices()
	alice := "alice@example.test"
	active(t, s, alice)
	list, err := v.List(ctx, alice)
	ok(t, err)
	if len(list) != 0 {
		t.Fatalf("a new account has devices: %v", deviceIDs(list))
	}

	phone := device(alice, "phone", t0.Add(time.Nanosecond))
	phone.LastSeen = t0.Add(time.Hour) // ignored: a new device has not been seen
	ok(t, v.Add(ctx, phone))
	phone.LastSeen = time.Time{}
	laptop := addDevice(t, s, alice, "laptop") // created before the phone
	got, err := v.ByKey(ctx, alice, phone.Key)
	ok(t, err)
	sameDevice(t, got, phone, "ByKey")
	list, err = v.List(ctx, alice)
	ok(t, err)
	if len(list) != 2 {
		t.Fatalf("List: %v", deviceIDs(list))
	}
	sameDevice(t, list[0], laptop, "List[0], the older device")
	sameDevice(t, list[1], phone, "List[1]")

	// A key or an id is one device of the account only.
	dup := device(alice, "phone", t0)
	dup.ID = "another-id"
	is(t, v.Add(ctx, dup), store.ErrExists, "Add of an enrolled key under another id")
	dup = device(alice, "tablet", t0)
	dup.ID = phone.ID
	is(t, v.Add(ctx, dup), store.ErrExists, "Add of another key under an enrolled id")

	ok(t, v.Rename(ctx, alice, phone.ID, "Alice’s phone 📱"))
	phone.Name = "Alice’s phone 📱"
	got, err = v.ByKey(ctx, alice, phone.Key)
	ok(t, err)
	sameDevice(t, got, phone, "ByKey after Rename")
	is(t, v.Rename(ctx, alice, "no-such-device", "x"), store.ErrNotFound, "Rename of no device")

	// Revocation is final: the device disappears, its id and key stay
	// taken, and nothing more can be done with it.
	ok(t, v.Revoke(ctx, alice, phone.ID, t0.Add(time.Hour)))
	_, err = v.ByKey(ctx, alice, phone.Key)
	is(t, err, store.ErrNotFound, "ByKey of a revoked device")
	list, err = v.List(ctx, alice)
	ok(t, err)
	if len(list) != 1 || list[0].ID != laptop.ID {
		t.Fatalf("List after Revoke: %v", deviceIDs(list))
	}
	is(t, v.Revoke(ctx, alice, phone.ID, t0.Add(time.Hour)), store.ErrNotFound, "Revoke twice")
	is(t, v.Rename(ctx, alice, phone.ID, "x"), store.ErrNotFound, "Rename of a revoked device")
	is(t, v.Touch(ctx, alice, phone.ID, t0.Add(2*time.Hour)), store.ErrNotFound, "Touch of a revoked device")
	is(t, v.Add(ctx, device(alice, "phone", t0.Add(2*time.Hour))), store.ErrExists, "re-Add of a revoked key")
	is(t, v.Revoke(ctx, alice, "no-such-device", t0), store.ErrNotFound, "Revoke of no device")

	// Devices are enrolled in active accounts only.
	invited, disabled, nobody := "inv@example.test", "dis@example.test", "nobody@example.test"
	ok(t, s.Accounts().AddInvited(ctx, invited, codeHash(invited)))
	is(t, v.Add(ctx, device(invited, "x", t0)), store.ErrState, "Add to an invited account")
	active(t, s, disabled)
	ok(t, s.Accounts().Disable(ctx, disabled))
	is(t, v.Add(ctx, device(disabled, "x", t0)), store.ErrState, "Add to a disabled account")
	is(t, v.Add(ctx, device(nobody, "x", t0)), store.ErrNotFound, "Add to no account")
	_, err = v.List(ctx, nobody)
	is(t, err, store.ErrNotFound, "List of no account")

	// A disabled account's devices are listed but cannot log in.
	ok(t, s.Accounts().Disable(ctx, alice))
	_, err = v.ByKey(ctx, alice, laptop.Key)
	is(t, err, store.ErrNotFound, "ByKey in a disabled account")
	list, err = v.List(ctx, alice)
	ok(t, err)
	if len(list) != 1 || list[0].ID != laptop.ID {
		t.Fatalf("List of a disabled account: %v", deviceIDs(list))
	}
	_, err = v.ByKey(ctx, nobody, phone.Key)
	is(t, err, store.ErrNotFound, "ByKey in no account")
}

// testDeviceValidation: every malformed argument is ErrInvalid and
// writes nothing.
func testDeviceValidation(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Devices()
	alice := "alice@example.test"
	active(t, s, alice)
	good := device(alice, "good", t0)
	bad := map[string]func(d *store.Device){
		"bad account":         func(d *store.Device) { d.Account = "alice@Example.test" },
		"empty id":            func(d *store.Device) { d.ID = "" },
		"id with a slash":     func(d *store.Device) { d.ID = "a/b" },
		"id too long":         func(d *store.Device) { d.ID = strings.Repeat("i", store.MaxDeviceIDLen+1) },
		"short key":           func(d *store.Device) { d.Key = d.Key[:31] },
		"no key":              func(d *store.Device) { d.Key = nil },
		"empty name":          func(d *store.Device) { d.Name = "" },
		"name too long":       func(d *store.Device) { d.Name = strings.Repeat("n", store.MaxDeviceNameLen+1) },
		"name with a newline": func(d *store.Device) { d.Name = "a\nb" },
		"name not UTF-8":      func(d *store.Device) { d.Name = "a\xffb" },
		"zero created":        func(d *store.Device) { d.Created = time.Time{} },
		"created before 1970": func(d *store.Device) { d.Created = time.Unix(-1, 0) },
		"created after 2262":  func(d *store.Device) { d.Created = time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for what, mutate := range bad {
		d := good
		mutate(&d)
		is(t, v.Add(ctx, d), store.ErrInvalid, "Add with "+what)
	}
	if list, err := v.List(ctx, alice); err != nil || len(list) != 0 {
		t.Fatalf("rejected Adds left devices: %v, %v", deviceIDs(list), err)
	}
	ok(t, v.Add(ctx, good))
	long := device(alice, "long", t0)
	long.ID, long.Name = strings.Repeat("L", store.MaxDeviceIDLen), strings.Repeat("é", store.MaxDeviceNameLen/2)
	ok(t, v.Add(ctx, long))
	is(t, v.Rename(ctx, alice, good.ID, ""), store.ErrInvalid, "Rename to an empty name")
	is(t, v.Rename(ctx, alice, good.ID, "tab\there"), store.ErrInvalid, "Rename to a control character")
	is(t, v.Rename(ctx, alice, "a b", "x"), store.ErrInvalid, "Rename with a bad id")
	is(t, v.Revoke(ctx, alice, good.ID, time.Time{}), store.ErrInvalid, "Revoke at the zero time")
	is(t, v.Touch(ctx, alice, good.ID, time.Unix(-5, 0)), store.ErrInvalid, "Touch before 1970")
	_, err := v.ByKey(ctx, alice, good.Key[:16])
	is(t, err, store.ErrInvalid, "ByKey with a short key")
	got, err := v.ByKey(ctx, alice, good.Key)
	ok(t, err)
	sameDevice(t, got, good, "device after rejected changes")
}

// testDeviceTouch: the last seen time is set, moves forward by at least
// TouchInterval, and never back.
func testDeviceTouch(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Devices()
	alice := "alice@example.test"
	active(t, s, alice)
	d := addDevice(t, s, alice, "phone")
	seen := func(want time.Time) {
		t.Helper()
		got, err := v.ByKey(ctx, alice, d.Key)
		ok(t, err)
		if !got.LastSeen.Equal(want) {
			t.Fatalf("last seen %v, want %v", got.LastSeen, want)
		}
	}
	seen(time.Time{})
	at := t0.Add(time.Hour)
	ok(t, v.Touch(ctx, alice, d.ID, at))
	seen(at)
	ok(t, v.Touch(ctx, alice, d.ID, at.Add(-store.TouchInterval*10)))
	seen(at) // never backwards
	later := at.Add(store.TouchInterval)
	ok(t, v.Touch(ctx, alice, d.ID, later))
	seen(later)
	// Within the interval the time may or may not move (implementations
	// coalesce), but never past the touch, and never back.
	ok(t, v.Touch(ctx, alice, d.ID, later.Add(time.Second)))
	got, err := v.ByKey(ctx, alice, d.Key)
	ok(t, err)
	if got.LastSeen.Before(later) || got.LastSeen.After(later.Add(time.Second)) {
		t.Fatalf("last seen %v after a touch within the interval, want %v or %v", got.LastSeen, later, later.Add(time.Second))
	}
	is(t, v.Touch(ctx, alice, "no-such-device", at), store.ErrNotFound, "Touch of no device")
	is(t, v.Touch(ctx, "bob@example.test", d.ID, at), store.ErrNotFound, "Touch in no account")
}

// testDeviceIsolation: an account never sees or changes another's
// devices, even when both enrolled the same key.
func testDeviceIsolation(t *testing.T, s store.Store) {
	ctx, v := t.Context(), s.Devices()
	alice, bob := "alice@example.test", "bob@example.test"
	active(t, s, alice)
	active(t, s, bob)
	ad := addDevice(t, s, alice, "shared")
	bd := addDevice(t, s, bob, "shared") // the same key and id, another account
	aliceOnly := addDevice(t, s, alice, "alice only")

	_, err := v.ByKey(ctx, bob, aliceOnly.Key)
	is(t, err, store.ErrNotFound, "bob's ByKey of alice's key")
	is(t, v.Rename(ctx, bob, aliceOnly.ID, "mine"), store.ErrNotFound, "bob renames alice's device")
	is(t, v.Touch(ctx, bob, aliceOnly.ID, t0), store.ErrNotFound, "bob touches alice's device")
	is(t, v.Revoke(ctx, bob, aliceOnly.ID, t0), store.ErrNotFound, "bob revokes alice's device")
	list, err := v.List(ctx, bob)
	ok(t, err)
	if len(list) != 1 || list[0].Account != bob {
		t.Fatalf("bob's devices: %+v", list)
	}

	ok(t, v.Rename(ctx, bob, bd.ID, "bob's"))
	ok(t, v.Touch(ctx, bob, bd.ID, t0.Add(time.Hour)))
	ok(t, v.Revoke(ctx, bob, bd.ID, t0.Add(2*time.Hour)))
	got, err := v.ByKey(ctx, alice, ad.Key)
	ok(t, err)
	sameDevice(t, got, ad, "alice's device after bob renamed, touched and revoked his")
	_, err = v.ByKey(ctx, alice, aliceOnly.Key)
	ok(t, err)
}
