package dnsrec

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"umbra/signet"
)

func testKey(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// fullRecord sets every field to a non-default value.
func fullRecord(t testing.TB) *Record {
	pin := sha256.Sum256([]byte("spki"))
	return &Record{
		Version:     1,
		POKs:        []ed25519.PublicKey{testKey(t), testKey(t)},
		SOKs:        []ed25519.PublicKey{testKey(t)},
		DX:          "dmtp.a.test:26",
		DMAP:        "https://dmap.a.test/dmap/v1/",
		TLSPin:      pin[:],
		Fingerprint: signet.FingerprintOf([]byte("a signet")),
		Policy:      PolicyMixed,
		ExpDays:     45,
		Subdomain:   SubRelaxed,
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	full := fullRecord(t)
	minimal := &Record{Version: 1, POKs: []ed25519.PublicKey{testKey(t)}, DX: "192.0.2.1:2626", Policy: PolicyExperimental, ExpDays: 1}
	for _, r := range []*Record{full, minimal} {
		got, err := Parse(r.TXT())
		if err != nil {
			t.Fatalf("Parse(%q): %v", r.TXT(), err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip changed the record:\n got %+v\nwant %+v", got, r)
		}
	}
	want := "ver=1 pok=" + b64.EncodeToString(full.POKs[0]) + " pok=" + b64.EncodeToString(full.POKs[1]) +
		" sok=" + b64.EncodeToString(full.SOKs[0]) + " dx=dmtp.a.test:26 dmap=https://dmap.a.test/dmap/v1/ tls=" +
		b64.EncodeToString(full.TLSPin) + " fp=" + full.Fingerprint.String() + " pol=mixed exp=45 sub=relaxed"
	if s := full.String(); s != want {
		t.Errorf("String() = %q\nwant       %q", s, want)
	}
	if full.Expiry() != 45*24*time.Hour {
		t.Errorf("Expiry() = %v", full.Expiry())
	}
}

// TestSplitAnywhere checks the split-string rule (docs/spec/dns.md §3.3):
// wherever the publisher cuts the record, even inside a key or a value,
// the concatenation is what counts.
func TestSplitAnywhere(t *testing.T) {
	t.Parallel()
	r := fullRecord(t)
	s := r.String()
	for i := 1; i < len(s); i++ {
		if i > MaxStringLen || len(s)-i > MaxStringLen {
			continue
		}
		got, err := Parse([]string{s[:i], s[i:]})
		if err != nil {
			t.Fatalf("split at %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("split at %d changed the record", i)
		}
	}
	// A separator is not inserted: a cut between two fields needs the
	// space inside one of the strings.
	i := strings.Index(s, " dx=")
	if _, err := Parse([]string{s[:i], s[i+1:]}); err == nil {
		t.Error("strings joined without their separating space parsed")
	}
}

func TestTXTSplitting(t *testing.T) {
	t.Parallel()
	r := fullRecord(t)
	for len(r.POKs) < MaxPOKs {
		r.POKs = append(r.POKs, testKey(t))
	}
	txt := r.TXT()
	if len(txt) < 2 {
		t.Fatalf("a %d-byte record came out as %d string", len(r.String()), len(txt))
	}
	for i, s := range txt {
		if len(s) > MaxStringLen {
			t.Errorf("string %d is %d bytes", i, len(s))
		}
		if i < len(txt)-1 && !strings.HasSuffix(s, " ") {
			t.Errorf("string %d does not end after a space: %q", i, s)
		}
	}
	if strings.Join(txt, "") != r.String() {
		t.Error("strings do not concatenate to String()")
	}

	// A field longer than a string is cut where the limit falls.
	r.DMAP = "https://dmap.a.test/" + strings.Repeat("p", 400)
	txt = r.TXT()
	if strings.Join(txt, "") != r.String() {
		t.Error("strings do not concatenate to String()")
	}
	for i, s := range txt {
		if len(s) > MaxStringLen {
			t.Errorf("string %d is %d bytes", i, len(s))
		}
	}
	if got, err := Parse(txt); err != nil || got.DMAP != r.DMAP {
		t.Errorf("Parse = %v; dmap %q", err, got.DMAP)
	}
}

func TestIsCandidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		txt  []string
		want bool
	}{
		{[]string{"ver=1 pok=x"}, true},
		{[]string{"ver=1"}, true},
		{[]string{"ver=1\tpok=x"}, true},
		{[]string{"ve", "r=1", " pok=x"}, true},
		{[]string{"ver=1", " pok=x"}, true},
		{[]string{"ver=10 pok=x"}, false},
		{[]string{"ver=2 pok=x"}, false},
		{[]string{" ver=1 pok=x"}, false},
		{[]string{"VER=1 pok=x"}, false},
		{[]string{"v=spf1 -all"}, false},
		{[]string{""}, false},
		{nil, false},
	} {
		if got := IsCandidate(c.txt); got != c.want {
			t.Errorf("IsCandidate(%q) = %v, want %v", c.txt, got, c.want)
		}
	}
}

func TestEnums(t *testing.T) {
	t.Parallel()
	for _, p := range []Policy{PolicyExperimental, PolicyMixed, PolicyStrict} {
		if q, err := ParsePolicy(p.String()); err != nil || q != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p, q, err)
		}
	}
	for _, s := range []Subdomain{SubExplicit, SubRelaxed, SubStrict} {
		if q, err := ParseSubdomain(s.String()); err != nil || q != s {
			t.Errorf("ParseSubdomain(%q) = %v, %v", s, q, err)
		}
	}
	if PolicyExperimental.Dark() || !PolicyMixed.Dark() || !PolicyStrict.Dark() {
		t.Error("Dark(): only mixed and strict are defended")
	}
	if s := Policy(9).String(); s != "Policy(9)" {
		t.Errorf("Policy(9) = %q", s)
	}
	if s := Subdomain(9).String(); s != "Subdomain(9)" {
		t.Errorf("Subdomain(9) = %q", s)
	}
	var pe *ParseError
	if _, err := ParsePolicy("STRICT"); !errors.As(err, &pe) || pe.Field != "pol" {
		t.Errorf("ParsePolicy(STRICT) = %v", err)
	}
}

func TestCertificatePin(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dmtp.a.test"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(spki)
	if pin := CertificatePin(cert); string(pin) != string(want[:]) {
		t.Errorf("CertificatePin = %x, want SHA-256 of the SPKI %x", pin, want)
	}
}

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"A.Test":             "a.test",
		"a.test.":            "a.test",
		"xn--bcher-kva.test": "xn--bcher-kva.test",
		"localhost":          "localhost",
	} {
		if got, err := NormalizeDomain(in); err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// 247 bytes is the longest domain that fits under "_dime." (§2).
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 55)
	if got, err := NormalizeDomain(long); err != nil || len(got) != 247 {
		t.Errorf("247-byte domain: %v", err)
	}
	for _, in := range []string{long + "b", "", ".", "a..test", ".a.test", "a.test..", "-a.test", "a-.test", "a_b.test", "bücher.test", "1.2.3.4", "::1",
		strings.Repeat("a", 64) + ".test", strings.Repeat("abcdefghi.", 25) + "test"} {
		if got, err := NormalizeDomain(in); err == nil {
			t.Errorf("NormalizeDomain(%q) = %q, want an error", in, got)
		}
	}
}
