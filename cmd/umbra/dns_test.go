package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"umbra/dnsrec"
	"umbra/dnsrec/dnstest"
	"umbra/signet"
)

func dnsTestKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b64(pub)
}

// quoted returns the character-strings of a zone-file TXT line.
func quoted(t *testing.T, out, name string) []string {
	t.Helper()
	i := strings.Index(out, name+" IN TXT ")
	if i < 0 {
		t.Fatalf("no TXT line for %s in\n%s", name, out)
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	parts := strings.Split(line, `"`)
	var txt []string
	for j := 1; j < len(parts); j += 2 {
		txt = append(txt, parts[j])
	}
	return txt
}

func TestDNSRecord(t *testing.T) {
	t.Parallel()
	pok1, pok2, sok := dnsTestKey(t), dnsTestKey(t), dnsTestKey(t)
	fp := signet.FingerprintOf([]byte("org signet"))
	code, out, errOut := umbra(t, "dns", "record", "--domain", "A.Test", "--pok", pok1, "--pok", pok2, "--sok", sok,
		"--dx", "dmtp.a.test:26", "--dmap", "https://dmap.a.test/dmap/v1/", "--fp", fp.String(), "--pol", "mixed", "--exp", "60")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rec, err := dnsrec.Parse(quoted(t, out, "_dime.a.test."))
	if err != nil {
		t.Fatalf("printed record does not parse: %v\n%s", err, out)
	}
	if b64(rec.POKs[0]) != pok1 || b64(rec.POKs[1]) != pok2 || b64(rec.SOKs[0]) != sok || rec.DX != "dmtp.a.test:26" ||
		rec.Fingerprint != fp || rec.Policy != dnsrec.PolicyMixed || rec.ExpDays != 60 || rec.TLSPin != nil {
		t.Errorf("record does not match the flags: %+v", rec)
	}
	if !strings.Contains(out, "; publish at _dime.a.test") || !strings.Contains(out, "60 days") {
		t.Errorf("no explanation line:\n%s", out)
	}

	// Defaults: strict, 30 days; a pin from a certificate file.
	certFile, pin := writeTestCert(t)
	code, out, errOut = umbra(t, "dns", "record", "--domain", "b.test", "--pok", pok1, "--dx", "[::1]:2626", "--tls-cert", certFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rec, err = dnsrec.Parse(quoted(t, out, "_dime.b.test."))
	if err != nil || rec.Policy != dnsrec.PolicyStrict || rec.ExpDays != 30 || b64(rec.TLSPin) != b64(pin) || rec.DX != "[::1]:2626" {
		t.Errorf("defaults: %v, %+v", err, rec)
	}
}

func writeTestCert(t *testing.T) (string, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dmtp.b.test"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, dnsrec.CertificatePin(cert)
}

func TestDNSRecordErrors(t *testing.T) {
	t.Parallel()
	pok := dnsTestKey(t)
	short := b64(make([]byte, 31))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--domain", "a.test", "--dx", "mx.a.test:26"}, "--domain, --pok and --dx are required"},
		{[]string{"--domain", "a.test", "--pok", short, "--dx", "mx.a.test:26"}, "pok: not a 32-byte Ed25519 key in base64 (got 31 bytes)"},
		{[]string{"--domain", "a.test", "--pok", pok, "--dx", "mx.a.test"}, "dx: \"mx.a.test\" has no port"},
		{[]string{"--domain", "a.test", "--pok", pok, "--dx", "mx.a.test:26", "--exp", "400"}, "exp: 400 days is outside 1..365"},
		{[]string{"--domain", "a.test", "--pok", pok, "--dx", "mx.a.test:26 pol=experimental"}, "values contain no spaces"},
		{[]string{"--domain", "a..test", "--pok", pok, "--dx", "mx.a.test:26"}, "empty label"},
		{[]string{"--domain", "a.test", "--pok", pok, "--dx", "mx.a.test:26", "--tls", "x", "--tls-cert", "y"}, "not both"},
	} {
		code, _, errOut := umbra(t, append([]string{"dns", "record"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

func TestDNSCheck(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	pok := dnsTestKey(t)
	good := "ver=1 pok=" + pok + " dx=dmtp.a.test:26 pol=strict exp=30"
	srv.AddTXT("_dime.signed.test", good)
	srv.Sign("signed.test")
	srv.AddTXT("_dime.plain.test", good)
	srv.AddTXT("_dime.bad.test", strings.Replace(good, "exp=30", "exp=0", 1))
	srv.AddTXT("_dime.two.test", good)
	srv.AddTXT("_dime.two.test", good+" sub=relaxed")
	srv.Fail("_dime.servfail.test", dns.RcodeServerFailure)
	srv.Fail("_dime.bogus.test", dns.RcodeServerFailure, dns.ExtendedErrorCodeDNSBogus)

	for _, c := range []struct {
		domain string
		code   int
		want   []string
	}{
		{"signed.test", 0, []string{"DNSSEC   yes", "pok 1    " + pok, "dx       dmtp.a.test:26", "policy   strict", "verdict  OK"}},
		{"plain.test", 0, []string{"DNSSEC   no", "verdict  OK", "tls      no pin", "fp       not given"}},
		{"missing.test", 1, []string{"record   missing", "legacy domain", "no _dime record for missing.test"}},
		{"bad.test", 1, []string{"record   INVALID: field exp: 0 days is outside 1..365"}},
		{"two.test", 1, []string{"AMBIGUOUS: 2 TXT records"}},
		{"servfail.test", 1, []string{"look-up  FAILED", "SERVFAIL"}},
		{"bogus.test", 1, []string{"DNSSEC   FAILED"}},
	} {
		code, out, errOut := umbra(t, "dns", "check", "--dns", srv.Addr, c.domain)
		all := out + errOut
		if code != c.code {
			t.Errorf("check %s: exit %d, want %d\n%s", c.domain, code, c.code, all)
		}
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("check %s: no %q in\n%s", c.domain, w, all)
			}
		}
	}
	if code, _, errOut := umbra(t, "dns", "check", "--dns", srv.Addr, "bad..name"); code != 2 || !strings.Contains(errOut, "empty label") {
		t.Errorf("bad domain: exit %d, %s", code, errOut)
	}
	if code, _, errOut := umbra(t, "dns", "check", "--dns", "127.0.0.1:99999", "a.test"); code != 2 || !strings.Contains(errOut, "port") {
		t.Errorf("bad --dns: exit %d, %s", code, errOut)
	}
}

// TestDNSCheckDowngrade: with --cache, a record that vanishes after it was
// seen is reported as a downgrade, across runs of the command.
func TestDNSCheckDowngrade(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	cache := filepath.Join(t.TempDir(), "policy.json")
	srv.AddTXT("_dime.a.test", "ver=1 pok="+dnsTestKey(t)+" dx=dmtp.a.test:26 pol=strict exp=30")
	code, out, errOut := umbra(t, "dns", "check", "--dns", srv.Addr, "--cache", cache, "a.test")
	if code != 0 || !strings.Contains(out, "cache    dark policy strict in force until") {
		t.Fatalf("first check: exit %d\n%s%s", code, out, errOut)
	}
	srv.Remove("_dime.a.test")
	code, out, errOut = umbra(t, "dns", "check", "--dns", srv.Addr, "--cache", cache, "a.test")
	if code != 1 || !strings.Contains(out, "DOWNGRADE") || !strings.Contains(errOut, "downgrade") {
		t.Fatalf("after removal: exit %d\n%s%s", code, out, errOut)
	}
	// Without the cache the same domain just looks legacy.
	code, out, _ = umbra(t, "dns", "check", "--dns", srv.Addr, "a.test")
	if code != 1 || strings.Contains(out, "DOWNGRADE") || !strings.Contains(out, "legacy domain") {
		t.Fatalf("without cache: exit %d\n%s", code, out)
	}
}

func TestDNSResolverFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":               "",
		"127.0.0.1":      "127.0.0.1:53",
		"127.0.0.1:5353": "127.0.0.1:5353",
		"::1":            "[::1]:53",
		"[::1]":          "[::1]:53",
		"[::1]:5353":     "[::1]:5353",
		"resolver.test":  "resolver.test:53",
	} {
		r, err := dnsResolver(in)
		if err != nil || r.Server != want {
			t.Errorf("dnsResolver(%q) = %+v, %v; want %q", in, r, err, want)
		}
	}
	for _, in := range []string{"127.0.0.1:0", "127.0.0.1:x", ":53", "a b:53"} {
		if r, err := dnsResolver(in); err == nil {
			t.Errorf("dnsResolver(%q) = %+v", in, r)
		}
	}
}
