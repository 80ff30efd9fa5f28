package pgp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

func FuzzParsePublicKey(f *testing.F) {
	k := mustKey(f, "alice@a.test")
	f.Add(k.Bytes())
	f.Add(k.Armored())
	f.Add(k.PrivateBytes())
	f.Add(k.Bytes()[:len(k.Bytes())/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		pk, err := ParsePublicKey(data, testNow)
		if err != nil {
			return
		}
		again, err := ParsePublicKey(pk.Bytes(), testNow)
		if err != nil || again.Fingerprint() != pk.Fingerprint() || !again.CanEncrypt(testNow) {
			t.Fatalf("accepted key does not survive its own serialisation: %v", err)
		}
	})
}

// FuzzDecrypt feeds Decrypt PGP/MIME encrypted and signed messages,
// multipart/signed, inline and clearsigned ones, all real.
func FuzzDecrypt(f *testing.F) {
	alice, bob := mustKey(f, "alice@a.test"), mustKey(f, "bob@b.test")
	enc, err := Encrypt(strings.NewReader(sampleMessage), alice, []*PublicKey{bob.Public()}, testNow)
	if err != nil {
		f.Fatal(err)
	}
	signed, err := Sign(strings.NewReader(sampleMessage), alice, testNow)
	if err != nil {
		f.Fatal(err)
	}
	armored, err := encryptSigned([]byte("inline text\r\n"), alice, []*PublicKey{bob.Public()}, testNow)
	if err != nil {
		f.Fatal(err)
	}
	var clear bytes.Buffer
	w, err := clearsign.Encode(&clear, alice.entity.PrivateKey, config(testNow))
	if err != nil {
		f.Fatal(err)
	}
	w.Write([]byte("clearsigned text\n- dash\n"))
	w.Close()
	plain := "From: alice@a.test\r\nTo: bob@b.test\r\nSubject: inline\r\n\r\n"
	for _, seed := range [][]byte{
		enc, signed,
		bytes.ReplaceAll(signed, []byte("\r\n"), []byte("\n")),
		[]byte(plain + string(armored)),
		[]byte(plain + clear.String()),
		[]byte(plain + "no OpenPGP here\r\n"),
	} {
		f.Add(seed)
	}
	lookup := func(id uint64) *PublicKey {
		if id == alice.entity.PrimaryKey.KeyId {
			return alice.Public()
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		res, err := Decrypt(bytes.NewReader(msg), []*Key{bob}, lookup)
		if err != nil {
			return
		}
		if res.Message == nil {
			t.Fatal("no message and no error")
		}
		if res.Signature == SignatureGood && res.Signer != alice.Fingerprint() {
			t.Fatalf("good signature by %s, who holds no key here", res.Signer)
		}
	})
}
