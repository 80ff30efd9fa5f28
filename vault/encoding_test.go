package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEncodeKeysLayout(t *testing.T) {
	t.Parallel()
	got, err := encodeKeys(minimalKeys())
	if err != nil {
		t.Fatal(err)
	}
	// Spec §5, written out by hand: [tag][length, 2 bytes][value].
	want := "01" + "0008" + hex.EncodeToString([]byte("b@b.test")) +
		"02" + "0020" + strings.Repeat("0b", 32) +
		"03" + "0020" + strings.Repeat("0c", 32) +
		"04" + "0020" + strings.Repeat("0d", 32)
	if hex.EncodeToString(got) != want {
		t.Fatalf("encoding\n got %x\nwant %s", got, want)
	}

	full, err := encodeKeys(fixedKeys())
	if err != nil {
		t.Fatal(err)
	}
	// The first retired key: tag 7, length 40, 2026-01-01T00:00:00Z as
	// Unix seconds (1767225600 = 0x6955b900), then its seed.
	retired := "07" + "0028" + "000000006955b900" + strings.Repeat("06", 32)
	if !strings.Contains(hex.EncodeToString(full), retired) {
		t.Fatalf("retired key field %s not found in %x", retired, full)
	}
}

func TestKeysRoundTrip(t *testing.T) {
	t.Parallel()
	for name, k := range map[string]*Keys{"full": fixedKeys(), "minimal": minimalKeys()} {
		b, err := encodeKeys(k)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := decodeKeys(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertKeysEqual(t, got, k)
	}
}

// field builds one encoded field.
func field(tag byte, v []byte) []byte { return appendField(nil, tag, v) }

func retiredField(sec uint64, seed []byte) []byte {
	v := []byte{byte(sec >> 56), byte(sec >> 48), byte(sec >> 40), byte(sec >> 32), byte(sec >> 24), byte(sec >> 16), byte(sec >> 8), byte(sec)}
	return field(tagRetired, append(v, seed...))
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodeKeysRejects(t *testing.T) {
	t.Parallel()
	addr := field(tagAddress, []byte("a@a.test"))
	sig := field(tagSigning, seedOf(1))
	enc := field(tagEncryption, seedOf(2))
	dev := field(tagDevice, seedOf(3))
	base := join(addr, sig, enc, dev)
	cases := []struct {
		name, field, rule string
		b                 []byte
	}{
		{"empty", "keys.address", "missing", nil},
		{"unknown tag 0", "keys", "unknown field 0", join(field(0, nil), base)},
		{"unknown tag 9", "keys", "unknown field 9", join(base, field(9, seedOf(9)))},
		{"openpgp before retired", "keys", "ascending order", join(base, field(tagOpenPGP, []byte("k")), retiredField(100, seedOf(6)))},
		{"openpgp twice", "keys", "ascending order", join(base, field(tagOpenPGP, []byte("k")), field(tagOpenPGP, []byte("k")))},
		{"openpgp empty", "keys.openpgp", "all zero", join(base, field(tagOpenPGP, nil))},
		{"openpgp zero", "keys.openpgp", "all zero", join(base, field(tagOpenPGP, make([]byte, 300)))},
		{"unknown tag 255", "keys", "unknown field 255", join(base, field(255, nil))},
		{"out of order", "keys", "ascending order", join(addr, enc, sig, dev)},
		{"duplicate", "keys", "ascending order", join(addr, sig, sig, enc, dev)},
		{"missing signing", "keys.signing", "missing", join(addr, enc, dev)},
		{"missing encryption", "keys.encryption", "missing", join(addr, sig, dev)},
		{"missing device", "keys.device", "missing", join(addr, sig, enc)},
		{"short seed", "keys.signing", "31 bytes", join(addr, field(tagSigning, seedOf(1)[:31]), enc, dev)},
		{"long seed", "keys.storage", "33 bytes", join(base, field(tagStorage, append(seedOf(5), 5)))},
		{"zero seed", "keys.encryption", "all zero", join(addr, sig, field(tagEncryption, make([]byte, 32)), dev)},
		{"same signing and device", "keys", "distinct", join(addr, sig, enc, field(tagDevice, seedOf(1)))},
		{"same recovery and device", "keys", "distinct", join(base, field(tagRecovery, seedOf(3)))},
		{"truncated field header", "keys", "truncated field header", append(bytes.Clone(base), tagRecovery, 0)},
		{"truncated value", "keys", "declares 32 bytes", append(bytes.Clone(base), append([]byte{tagRecovery, 0, 32}, seedOf(4)[:10]...)...)},
		{"address control char", "keys.address", "control character", join(field(tagAddress, []byte("a\n@a.test")), sig, enc, dev)},
		{"address bad utf-8", "keys.address", "UTF-8", join(field(tagAddress, []byte{'a', 0xff}), sig, enc, dev)},
		{"address too long", "keys.address", "321 bytes", join(field(tagAddress, bytes.Repeat([]byte{'a'}, 321)), sig, enc, dev)},
		{"retired short", "keys.retired", "39 bytes", join(base, field(tagRetired, make([]byte, 39)))},
		{"retired after 9999", "keys.retired", "after 9999", join(base, retiredField(maxRetiredSeconds+1, seedOf(6)))},
		{"retired same time", "keys.retired[1]", "not after", join(base, retiredField(100, seedOf(6)), retiredField(100, seedOf(7)))},
		{"retired going back", "keys.retired[1]", "not after", join(base, retiredField(100, seedOf(6)), retiredField(99, seedOf(7)))},
		{"retired zero seed", "keys.retired[0]", "all zero", join(base, retiredField(100, make([]byte, 32)))},
		{"oversize", "keys", "over the", make([]byte, maxPlaintext+1)},
	}
	for _, c := range cases {
		_, err := decodeKeys(c.b)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Rule, c.rule) {
			t.Errorf("%s: got %v, want FormatError %s: ...%s...", c.name, err, c.field, c.rule)
		}
	}
	// The same base with optional fields in order decodes.
	if _, err := decodeKeys(join(base, field(tagRecovery, seedOf(4)), field(tagStorage, seedOf(5)), retiredField(0, seedOf(6)), retiredField(maxRetiredSeconds, seedOf(7)))); err != nil {
		t.Fatalf("valid key set rejected: %v", err)
	}
}

// TestOpenPGPField: the OpenPGP key, added after the first release, comes
// last (after the retired keys), round-trips byte for byte, and a key set
// without it (every vault written before) still decodes.
func TestOpenPGPField(t *testing.T) {
	t.Parallel()
	k := fixedKeys()
	k.OpenPGP = bytes.Repeat([]byte{0xc5}, 300)
	b, err := encodeKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	tail := "08" + "012c" + strings.Repeat("c5", 300)
	if !strings.HasSuffix(hex.EncodeToString(b), tail) {
		t.Fatalf("OpenPGP field %s... is not last in %x", tail[:10], b)
	}
	got, err := decodeKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	assertKeysEqual(t, got, k)
	k.OpenPGP = make([]byte, MaxOpenPGP+1)
	k.OpenPGP[0] = 1
	if _, err := encodeKeys(k); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversize OpenPGP key: got %v", err)
	}
	old, err := encodeKeys(fixedKeys())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeKeys(old); err != nil || got.OpenPGP != nil {
		t.Fatalf("a key set without the field: %v, OpenPGP %x", err, got.OpenPGP)
	}
}

func TestEncodeKeysRejects(t *testing.T) {
	t.Parallel()
	mutate := map[string]func(k *Keys){
		"nil signing":        func(k *Keys) { k.Signing = nil },
		"short device":       func(k *Keys) { k.Device = k.Device[:32] },
		"wrong public half":  func(k *Keys) { k.Signing[63] ^= 1 },
		"zeroed":             func(k *Keys) { k.Zero() },
		"empty address":      func(k *Keys) { k.Address = "" },
		"retired unsorted":   func(k *Keys) { k.Retired[0], k.Retired[1] = k.Retired[1], k.Retired[0] },
		"retired zero time":  func(k *Keys) { k.Retired[0].Created = time.Time{} },
		"too many retired":   func(k *Keys) { k.Retired = make([]RetiredKey, MaxRetired+1) },
		"recovery = signing": func(k *Keys) { k.Recovery = k.Signing },
	}
	for name, m := range mutate {
		k := fixedKeys()
		m(k)
		var fe *FormatError
		if _, err := encodeKeys(k); !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want *FormatError", name, err)
		}
	}
	var fe *FormatError
	if _, err := encodeKeys(nil); !errors.As(err, &fe) {
		t.Errorf("nil keys: got %v, want *FormatError", err)
	}
}

func TestRetiredTimeTruncatedToSeconds(t *testing.T) {
	t.Parallel()
	k := minimalKeys()
	created := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))
	k.Retired = []RetiredKey{{Created: created, Seed: seedOf(20)}}
	b, err := encodeKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := created.Truncate(time.Second).UTC(); got.Retired[0].Created != want {
		t.Fatalf("created %v, want %v", got.Retired[0].Created, want)
	}
}

func TestZero(t *testing.T) {
	t.Parallel()
	k := fixedKeys()
	k.OpenPGP = []byte("secret key")
	k.Zero()
	for name, b := range map[string][]byte{
		"signing": k.Signing, "encryption": k.Encryption, "device": k.Device,
		"recovery": k.Recovery, "storage": k.Storage, "retired": k.Retired[1].Seed,
		"openpgp": k.OpenPGP,
	} {
		if !allZero(b) || len(b) == 0 {
			t.Errorf("%s not wiped: %x", name, b)
		}
	}
}

func TestGenerateKeys(t *testing.T) {
	t.Parallel()
	a, err := GenerateKeys("carol@c.test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKeys("carol@c.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.validate(); err != nil {
		t.Fatalf("generated keys invalid: %v", err)
	}
	if a.Recovery != nil {
		t.Fatal("GenerateKeys set a recovery key; it must come from a phrase")
	}
	if bytes.Equal(a.Signing, b.Signing) || bytes.Equal(a.Encryption, b.Encryption) ||
		bytes.Equal(a.Device, b.Device) || bytes.Equal(a.Storage, b.Storage) {
		t.Fatal("two generated key sets share a key")
	}
	if _, err := GenerateKeys("bad\x00address"); err == nil {
		t.Fatal("GenerateKeys accepted an address with a NUL")
	}
}

// TestEncryptionKey checks that the stored seed is the HPKE private key:
// a message sealed to its public key opens with it.
func TestEncryptionKey(t *testing.T) {
	t.Parallel()
	k, err := GenerateKeys("dave@d.test")
	if err != nil {
		t.Fatal(err)
	}
	k.Retired = []RetiredKey{{Created: time.Unix(1, 0), Seed: seedOf(30)}}
	for name, get := range map[string]func() (hpke.PrivateKey, error){
		"current": k.EncryptionKey,
		"retired": k.Retired[0].EncryptionKey,
	} {
		priv, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if priv.KEM().ID() != hpke.MLKEM768X25519().ID() {
			t.Fatalf("%s: KEM %#x", name, priv.KEM().ID())
		}
		ct, err := hpke.Seal(priv.PublicKey(), hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("info"), []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("info"), ct)
		if err != nil || string(pt) != "hello" {
			t.Fatalf("%s: open: %q, %v", name, pt, err)
		}
	}
	short := &Keys{Encryption: seedOf(1)[:31]}
	if _, err := short.EncryptionKey(); err == nil {
		t.Fatal("EncryptionKey accepted a 31-byte seed")
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(k.Signing.Seed()), k.Signing) {
		t.Fatal("generated signing key is not seed-derived")
	}
}
