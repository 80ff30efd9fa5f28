package pgp_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"umbra/autocrypt"
	"umbra/pgp"
)

// (c) A GnuPG "future-default" key travels through an Autocrypt header into
// Encrypt, and GnuPG opens the result.
func TestGnuPGKeyViaAutocrypt(t *testing.T) {
	t.Parallel()
	g := pgp.NewGnuPG(t)
	armored := g.GenerateKey("dave@d.test")
	now := time.Now()
	dave, err := pgp.ParsePublicKey(armored, now)
	if err != nil {
		t.Fatal(err)
	}
	field := "Autocrypt: " + autocrypt.Format(&autocrypt.Header{Addr: "dave@d.test", PreferEncrypt: autocrypt.Mutual, Key: dave})
	h, err := autocrypt.Parse(strings.TrimPrefix(field, "Autocrypt: "), now)
	if err != nil {
		t.Fatal(err)
	}
	if h.Key.Fingerprint() != dave.Fingerprint() || h.PreferEncrypt != autocrypt.Mutual {
		t.Fatalf("autocrypt round trip: %s %v", h.Key.Fingerprint(), h.PreferEncrypt)
	}
	alice, err := pgp.GenerateKey("alice@a.test", now)
	if err != nil {
		t.Fatal(err)
	}
	g.Import(alice.Bytes())
	body := "Hello Dave, your key came by Autocrypt.\r\n"
	msg := "From: alice@a.test\r\nTo: dave@d.test\r\nSubject: autocrypt\r\n\r\n" + body
	enc, err := pgp.Encrypt(strings.NewReader(msg), alice, []*pgp.PublicKey{h.Key}, now)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(enc, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(enc, []byte("-----END PGP MESSAGE-----"))
	if i < 0 || j < i {
		t.Fatalf("no armored message in\n%s", enc)
	}
	plain, status := g.Run(enc[i:j+len("-----END PGP MESSAGE-----")], "--decrypt")
	if !bytes.HasSuffix(plain, []byte("\r\n\r\n"+body)) || !bytes.Contains(plain, []byte("Subject: autocrypt\r\n")) {
		t.Errorf("gpg decrypted:\n%s", plain)
	}
	if !bytes.Contains(status, []byte("[GNUPG:] VALIDSIG "+alice.Fingerprint())) {
		t.Errorf("gpg status:\n%s", status)
	}
}
