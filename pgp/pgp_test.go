package pgp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// testNow is the clock for key checks: GnuPG makes its keys at the real time.
var testNow = time.Now()

// sampleMessage is a plain RFC 5322 message as a mail client submits it.
const sampleMessage = "From: Alice <alice@a.test>\r\n" +
	"To: bob@b.test\r\n" +
	"Cc: carol@c.test\r\n" +
	"Bcc: secret@d.test\r\n" +
	"Subject: the secret plan\r\n" +
	"Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n" +
	"Message-ID: <1@a.test>\r\n" +
	"User-Agent: mutt\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"Meet at n\xc3\xa4on.\r\n-- \r\nAlice\r\n"

func mustKey(t testing.TB, addr string) *Key {
	t.Helper()
	k, err := GenerateKey(addr, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	t.Parallel()
	alice, bob := mustKey(t, "alice@a.test"), mustKey(t, "bob@b.test")
	enc, err := Encrypt(strings.NewReader(sampleMessage), alice, []*PublicKey{bob.Public()}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	outer := string(enc[:bytes.Index(enc, []byte("\r\n\r\n"))])
	for _, want := range []string{"From: Alice <alice@a.test>", "To: bob@b.test", "Cc: carol@c.test",
		"Subject: [...]", "Message-ID: <1@a.test>", `protocol="application/pgp-encrypted"`} {
		if !strings.Contains(outer, want) {
			t.Errorf("outer header lacks %q:\n%s", want, outer)
		}
	}
	for _, leak := range []string{"secret", "mutt", "Bcc"} {
		if strings.Contains(string(enc), leak) {
			t.Errorf("encrypted message shows %q", leak)
		}
	}
	for _, who := range []struct {
		name string
		key  *Key
	}{{"recipient", bob}, {"sender", alice}} {
		lookup := func(id uint64) *PublicKey {
			if who.key == bob {
				return alice.Public()
			}
			return nil
		}
		res, err := Decrypt(bytes.NewReader(enc), []*Key{who.key}, lookup)
		if err != nil {
			t.Fatalf("%s: %v", who.name, err)
		}
		if !res.Encrypted || res.Signature != SignatureGood || res.Signer != alice.Fingerprint() || !res.HeadersProtected {
			t.Errorf("%s: result %+v", who.name, res)
		}
		msg := string(res.Message)
		for _, want := range []string{"Subject: the secret plan\r\n", "User-Agent: mutt\r\n", "Meet at n\xc3\xa4on.", "hp=cipher"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: decrypted message lacks %q:\n%s", who.name, want, msg)
			}
		}
		if strings.Contains(msg, "Bcc") || strings.Contains(msg, "HP-Outer") {
			t.Errorf("%s: decrypted message has Bcc or HP-Outer:\n%s", who.name, msg)
		}
	}
	if _, err := Decrypt(bytes.NewReader(enc), []*Key{mustKey(t, "eve@e.test")}, nil); err == nil {
		t.Error("a stranger's key opened the message")
	}
}

func TestKeySerialisation(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "alice@a.test")
	for name, data := range map[string][]byte{"binary": k.Bytes(), "armored": k.Armored()} {
		pk, err := ParsePublicKey(data, testNow)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if pk.Fingerprint() != k.Fingerprint() || !pk.HasAddress("Alice@A.test", testNow) {
			t.Errorf("%s: parsed %s %v", name, pk.Fingerprint(), pk.Addresses())
		}
	}
	fp := k.entity.PrimaryKey.Fingerprint
	if !k.HasKeyID(binary.BigEndian.Uint64(fp[len(fp)-8:])) || !k.HasKeyID(k.entity.Subkeys[0].PublicKey.KeyId) || k.HasKeyID(1) {
		t.Error("HasKeyID: the key's own IDs (v4: the fingerprint's last 8 bytes) or a stranger's")
	}
	priv, err := ParsePrivateKey(k.PrivateBytes(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if priv.Fingerprint() != k.Fingerprint() {
		t.Error("private key round trip changed the fingerprint")
	}
	if _, err := ParsePublicKey(k.PrivateBytes(), testNow); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("secret key as public key: %v", err)
	}
	if _, err := ParsePrivateKey(k.Bytes(), testNow); err == nil {
		t.Error("public key parsed as private key")
	}
	if _, err := ParsePublicKey(make([]byte, MaxKeySize+1), testNow); !errors.Is(err, ErrKeyTooLarge) {
		t.Errorf("oversize key: %v", err)
	}
	if _, err := ParsePublicKey([]byte("not a key"), testNow); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("garbage key: %v", err)
	}
	two := append(k.Bytes(), mustKey(t, "x@a.test").Bytes()...)
	if _, err := ParsePublicKey(two, testNow); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("two keys: %v", err)
	}
}
