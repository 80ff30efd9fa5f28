package pgp

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// sampleInner is the cryptographic payload Encrypt makes of sampleMessage
// (RFC 9788 §2.2): every field but Bcc, Content-Type marked hp=cipher,
// HP-Outer for what stays outside, then the body unchanged.
const sampleInner = "From: Alice <alice@a.test>\r\n" +
	"To: bob@b.test\r\n" +
	"Cc: carol@c.test\r\n" +
	"Subject: the secret plan\r\n" +
	"Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n" +
	"Message-ID: <1@a.test>\r\n" +
	"User-Agent: mutt\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8; hp=cipher\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"HP-Outer: From: Alice <alice@a.test>\r\n" +
	"HP-Outer: To: bob@b.test\r\n" +
	"HP-Outer: Cc: carol@c.test\r\n" +
	"HP-Outer: Subject: [...]\r\n" +
	"HP-Outer: Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n" +
	"HP-Outer: Message-ID: <1@a.test>\r\n" +
	"\r\n" +
	"Meet at n\xc3\xa4on.\r\n-- \r\nAlice\r\n"

// encryptedPart returns the armored OpenPGP message of a PGP/MIME encrypted
// message.
func encryptedPart(t *testing.T, msg []byte) []byte {
	t.Helper()
	top, err := parseMIME(msg)
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := top.mediaType()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := splitMultipart(top.body, params["boundary"])
	if err != nil || len(parts) != 2 {
		t.Fatalf("multipart/encrypted: %d parts, %v", len(parts), err)
	}
	part, err := parseMIME(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return part.body
}

// (a) GnuPG decrypts and verifies what Encrypt made.
func TestGnuPGOpensEncrypt(t *testing.T) {
	t.Parallel()
	g := newGnuPG(t)
	alice, bob := mustKey(t, "alice@a.test"), mustKey(t, "bob@b.test")
	g.Import(bob.PrivateBytes())
	g.Import(alice.Bytes())
	enc, err := Encrypt(strings.NewReader(sampleMessage), alice, []*PublicKey{bob.Public()}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	plain, status := g.Run(encryptedPart(t, enc), "--decrypt")
	if string(plain) != sampleInner {
		t.Errorf("gpg decrypted\n%q\nwant\n%q", plain, sampleInner)
	}
	for _, want := range []string{"[GNUPG:] GOODSIG ", "[GNUPG:] VALIDSIG " + alice.Fingerprint(), "[GNUPG:] DECRYPTION_OKAY"} {
		if !bytes.Contains(status, []byte(want)) {
			t.Errorf("gpg status lacks %q:\n%s", want, status)
		}
	}
}

// gpgPeer is a GnuPG user carol, who knows bob's public key, and bob's key
// on our side.
type gpgPeer struct {
	g        *gnupg
	bob      *Key
	carol    *PublicKey
	carolFpr string
}

func newGPGPeer(t *testing.T) *gpgPeer {
	g := newGnuPG(t)
	carol, err := ParsePublicKey(g.GenerateKey("carol@c.test"), time.Now())
	if err != nil {
		t.Fatalf("parse gpg's key: %v", err)
	}
	bob := mustKey(t, "bob@b.test")
	g.Import(bob.Bytes())
	return &gpgPeer{g: g, bob: bob, carol: carol, carolFpr: carol.Fingerprint()}
}

func (p *gpgPeer) lookup(id uint64) *PublicKey {
	if fmt.Sprintf("%016X", id) == p.carolFpr[24:] {
		return p.carol
	}
	return nil
}

// encryptSigned has gpg encrypt data to bob and sign it as carol.
func (p *gpgPeer) encryptSigned(data []byte) []byte {
	out, _ := p.g.Run(data, "--armor", "--encrypt", "--sign", "-r", "bob@b.test", "-u", "carol@c.test")
	return out
}

const gpgInner = "Content-Type: text/plain; charset=utf-8\r\n\r\nHello from GnuPG.\r\n"

func pgpMIME(armored []byte) []byte {
	return []byte("From: carol@c.test\r\nTo: bob@b.test\r\nSubject: hi\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\n\r\n" + string(armored) + "\r\n--b1--\r\n")
}

func inlineMessage(body []byte) []byte {
	return []byte("From: carol@c.test\r\nTo: bob@b.test\r\nSubject: inline\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nsome unprotected text\r\n" + string(body) + "\r\nmore unprotected text\r\n")
}

// (b) Decrypt opens what GnuPG made: PGP/MIME, inline, clearsigned.
func TestDecryptGnuPG(t *testing.T) {
	t.Parallel()
	p := newGPGPeer(t)
	pgpmime := pgpMIME(p.encryptSigned([]byte(gpgInner)))
	inline := inlineMessage(p.encryptSigned([]byte("Inline h\xc3\xa9llo.\n")))
	clear, _ := p.g.Run([]byte("Signed, not sealed.\n-- dash line\n"), "--clearsign", "-u", "carol@c.test")
	// Thunderbird's older header protection: protected-headers="v1" on the
	// encrypted entity, which carries the real Subject.
	protected := pgpMIME(p.encryptSigned([]byte("Content-Type: multipart/mixed; boundary=\"m\"; protected-headers=\"v1\"\r\n" +
		"Subject: the real subject\r\nFrom: carol@c.test\r\nTo: bob@b.test\r\n\r\n" +
		"--m\r\nContent-Type: text/plain\r\n\r\nProtected.\r\n--m--\r\n")))
	unsigned, _ := p.g.Run([]byte(gpgInner), "--armor", "--encrypt", "-r", "bob@b.test")
	signedOnly, _ := p.g.Run([]byte("Signed inline.\n"), "--armor", "--sign", "--compress-algo", "none", "-u", "carol@c.test")
	cases := []struct {
		name      string
		msg       []byte
		lookup    func(uint64) *PublicKey
		encrypted bool
		sig       SignatureStatus
		want      []string
	}{
		{"pgp/mime unsigned", pgpMIME(unsigned), p.lookup, true, SignatureNone, []string{"Hello from GnuPG."}},
		{"inline signed only", inlineMessage(signedOnly), p.lookup, false, SignatureGood, []string{"Signed inline."}},
		{"inline signed only, text changed", inlineMessage(rearmor(t, signedOnly, func(b []byte) []byte {
			return bytes.Replace(b, []byte("Signed inline."), []byte("Signed inline!"), 1)
		})), p.lookup, false, SignatureBad, []string{"Signed inline!"}},
		{"pgp/mime", pgpmime, p.lookup, true, SignatureGood, []string{"Subject: hi\r\n", "\r\n\r\nHello from GnuPG.\r\n"}},
		{"pgp/mime protected-headers=v1", protected, p.lookup, true, SignatureGood, []string{"Subject: the real subject\r\n", "Protected."}},
		{"pgp/mime unknown signer", pgpmime, nil, true, SignatureUnknownKey, []string{"Hello from GnuPG."}},
		{"inline", inline, p.lookup, true, SignatureGood, []string{"Subject: inline\r\n", "Inline h=C3=A9llo."}},
		{"clearsigned", inlineMessage(clear), p.lookup, false, SignatureGood, []string{"Signed, not sealed.\r\n-- dash line"}},
		{"clearsigned unknown signer", inlineMessage(clear), nil, false, SignatureUnknownKey, []string{"Signed, not sealed."}},
	}
	for _, c := range cases {
		res, err := Decrypt(bytes.NewReader(c.msg), []*Key{p.bob}, c.lookup)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if res.Encrypted != c.encrypted || res.Signature != c.sig {
			t.Errorf("%s: encrypted %v signature %v (%v), want %v %v", c.name, res.Encrypted, res.Signature, res.SignatureError, c.encrypted, c.sig)
		}
		if c.sig == SignatureGood && (res.Signer != p.carolFpr || !res.SignerKey.HasAddress("carol@c.test", time.Now())) {
			t.Errorf("%s: signer %s, want %s", c.name, res.Signer, p.carolFpr)
		}
		for _, w := range c.want {
			if !bytes.Contains(res.Message, []byte(w)) {
				t.Errorf("%s: message lacks %q:\n%s", c.name, w, res.Message)
			}
		}
		if wantProtected := bytes.Equal(c.msg, protected); res.HeadersProtected != wantProtected ||
			wantProtected && bytes.Contains(res.Message, []byte("Subject: hi")) {
			t.Errorf("%s: headers protected %v:\n%s", c.name, res.HeadersProtected, res.Message)
		}
		if bytes.Contains(res.Message, []byte("unprotected")) {
			t.Errorf("%s: text outside the OpenPGP block kept:\n%s", c.name, res.Message)
		}
	}
}

// rearmor changes the packets of an armored message with edit and armors
// them again, so that only OpenPGP's own checks can notice.
func rearmor(t *testing.T, armored []byte, edit func([]byte) []byte) []byte {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := io.ReadAll(block.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, _ := armor.Encode(&out, "PGP MESSAGE", nil)
	w.Write(edit(bin))
	w.Close()
	return out.Bytes()
}

// tamper flips one bit near the end of an encrypted message (inside the
// encrypted data, before the modification detection code is read).
func tamper(t *testing.T, armored []byte) []byte {
	return rearmor(t, armored, func(b []byte) []byte {
		b[len(b)-30] ^= 0x01
		return b
	})
}

func TestDecryptRejectsTampered(t *testing.T) {
	t.Parallel()
	p := newGPGPeer(t)
	armored := p.encryptSigned([]byte(gpgInner))
	for name, msg := range map[string][]byte{
		"pgp/mime": pgpMIME(tamper(t, armored)),
		"inline":   inlineMessage(tamper(t, armored)),
	} {
		res, err := Decrypt(bytes.NewReader(msg), []*Key{p.bob}, p.lookup)
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: tampered message opened: %+v", name, res)
		}
	}
}

// multipart/signed by GnuPG (RFC 3156 §5): good as sent, bad once the signed
// part changes.
func TestDecryptGnuPGMultipartSigned(t *testing.T) {
	t.Parallel()
	p := newGPGPeer(t)
	signed := "Content-Type: text/plain; charset=us-ascii\r\n\r\nI said this.\r\n"
	sig, _ := p.g.Run([]byte(signed), "--armor", "--detach-sign", "-u", "carol@c.test")
	msg := func(part string) []byte {
		return []byte("From: carol@c.test\r\nTo: bob@b.test\r\nSubject: signed\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"s1\"\r\n\r\n" +
			"--s1\r\n" + part + "\r\n--s1\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--s1--\r\n")
	}
	for _, c := range []struct {
		name   string
		msg    []byte
		lookup func(uint64) *PublicKey
		want   SignatureStatus
	}{
		{"good", msg(signed), p.lookup, SignatureGood},
		{"good, LF line endings", bytes.ReplaceAll(msg(signed), []byte("\r\n"), []byte("\n")), p.lookup, SignatureGood},
		{"bad", msg(strings.Replace(signed, "said", "never said", 1)), p.lookup, SignatureBad},
		{"unknown key", msg(signed), nil, SignatureUnknownKey},
	} {
		res, err := Decrypt(bytes.NewReader(c.msg), []*Key{p.bob}, c.lookup)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if res.Encrypted || res.Signature != c.want {
			t.Errorf("%s: encrypted %v signature %v (%v), want %v", c.name, res.Encrypted, res.Signature, res.SignatureError, c.want)
		}
		if c.want == SignatureGood && !bytes.Contains(res.Message, []byte("Subject: signed\r\n")) {
			t.Errorf("%s: message:\n%s", c.name, res.Message)
		}
	}
}

// Sign's multipart/signed verifies in GnuPG (over the exact bytes of the
// first part) and in Decrypt, which restores the signed header fields.
func TestGnuPGVerifiesSign(t *testing.T) {
	t.Parallel()
	g := newGnuPG(t)
	alice := mustKey(t, "alice@a.test")
	g.Import(alice.Bytes())
	signed, err := Sign(strings.NewReader(sampleMessage), alice, testNow)
	if err != nil {
		t.Fatal(err)
	}
	top, err := parseMIME(signed)
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := top.mediaType()
	parts, err := splitMultipart(top.body, params["boundary"])
	if err != nil || len(parts) != 2 {
		t.Fatalf("multipart/signed: %d parts, %v", len(parts), err)
	}
	sigPart, _ := parseMIME(parts[1])
	dir := t.TempDir()
	data, sig := filepath.Join(dir, "data"), filepath.Join(dir, "data.asc")
	if err := os.WriteFile(data, parts[0], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sig, sigPart.body, 0o600); err != nil {
		t.Fatal(err)
	}
	_, status := g.Run(nil, "--verify", sig, data)
	if !bytes.Contains(status, []byte("[GNUPG:] VALIDSIG "+alice.Fingerprint())) {
		t.Errorf("gpg status:\n%s", status)
	}
	if bytes.Contains(signed, []byte("\xc3\xa4")) || !bytes.Contains(parts[0], []byte("hp=clear")) {
		t.Errorf("signed part not 7-bit or not marked hp=clear:\n%s", parts[0])
	}

	res, err := Decrypt(bytes.NewReader(signed), nil, func(uint64) *PublicKey { return alice.Public() })
	if err != nil {
		t.Fatal(err)
	}
	if res.Encrypted || res.Signature != SignatureGood || !res.HeadersProtected {
		t.Errorf("result %+v", res)
	}
	if !bytes.Contains(res.Message, []byte("Subject: the secret plan\r\n")) || !bytes.Contains(res.Message, []byte("n=C3=A4on")) {
		t.Errorf("message:\n%s", res.Message)
	}
}
