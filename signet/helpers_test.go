package signet

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

// The fixed clock and keys of the tests and test vectors: every key derives
// from a label, so the vectors in testdata/signet are reproducible.
var (
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now = t0.Add(24 * time.Hour)
)

func sigKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("umbra test signing " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

func encKey(t testing.TB, label string) hpke.PrivateKey {
	seed := sha256.Sum256([]byte("umbra test encryption " + label))
	k, err := KEM().DeriveKeyPair(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// testOrg is example.org with a POK, a SOK that may sign signets and a SOK
// that may only sign messages.
type testOrg struct {
	org                 *Org
	pok, sokSig, sokMsg ed25519.PrivateKey
}

func newTestOrg(t testing.TB, domain string) testOrg {
	t.Helper()
	o := testOrg{pok: sigKey(domain + " pok"), sokSig: sigKey(domain + " sok signets"), sokMsg: sigKey(domain + " sok messages")}
	pin := sha256.Sum256([]byte("tls " + domain))
	var err error
	o.org, err = NewOrg(OrgFields{
		POK:       pub(o.pok),
		SOKs:      []SOK{{pub(o.sokSig), PermSignSignets}, {pub(o.sokMsg), PermSignMessages | PermTLS}},
		Enc:       encKey(t, domain).PublicKey(),
		Domain:    domain,
		DMTP:      "dx." + domain + ":26",
		DMAP:      "https://mail." + domain + "/dmap/v1/",
		TLSPin:    pin[:],
		LogKey:    domain + "+1a2b3c4d+AQIDBA",
		NotBefore: t0,
		NotAfter:  t0.Add(365 * 24 * time.Hour),
	}, o.pok)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// userGen is one generation of an address's chain: its keys and signet.
type userGen struct {
	signing, recovery ed25519.PrivateKey
	signet            *User
}

// newTestUser issues generation gen of address, succeeding prev (nil for
// the first), with custody signed by prev's signing or recovery key.
func newTestUser(t testing.TB, o testOrg, address string, gen int, prev *userGen, kind CustodyKind) userGen {
	t.Helper()
	label := address + " " + string(rune('a'+gen))
	g := userGen{signing: sigKey(label), recovery: sigKey(address + " recovery")}
	var succ *Successor
	if prev != nil {
		succ = &Successor{Prev: prev.signet, Kind: kind, Key: prev.signing}
		if kind == CustodyRecovery {
			succ.Key = prev.recovery
		}
	}
	start := t0.Add(time.Duration(gen) * time.Hour)
	req, err := NewRequest(UserFields{
		SigningKey:  pub(g.signing),
		Enc:         encKey(t, label).PublicKey(),
		RecoveryKey: pub(g.recovery),
		Address:     address,
		NotBefore:   start,
		NotAfter:    start.Add(90 * 24 * time.Hour),
	}, g.signing, succ)
	if err != nil {
		t.Fatal(err)
	}
	if g.signet, err = Certify(req, o.org, o.sokSig); err != nil {
		t.Fatal(err)
	}
	return g
}

// sigError asserts err is a *Error naming field.
func sigError(t *testing.T, err error, field string) {
	t.Helper()
	var e *Error
	if err == nil {
		t.Fatalf("no error, want one naming %q", field)
	}
	if !errors.As(err, &e) || e.Field != field {
		t.Fatalf("error %q does not name field %q", err, field)
	}
}

// withoutField returns the signet b with field id removed and its length
// header fixed, or b unchanged when the field is absent.
func withoutField(b []byte, id byte) []byte {
	out := append([]byte(nil), b[:headerSize]...)
	for off := headerSize; off < len(b); {
		n := fieldHeaderSize + (int(b[off+1])<<8 | int(b[off+2]))
		if b[off] != id {
			out = append(out, b[off:off+n]...)
		}
		off += n
	}
	l := len(out) - headerSize
	out[2], out[3], out[4] = byte(l>>16), byte(l>>8), byte(l)
	return out
}
