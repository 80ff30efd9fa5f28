package signet

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOrgRoundTrip(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	if err := o.org.Verify(now); err != nil {
		t.Fatal(err)
	}
	p, err := ParseOrg(o.org.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Bytes(), o.org.Bytes()) || p.Fingerprint() != o.org.Fingerprint() {
		t.Fatal("parse changed the signet")
	}
	if p.Domain != "example.org" || p.DMTP != "dx.example.org:26" || len(p.SOKs) != 2 || p.SOKs[1].Perms != PermSignMessages|PermTLS {
		t.Fatalf("fields not decoded: %+v", p)
	}
	if !bytes.Equal(p.Enc.Bytes(), o.org.Enc.Bytes()) {
		t.Fatal("encryption key changed")
	}
}

func TestNewOrgWrongKey(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	_, err := NewOrg(OrgFields{POK: o.org.POK, Enc: o.org.Enc, Domain: "example.org", DMTP: "dx.example.org:26",
		NotBefore: t0, NotAfter: t0.Add(time.Hour)}, o.sokSig)
	sigError(t, err, "org-signature")
}

func TestUserVerify(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	if err := g.signet.Verify(o.org, now); err != nil {
		t.Fatal(err)
	}
	if g.signet.IsRequest() {
		t.Fatal("certified signet reported as request")
	}
	if _, err := ParseRequest(g.signet.Bytes()); err == nil {
		t.Fatal("certified signet accepted as a request")
	}
}

func TestUserCertifiedByPOK(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	req := requestOf(t, g.signet)
	u, err := Certify(req, o.org, o.pok)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Verify(o.org, now); err != nil {
		t.Fatal(err)
	}
}

// requestOf strips the organisation signature of a certified signet.
func requestOf(t *testing.T, u *User) *User {
	t.Helper()
	req, err := ParseRequest(withoutField(u.Bytes(), userOrgSig))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSOKWithoutSignetPermission(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	req := requestOf(t, g.signet)
	_, err := Certify(req, o.org, o.sokMsg)
	sigError(t, err, "org-signature")

	// A signature made anyway (by a hostile or buggy provider) with the
	// messages-only SOK must fail verification.
	forged := appendOrgSig(req.Bytes(), o.sokMsg)
	u, err := ParseUser(forged)
	if err != nil {
		t.Fatal(err)
	}
	err = u.Verify(o.org, now)
	sigError(t, err, "org-signature")
	if !strings.Contains(err.Error(), "sign-signets permission") {
		t.Fatalf("reason does not name the permission: %v", err)
	}

	// And a key the organisation never listed.
	u, _ = ParseUser(appendOrgSig(req.Bytes(), sigKey("stranger")))
	sigError(t, u.Verify(o.org, now), "org-signature")
}

func appendOrgSig(req []byte, k ed25519.PrivateKey) []byte {
	b := &builder{kind: KindUser, buf: append([]byte(nil), req...)}
	sig := ed25519.Sign(k, signedMessage("org", b.buf, len(b.buf)))
	b.add(userOrgSig, append(append([]byte(nil), pub(k)...), sig...))
	return b.finish()
}

func TestCertifyOtherDomain(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	other := newTestOrg(t, "example.net")
	g := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	_, err := Certify(requestOf(t, g.signet), other.org, other.pok)
	sigError(t, err, "address")
	sigError(t, g.signet.Verify(other.org, now), "address")
}

func TestValidityPeriod(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g := newTestUser(t, o, "alice@example.org", 1, nil, 0) // valid from t0+1h
	for _, at := range []time.Time{t0.Add(30 * time.Minute), g.signet.NotAfter, g.signet.NotAfter.Add(time.Hour)} {
		sigError(t, g.signet.Verify(o.org, at), "validity")
	}
	// An expired organisation signet invalidates its users' signets.
	sigError(t, g.signet.Verify(o.org, o.org.NotAfter.Add(time.Second)), "organisation")
	sigError(t, o.org.Verify(o.org.NotAfter), "validity")
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	good := g.signet.Bytes()
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	withLen := func(b []byte) []byte { // fix up the header length after surgery
		b = append([]byte(nil), b...)
		n := len(b) - headerSize
		b[2], b[3], b[4] = byte(n>>16), byte(n>>8), byte(n)
		return b
	}
	firstLen := fieldHeaderSize + ed25519.PublicKeySize
	first := good[headerSize : headerSize+firstLen]
	cases := []struct {
		name, field string
		b           []byte
	}{
		{"empty", "header", nil},
		{"short header", "header", good[:4]},
		{"truncated", "header", good[:len(good)-1]},
		{"trailing byte", "header", append(append([]byte(nil), good...), 0)},
		{"trailing byte fixed length", "header", withLen(append(append([]byte(nil), good...), 0))},
		{"oversize", "header", make([]byte, MaxSize+1)},
		{"wrong type", "header", cat([]byte{0x00, 0x01}, good[2:])},
		{"duplicate field", "signing-key", withLen(cat(good[:headerSize], first, good[headerSize:]))},
		{"out of order", "signing-key", withLen(cat(good[:headerSize], good[headerSize+firstLen:headerSize+firstLen+3+EncKeySize], first, good[headerSize+firstLen+3+EncKeySize:]))},
		{"unknown field", "field 99", withLen(cat(good, []byte{99, 0, 1, 0}))},
		{"short key", "signing-key", withLen(cat(good[:headerSize], []byte{1, 0, 31}, make([]byte, 31), good[headerSize+firstLen:]))},
		{"missing field", "recovery-key", withoutField(good, userRecovery)},
		{"field past end", "signing-key", withLen(cat(good[:headerSize], []byte{1, 0xff, 0xff}, first[3:]))},
	}
	for _, c := range cases {
		_, err := Parse(c.b)
		var e *Error
		if err == nil || !errors.As(err, &e) || e.Field != c.field {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.field)
		}
	}
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
}

func TestFingerprintForms(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	fp := o.org.Fingerprint()
	for _, s := range []string{fp.String(), fp.Human(), strings.ToLower(fp.Human()), strings.ReplaceAll(fp.Human(), " ", "-")} {
		got, err := ParseFingerprint(s)
		if err != nil || got != fp {
			t.Fatalf("ParseFingerprint(%q) = %v, %v", s, got, err)
		}
	}
	if len(strings.Fields(fp.Human())) != 13 {
		t.Fatalf("human form %q is not 13 groups", fp.Human())
	}
	// Another spelling of the same bytes (non-zero unused bits in the
	// last character) is refused, in both forms.
	const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	const b32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b64, human := fp.String(), strings.ReplaceAll(fp.Human(), " ", "")
	flip := func(s, alphabet string) string { // the lowest bit of the last character: unused
		return s[:len(s)-1] + string(alphabet[strings.IndexByte(alphabet, s[len(s)-1])^1])
	}
	for _, s := range []string{flip(b64, b64Alphabet), flip(human, b32Alphabet)} {
		if got, err := ParseFingerprint(s); err == nil {
			t.Errorf("ParseFingerprint(%q) = %v, want an error (not canonical)", s, got)
		}
	}
	if _, err := ParseFingerprint("not a fingerprint"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestCheckNames(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"example.org", "a-b.c1.test", "xn--bcher-kva.example"} {
		if err := CheckDomain(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, d := range []string{"", "org", "Example.org", "-a.org", "a-.org", "a..org", "a.org.", "a_b.org", strings.Repeat("a", 64) + ".org"} {
		if CheckDomain(d) == nil {
			t.Errorf("%q accepted", d)
		}
	}
	for _, a := range []string{"alice@example.org", "Ünïcode.name+tag@example.org"} {
		if err := CheckAddress(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"alice", "@example.org", "a b@example.org", "a@b@example.org", "alice@EXAMPLE.org", "<a>@example.org"} {
		if CheckAddress(a) == nil {
			t.Errorf("%q accepted", a)
		}
	}
}
