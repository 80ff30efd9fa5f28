package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// cert makes a certificate for name signed by parent (self-signed when
// parent is nil), CA when ca is set.
func cert(t testing.TB, name string, ca bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if !ca {
		tmpl.DNSNames = []string{name}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ee, _ := cert(t, "mail.example.org", false, nil, nil)
	spki := sha256.Sum256(ee.RawSubjectPublicKeyInfo)
	full := sha512.Sum512(ee.Raw)
	ca, caKey := cert(t, "Example CA", true, nil, nil)
	leaf, _ := cert(t, "mx.example.org", false, ca, caKey)
	caSPKI := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	other, _ := cert(t, "other.example", false, nil, nil)
	otherSPKI := sha256.Sum256(other.RawSubjectPublicKeyInfo)

	for _, c := range []struct {
		name    string
		chain   []*x509.Certificate
		records []TLSA
		names   []string
		want    error
	}{
		{"DANE-EE SPKI SHA-256", []*x509.Certificate{ee}, []TLSA{{3, 1, 1, spki[:]}}, nil, nil},
		{"DANE-EE full certificate SHA-512", []*x509.Certificate{ee}, []TLSA{{3, 0, 2, full[:]}}, nil, nil},
		{"DANE-EE exact SPKI", []*x509.Certificate{ee}, []TLSA{{3, 1, 0, ee.RawSubjectPublicKeyInfo}}, nil, nil},
		{"DANE-EE ignores names", []*x509.Certificate{ee}, []TLSA{{3, 1, 1, spki[:]}}, []string{"wrong.example"}, nil},
		{"one of several records", []*x509.Certificate{ee}, []TLSA{{3, 1, 1, otherSPKI[:]}, {3, 1, 1, spki[:]}}, nil, nil},
		{"DANE-EE another key", []*x509.Certificate{ee}, []TLSA{{3, 1, 1, otherSPKI[:]}}, nil, ErrNoMatch},
		{"DANE-TA to the CA", []*x509.Certificate{leaf, ca}, []TLSA{{2, 1, 1, caSPKI[:]}}, []string{"mx.example.org"}, nil},
		{"DANE-TA with the wrong name", []*x509.Certificate{leaf, ca}, []TLSA{{2, 1, 1, caSPKI[:]}}, []string{"evil.example"}, ErrNoMatch},
		{"DANE-TA naming the leaf", []*x509.Certificate{leaf, ca}, []TLSA{{2, 1, 1, sha(leaf)}}, []string{"mx.example.org"}, ErrNoMatch},
		{"DANE-TA not in the chain", []*x509.Certificate{leaf}, []TLSA{{2, 1, 1, caSPKI[:]}}, []string{"mx.example.org"}, ErrNoMatch},
		{"PKIX-EE is unusable", []*x509.Certificate{ee}, []TLSA{{1, 1, 1, spki[:]}}, nil, ErrNoUsable},
		{"a truncated digest is unusable", []*x509.Certificate{ee}, []TLSA{{3, 1, 1, spki[:31]}}, nil, ErrNoUsable},
		{"an unknown matching type is unusable", []*x509.Certificate{ee}, []TLSA{{3, 1, 9, spki[:]}}, nil, ErrNoUsable},
	} {
		if err := Verify(c.chain, c.records, c.names, now); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := Verify(nil, []TLSA{{3, 1, 1, spki[:]}}, nil, now); err == nil {
		t.Error("an empty chain verified")
	}
}

func sha(c *x509.Certificate) []byte {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return h[:]
}

// FuzzVerify: arbitrary record fields and data against a real chain
// never panic, and only the right digest matches the leaf.
func FuzzVerify(f *testing.F) {
	ee, _ := cert(f, "mail.example.org", false, nil, nil)
	spki := sha256.Sum256(ee.RawSubjectPublicKeyInfo)
	f.Add(uint8(3), uint8(1), uint8(1), spki[:])
	f.Add(uint8(2), uint8(0), uint8(0), ee.Raw)
	f.Add(uint8(0), uint8(9), uint8(2), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, usage, selector, matching uint8, data []byte) {
		err := Verify([]*x509.Certificate{ee}, []TLSA{{usage, selector, matching, data}}, []string{"mail.example.org"}, time.Now())
		if err == nil && (usage != 3 || matching == 1 && string(data) != string(spki[:]) && selector == 1) {
			t.Fatalf("matched: usage %d selector %d matching %d data %x", usage, selector, matching, data)
		}
	})
}
