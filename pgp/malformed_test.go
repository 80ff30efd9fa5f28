package pgp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestDecryptMalformed(t *testing.T) {
	t.Parallel()
	alice, bob := mustKey(t, "alice@a.test"), mustKey(t, "bob@b.test")
	enc, err := Encrypt(strings.NewReader(sampleMessage), alice, []*PublicKey{bob.Public()}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	armored := string(encryptedPart(t, enc))
	head := "From: a@a.test\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
	control := "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
	data := "--b\r\nContent-Type: application/octet-stream\r\n\r\n" + armored + "\r\n"
	// nest wraps a message as the encrypted part's plaintext would be: a
	// multipart/signed around itself, n times, with a dummy signature.
	nest := func(n int) string {
		inner := "Content-Type: text/plain\r\n\r\nhi\r\n"
		for i := 0; i < n; i++ {
			b := strings.Repeat("x", i+1)
			inner = "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=" + b + "\r\n\r\n" +
				"--" + b + "\r\n" + inner + "\r\n--" + b + "\r\nContent-Type: application/pgp-signature\r\n\r\n" +
				"-----BEGIN PGP SIGNATURE-----\r\n\r\nwsBcBAABCAAQBQJd\r\n-----END PGP SIGNATURE-----\r\n\r\n--" + b + "--\r\n"
		}
		return "From: a@a.test\r\n" + inner
	}
	cases := map[string]string{
		"plain text":           "From: a@a.test\r\nSubject: hi\r\n\r\nhello\r\n",
		"no closing delimiter": head + control + data,
		"one part":             head + data + "--b--\r\n",
		"three parts":          head + control + data + data + "--b--\r\n",
		"control part missing": head + data + data + "--b--\r\n",
		"no boundary":          strings.Replace(head, "; boundary=b", "", 1) + control + data + "--b--\r\n",
		"bad content type":     "Content-Type: multipart/encrypted; protocol=\r\n\r\n",
		"bad armor":            head + control + "--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n!!!\r\n-----END PGP MESSAGE-----\r\n--b--\r\n",
		"signature armor":      head + control + "--b\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n--b--\r\n",
		"unknown encoding":     head + control + "--b\r\nContent-Transfer-Encoding: x-rot13\r\n\r\n" + armored + "\r\n--b--\r\n",
		"bad header":           " leading space\r\n\r\n",
		"inline garbage":       "Subject: x\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nAAAA\r\n-----END PGP MESSAGE-----\r\n",
		"clearsign garbage":    "Subject: x\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n",
		"nested too deep":      nest(maxDepth + 2),
	}
	for name, msg := range cases {
		if res, err := Decrypt(strings.NewReader(msg), []*Key{bob}, nil); err == nil {
			t.Errorf("%s: accepted: %+v", name, res)
		}
	}
	if _, err := Decrypt(strings.NewReader(cases["plain text"]), []*Key{bob}, nil); !errors.Is(err, ErrNotOpenPGP) {
		t.Errorf("plain text: %v, want ErrNotOpenPGP", err)
	}
	// The control cases: a base64 transfer encoding of the encrypted part is
	// undone; nesting within the limit opens (with a bad dummy signature).
	b64 := "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(armored)) + "\r\n"
	if res, err := Decrypt(strings.NewReader(head+control+b64+"--b--\r\n"), []*Key{bob}, nil); err != nil || !res.Encrypted {
		t.Errorf("base64 encrypted part: %v", err)
	}
	if res, err := Decrypt(strings.NewReader(nest(maxDepth)), []*Key{bob}, nil); err != nil || res.Signature != SignatureBad {
		t.Errorf("nested %d deep: %v %+v", maxDepth, err, res)
	}
	if _, err := Decrypt(strings.NewReader(cases["nested too deep"]), []*Key{bob}, nil); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("nested too deep: %v", err)
	}
	big := io64(MaxMessageSize + 1)
	if _, err := Decrypt(big, []*Key{bob}, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize: %v", err)
	}
}

// io64 is a reader of n bytes of a header-like filler.
func io64(n int) *bytes.Reader {
	return bytes.NewReader(bytes.Repeat([]byte("X-Filler: 0123456789abcdef0123456789abcdef0123456789\r\n"), n/50+1)[:n])
}

// Key checks: expired, revoked, without encryption subkey.
func TestParseKeyValidity(t *testing.T) {
	t.Parallel()
	created := testNow.Add(-48 * time.Hour)
	cfg := config(created)
	cfg.KeyLifetimeSecs = 24 * 3600
	short, err := openpgp.NewEntity("", "", "short@a.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	revoked := mustKey(t, "revoked@a.test").entity
	if err := revoked.RevokeKey(packet.KeyCompromised, "lost", config(testNow)); err != nil {
		t.Fatal(err)
	}
	signOnly := mustKey(t, "signonly@a.test").entity
	signOnly.Subkeys = nil
	for _, c := range []struct {
		name string
		e    *openpgp.Entity
		now  time.Time
		want error
	}{
		{"expired", short, testNow, ErrKeyExpired},
		{"valid before expiry", short, created.Add(time.Hour), nil},
		{"not yet valid", mustKey(t, "later@a.test").entity, testNow.Add(-time.Hour), ErrKeyExpired},
		{"revoked", revoked, testNow, ErrKeyRevoked},
		{"no encryption subkey", signOnly, testNow, ErrNoEncryptionKey},
	} {
		pub := (&PublicKey{c.e}).Bytes()
		_, err := ParsePublicKey(pub, c.now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// Concatenated keys: the usable ones are kept, the reasons for the
	// others reported when none is left.
	good := mustKey(t, "good@a.test")
	all := append(append((&PublicKey{revoked}).Bytes(), good.Bytes()...), (&PublicKey{signOnly}).Bytes()...)
	keys, err := ParsePublicKeys(all, testNow)
	if err != nil || len(keys) != 1 || keys[0].Fingerprint() != good.Fingerprint() {
		t.Errorf("ParsePublicKeys kept %d keys, %v", len(keys), err)
	}
	bad := append((&PublicKey{revoked}).Bytes(), (&PublicKey{signOnly}).Bytes()...)
	if _, err := ParsePublicKeys(bad, testNow); !errors.Is(err, ErrKeyRevoked) || !errors.Is(err, ErrNoEncryptionKey) {
		t.Errorf("ParsePublicKeys of unusable keys: %v", err)
	}
}

// Keys are shared by concurrent Encrypt, Sign and Decrypt calls (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	alice, bob := mustKey(t, "alice@a.test"), mustKey(t, "bob@b.test")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			enc, err := Encrypt(strings.NewReader(sampleMessage), alice, []*PublicKey{bob.Public()}, testNow)
			if err != nil {
				t.Error(err)
				return
			}
			signed, err := Sign(strings.NewReader(sampleMessage), alice, testNow)
			if err != nil {
				t.Error(err)
				return
			}
			for _, m := range [][]byte{enc, signed} {
				res, err := Decrypt(bytes.NewReader(m), []*Key{bob, alice}, nil)
				if err != nil || res.Signature != SignatureGood {
					t.Errorf("decrypt: %v %+v", err, res)
				}
			}
		})
	}
	wg.Wait()
}
