package dnsrec

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"umbra/dnsrec/dnstest"
)

// testRecord returns a valid record for tests with the given policy.
func testRecord(t testing.TB, pol Policy, exp int) *Record {
	return &Record{Version: 1, POKs: []ed25519.PublicKey{testKey(t)}, DX: "dmtp.a.test:26", Policy: pol, ExpDays: exp}
}

func newResolver(srv *dnstest.Server) *Resolver {
	return &Resolver{Server: srv.Addr, Timeout: 2 * time.Second}
}

func TestLookupFound(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	rec := fullRecord(t)
	srv.AddTXT("_dime.a.test", rec.TXT()...)
	srv.AddTXT("_dime.a.test", "v=spf1 -all") // other TXT may share the name
	srv.AddTXT("_dime.a.test", "ver=2 future")
	srv.AddTXT("_dime.signed.test", rec.TXT()...)
	srv.Sign("signed.test")
	// A CNAME to another name, followed as a recursive resolver does; the
	// alias's zone is unsigned, so the chain is not authenticated.
	srv.Add(t, "_dime.alias.test. 300 IN CNAME _dime.signed.test.")
	srv.Add(t, "_dime.alias.signed.test. 300 IN CNAME _dime.signed.test.")
	res := newResolver(srv)

	for _, c := range []struct {
		domain string
		ad     bool
	}{{"a.test", false}, {"A.Test.", false}, {"signed.test", true}, {"alias.test", false}, {"alias.signed.test", true}} {
		ans, err := res.Lookup(context.Background(), c.domain)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", c.domain, err)
		}
		if !reflect.DeepEqual(ans.Record, rec) {
			t.Errorf("Lookup(%s) record %+v, want %+v", c.domain, ans.Record, rec)
		}
		if ans.Authenticated != c.ad {
			t.Errorf("Lookup(%s) Authenticated = %v, want %v", c.domain, ans.Authenticated, c.ad)
		}
		if want := "_dime." + strings.ToLower(strings.TrimSuffix(c.domain, ".")) + "."; ans.Name != want || ans.Server != srv.Addr || len(ans.TXT) != 1 {
			t.Errorf("Lookup(%s) name %q server %q TXT %q", c.domain, ans.Name, ans.Server, ans.TXT)
		}
	}
}

func TestLookupNoRecord(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.Add(t, "_dime.nodata.test. 300 IN A 127.0.0.1")
	srv.AddTXT("_dime.other.test", "v=spf1 -all")
	srv.AddTXT("_dime.other.test", "ver=10 x")
	srv.Sign("signed.test")
	res := newResolver(srv)
	for _, d := range []string{"nxdomain.test", "nodata.test", "other.test", "signed.test"} {
		ans, err := res.Lookup(context.Background(), d)
		if !errors.Is(err, ErrNoRecord) {
			t.Errorf("Lookup(%s) = %v, want ErrNoRecord", d, err)
			continue
		}
		if ans == nil || ans.Record != nil {
			t.Errorf("Lookup(%s): answer %+v, want one without record", d, ans)
			continue
		}
		// An authenticated NXDOMAIN is a proven absence.
		if ans.Authenticated != (d == "signed.test") {
			t.Errorf("Lookup(%s) Authenticated = %v", d, ans.Authenticated)
		}
	}
}

func TestLookupFailures(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.Fail("_dime.servfail.test", dns.RcodeServerFailure)
	srv.Fail("_dime.bogus.test", dns.RcodeServerFailure, dns.ExtendedErrorCodeDNSBogus)
	srv.Fail("_dime.expired.test", dns.RcodeServerFailure, dns.ExtendedErrorCodeSignatureExpired)
	srv.Fail("_dime.stale.test", dns.RcodeServerFailure, dns.ExtendedErrorCodeNoReachableAuthority)
	srv.Fail("_dime.refused.test", dns.RcodeRefused)
	srv.Drop("_dime.timeout.test")
	res := &Resolver{Server: srv.Addr, Timeout: 100 * time.Millisecond}
	for d, want := range map[string]error{
		"servfail.test": ErrTemporary,
		"stale.test":    ErrTemporary,
		"refused.test":  ErrTemporary,
		"timeout.test":  ErrTemporary,
		"bogus.test":    ErrBogus,
		"expired.test":  ErrBogus,
	} {
		ans, err := res.Lookup(context.Background(), d)
		if !errors.Is(err, want) || errors.Is(err, ErrNoRecord) {
			t.Errorf("Lookup(%s) = %v, want %v", d, err, want)
		}
		if ans != nil {
			t.Errorf("Lookup(%s) returned an answer with %v", d, err)
		}
	}
	if n := srv.Queries("udp"); n < 7 {
		t.Errorf("%d UDP queries; the dropped one should have been tried twice", n)
	}

	// A context deadline also ends the look-up.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newResolver(srv).Lookup(ctx, "timeout.test"); !errors.Is(err, ErrTemporary) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Lookup = %v", err)
	}
}

func TestLookupInvalid(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	rec := testRecord(t, PolicyStrict, 30)
	srv.AddTXT("_dime.two.test", rec.TXT()...)
	srv.AddTXT("_dime.two.test", testRecord(t, PolicyStrict, 30).TXT()...)
	srv.AddTXT("_dime.bad.test", strings.Replace(rec.String(), "exp=30", "exp=0", 1))
	// \195 is miekg/dns's escape for the byte 0xC3: Parse must see the byte.
	srv.AddTXT("_dime.escaped.test", rec.String()+` note=caf\195\169`)
	srv.AddTXT("_dime.quoted.test", rec.String()+` note=\"x\"`)
	res := newResolver(srv)

	ans, err := res.Lookup(context.Background(), "two.test")
	if !errors.Is(err, ErrAmbiguous) || ans == nil || len(ans.TXT) != 2 || ans.Record != nil {
		t.Errorf("two records: %v, %+v", err, ans)
	}
	for d, want := range map[string]string{
		"bad.test":     "dnsrec: exp: 0 days is outside 1..365 (in the record at _dime.bad.test.)",
		"escaped.test": "byte " + strconv.Itoa(len(rec.String())+10) + " is 0xc3",
		"quoted.test":  "byte " + strconv.Itoa(len(rec.String())+7) + " is 0x22",
	} {
		ans, err := res.Lookup(context.Background(), d)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%s) = %v, want a ParseError with %q", d, err, want)
		}
		if ans == nil || len(ans.TXT) != 1 || ans.Record != nil {
			t.Errorf("Lookup(%s) answer %+v", d, ans)
		}
	}
}

// TestLookupTruncated: a record too large for the 1232-byte UDP answer
// comes back truncated and is fetched again over TCP (RFC 7766 §5).
func TestLookupTruncated(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	rec := fullRecord(t)
	for len(rec.POKs) < MaxPOKs {
		rec.POKs = append(rec.POKs, testKey(t))
	}
	for len(rec.SOKs) < MaxSOKs {
		rec.SOKs = append(rec.SOKs, testKey(t))
	}
	srv.AddTXT("_dime.big.test", rec.TXT()...)
	srv.Sign("big.test")
	ans, err := newResolver(srv).Lookup(context.Background(), "big.test")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ans.Record, rec) || !ans.Authenticated {
		t.Errorf("record over TCP differs or lost AD: %+v", ans)
	}
	if u, c := srv.Queries("udp"), srv.Queries("tcp"); u != 1 || c != 1 {
		t.Errorf("queries: %d UDP, %d TCP; want 1 and 1", u, c)
	}
}

func TestLookupBadInput(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	res := newResolver(srv)
	for _, d := range []string{"", "a..test", "127.0.0.1", "bücher.test", "a_b.test"} {
		if _, err := res.Lookup(context.Background(), d); err == nil {
			t.Errorf("Lookup(%q) succeeded", d)
		}
	}
	if n := srv.Queries("udp"); n != 0 {
		t.Errorf("%d queries sent for invalid names", n)
	}
	if _, err := (&Resolver{Server: "127.0.0.1"}).Lookup(context.Background(), "a.test"); err == nil || !strings.Contains(err.Error(), "not host:port") {
		t.Errorf("resolver without port: %v", err)
	}
}

func TestResolvConf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for text, want := range map[string]string{
		"search test\nnameserver 127.0.0.9\nnameserver 127.0.0.10\n": "127.0.0.9:53",
		"nameserver ::1\n": "[::1]:53",
	} {
		got, err := (&Resolver{ResolvConf: write("r", text)}).server()
		if err != nil || got != want {
			t.Errorf("server() from %q = %q, %v; want %q", text, got, err, want)
		}
	}
	if _, err := (&Resolver{ResolvConf: write("empty", "search test\n")}).server(); err == nil {
		t.Error("resolv.conf without nameserver accepted")
	}
	if _, err := (&Resolver{ResolvConf: filepath.Join(dir, "missing")}).server(); err == nil {
		t.Error("missing resolv.conf accepted")
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:       "plain",
		`a\"b`:        `a"b`,
		`a\\b`:        `a\b`,
		`caf\195\169`: "caf\xc3\xa9",
		`\000x`:       "\x00x",
		`\256`:        "256",
		`end\`:        `end\`,
		`\12`:         "12",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
