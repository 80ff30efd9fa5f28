package sqlite

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"umbra/provider/store"
)

// fill32 is 32 copies of b, as the vectors write keys and hashes.
func fill32(b byte) [32]byte { return [32]byte(bytes.Repeat([]byte{b}, 32)) }

// TestSchemaV2Vector opens testdata/schema-v2.sql, a database as schema
// version 2 wrote it, and reads its devices, challenges and sessions
// back through the store (docs/spec/store.md §8–§11): the encodings of
// revoked, last seen, a missing challenge key and the liveness join must
// never change meaning. A new database must have exactly its schema.
func TestSchemaV2Vector(t *testing.T) {
	t.Parallel()
	s := loadVector(t, "testdata/schema-v2.sql")
	ctx := t.Context()
	const alice, bob = "alice@example.test", "bob@example.test"
	phoneKey, laptopKey := fill32(0x11), fill32(0x22)

	phone, err := s.Devices().ByKey(ctx, alice, phoneKey[:])
	if err != nil {
		t.Fatal(err)
	}
	if phone.Account != alice || phone.ID != "phone-id" || phone.Name != "Phone" || !bytes.Equal(phone.Key, phoneKey[:]) ||
		!phone.Created.Equal(at(1)) || !phone.LastSeen.Equal(at(int64(time.Hour))) {
		t.Fatalf("alice's phone: %+v", phone)
	}
	list, err := s.Devices().List(ctx, alice)
	if err != nil || len(list) != 1 || list[0].ID != "phone-id" {
		t.Fatalf("alice's devices (the laptop is revoked): %+v, %v", list, err)
	}
	if _, err := s.Devices().ByKey(ctx, alice, laptopKey[:]); err == nil {
		t.Fatal("the revoked laptop is found")
	}
	if err := s.Devices().Add(ctx, store.Device{Account: alice, ID: "new-id", Key: laptopKey[:], Name: "again", Created: at(9)}); err == nil {
		t.Fatal("the revoked laptop's key was enrolled again")
	}
	bobs, err := s.Devices().List(ctx, bob)
	if err != nil || len(bobs) != 1 || bobs[0].Name != "Bob" || !bobs[0].LastSeen.IsZero() {
		t.Fatalf("bob's devices (one, never seen): %+v, %v", bobs, err)
	}
	if _, err := s.Devices().ByKey(ctx, bob, phoneKey[:]); err == nil {
		t.Fatal("ByKey found a device of a disabled account")
	}

	c, err := s.Challenges().Take(ctx, fill32(0xC1))
	if err != nil || c.Purpose != "login" || c.Address != alice || !bytes.Equal(c.Key, phoneKey[:]) || !c.Expires.Equal(at(int64(5*time.Minute))) {
		t.Fatalf("login challenge: %+v, %v", c, err)
	}
	c, err = s.Challenges().Take(ctx, fill32(0xC2))
	if err != nil || c.Purpose != "key-backup" || c.Address != "carol@example.test" || c.Key != nil {
		t.Fatalf("key-backup challenge (no key): %+v, %v", c, err)
	}

	sess, err := s.Sessions().ByAccess(ctx, fill32(0xA1))
	if err != nil {
		t.Fatal(err)
	}
	want := store.Session{Account: alice, DeviceID: "phone-id", Issued: at(0),
		AccessHash: fill32(0xA1), AccessExpires: at(int64(time.Hour)),
		RefreshHash: fill32(0xB1), RefreshExpires: at(int64(30 * 24 * time.Hour))}
	if sess.Account != want.Account || sess.DeviceID != want.DeviceID || sess.AccessHash != want.AccessHash || sess.RefreshHash != want.RefreshHash ||
		!sess.Issued.Equal(want.Issued) || !sess.AccessExpires.Equal(want.AccessExpires) || !sess.RefreshExpires.Equal(want.RefreshExpires) {
		t.Fatalf("alice's phone session: %+v, want %+v", sess, want)
	}
	for _, h := range [][32]byte{fill32(0xA2), fill32(0xA3)} {
		if _, err := s.Sessions().ByAccess(ctx, h); err == nil {
			t.Fatalf("session %x of a revoked device or a disabled account is live", h[:1])
		}
	}
	next := store.Session{Issued: at(int64(time.Hour)), AccessHash: sha256.Sum256([]byte("a")), AccessExpires: at(int64(2 * time.Hour)),
		RefreshHash: sha256.Sum256([]byte("r")), RefreshExpires: at(int64(40 * 24 * time.Hour))}
	if got, err := s.Sessions().Refresh(ctx, fill32(0xB1), next); err != nil || got.DeviceID != "phone-id" {
		t.Fatalf("refresh of the vector's session: %+v, %v", got, err)
	}
	if _, err := s.Sessions().Refresh(ctx, fill32(0xB2), next); err == nil {
		t.Fatal("refresh of a revoked device's session")
	}

	if got, want := schemaOf(t, s), schemaOf(t, openTest(t, t.TempDir())); got != want {
		t.Fatalf("schema of a new database differs from the vector's:\n%s\n----\n%s", want, got)
	}
}

// TestSchemaV1Upgrade: a version-1 database gains the version-2 tables
// at Open, and its existing accounts can enrol devices and log in.
func TestSchemaV1Upgrade(t *testing.T) {
	t.Parallel()
	s := loadVector(t, "testdata/schema-v1.sql")
	ctx := t.Context()
	key := ed25519.PublicKey(bytes.Repeat([]byte{7}, 32))
	d := store.Device{Account: "alice@example.test", ID: "d1", Key: key, Name: "phone", Created: at(0)}
	if err := s.Devices().Add(ctx, d); err != nil {
		t.Fatal(err)
	}
	sess := store.Session{Account: d.Account, DeviceID: d.ID, Issued: at(0), AccessHash: fill32(1), AccessExpires: at(1), RefreshHash: fill32(2), RefreshExpires: at(2)}
	if err := s.Sessions().Create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sessions().ByAccess(ctx, sess.AccessHash); err != nil {
		t.Fatal(err)
	}
	// carol is disabled in the vector: no devices for her.
	d.Account = "carol@example.test"
	if err := s.Devices().Add(ctx, d); err == nil {
		t.Fatal("a device was enrolled in a disabled account of the vector")
	}
}
