package dmime

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"testing"

	"umbra/signet"
)

// actor is one test party with keys derived from its name, so every test
// (and the fuzz targets) use the same fixed keys.
type actor struct {
	addr string
	fp   signet.Fingerprint
	enc  hpke.PrivateKey
	sign ed25519.PrivateKey
}

func newActor(tb testing.TB, addr string) *actor {
	tb.Helper()
	seed := sha256.Sum256([]byte("umbra dmime test key " + addr))
	enc, err := KEM().DeriveKeyPair(seed[:])
	if err != nil {
		tb.Fatal(err)
	}
	return &actor{
		addr: addr,
		fp:   sha256.Sum256([]byte("signet of " + addr)),
		enc:  enc,
		sign: ed25519.NewKeyFromSeed(seed[:]),
	}
}

func (a *actor) party() Party {
	return Party{Address: a.addr, Fingerprint: a.fp, Enc: a.enc.PublicKey()}
}

func (a *actor) pub() ed25519.PublicKey { return a.sign.Public().(ed25519.PublicKey) }

// world is one author, two providers and one recipient.
type world struct {
	author, origin, dest, recip *actor
}

func newWorld(tb testing.TB) *world {
	return &world{
		author: newActor(tb, "alice@a.test"),
		origin: newActor(tb, "a.test"),
		dest:   newActor(tb, "b.test"),
		recip:  newActor(tb, "bob@b.test"),
	}
}

func (w *world) params() SealParams {
	return SealParams{
		Author: w.author.party(), AuthorKey: w.author.sign,
		Origin: w.origin.party(), Destination: w.dest.party(),
		Recipient: w.recip.party(),
	}
}

// paramsV2 seals format version 2: the author's signet (here bytes whose
// SHA-256 is the author's test fingerprint) sealed with the signature.
func (w *world) paramsV2() SealParams {
	p := w.params()
	p.Carried = &Carried{Signet: w.author.signet()}
	return p
}

// signet is the actor's stand-in signet: its SHA-256 is a.fp.
func (a *actor) signet() []byte { return []byte("signet of " + a.addr) }

// authorKeys resolves only the world's author.
func (w *world) authorKeys(addr string, fp signet.Fingerprint, _ *Carried) (ed25519.PublicKey, error) {
	if addr == w.author.addr && fp.Equal(w.author.fp) {
		return w.author.pub(), nil
	}
	return nil, fmt.Errorf("unknown author %s", addr)
}

// seal seals mime and adds the origin signature.
func (w *world) seal(tb testing.TB, mime []byte) []byte {
	tb.Helper()
	return w.sealWith(tb, mime, w.params())
}

func (w *world) sealWith(tb testing.TB, mime []byte, p SealParams) []byte {
	tb.Helper()
	var raw, signed bytes.Buffer
	if _, err := Seal(&raw, bytes.NewReader(mime), p); err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	if err := SignOrigin(&signed, &raw, w.origin.sign); err != nil {
		tb.Fatalf("SignOrigin: %v", err)
	}
	return signed.Bytes()
}

// openRecipient opens msg as the recipient with every check on.
func (w *world) openRecipient(msg []byte) ([]byte, *Opened, error) {
	var out bytes.Buffer
	o, err := Open(bytes.NewReader(msg), RoleRecipient, w.recip.enc, OpenOptions{
		MIME: &out, AuthorKey: w.authorKeys, OriginKeys: []ed25519.PublicKey{w.origin.pub()}, Recipient: w.recip.addr,
	})
	return out.Bytes(), o, err
}

// newActorKEMless returns an HPKE key of another KEM (DHKEM X25519).
func newActorKEMless() (hpke.PrivateKey, error) {
	return hpke.DHKEM(ecdh.X25519()).GenerateKey()
}
