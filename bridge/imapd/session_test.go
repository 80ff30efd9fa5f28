package imapd

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"umbra/ratelimit"
)

func TestNewNeedsStoreAndCredentials(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Username: testUser, Password: testPass}); err == nil {
		t.Error("New without a store succeeded")
	}
	e := start(t, nil)
	if _, err := New(Options{Store: e.store, Username: testUser}); err == nil {
		t.Error("New without a password succeeded")
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := start(t, nil)

	// The account address is case-insensitive.
	c := e.dial(t, nil)
	if err := c.Login(strings.ToUpper(testUser), testPass).Wait(); err != nil {
		t.Fatalf("good login: %v", err)
	}
	caps := c.Caps()
	for _, want := range []imap.Cap{imap.CapIMAP4rev1, imap.CapIMAP4rev2, imap.CapIdle, imap.CapUIDPlus,
		imap.CapMove, imap.CapSpecialUse, imap.CapNamespace, imap.CapUnselect, imap.CapEnable,
		imap.CapLiteralMinus, imap.CapStatusSize, imap.CapListStatus, imap.CapESearch} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing from %v", want, caps)
		}
	}
	if limit, ok := caps.AppendLimit(); !ok || limit == nil || *limit != appendLimit {
		t.Errorf("APPENDLIMIT = %v, %v; want %d", limit, ok, appendLimit)
	}

	for _, bad := range [][2]string{{testUser, "wrong"}, {"mallory@a.test", testPass}, {testUser, ""}} {
		c := e.dial(t, nil)
		err := c.Login(bad[0], bad[1]).Wait()
		wantCode(t, err, imap.ResponseCodeAuthenticationFailed)
		// Still not authenticated: a command needing a login fails.
		if _, err := c.Select("INBOX", nil).Wait(); err == nil {
			t.Errorf("SELECT after failed login %q succeeded", bad)
		}
	}
}

func TestAuthenticatePlain(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.dial(t, nil)
	if !c.Caps().Has("AUTH=PLAIN") {
		t.Fatalf("AUTH=PLAIN not advertised: %v", c.Caps())
	}
	if err := c.Authenticate(sasl.NewPlainClient("", testUser, "nope")); err == nil {
		t.Fatal("AUTHENTICATE PLAIN with a wrong password succeeded")
	}
	if err := c.Authenticate(sasl.NewPlainClient("", testUser, testPass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	cert, leaf := selfSigned(t)
	e := start(t, func(o *Options) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// Without a TLS configuration STARTTLS is not offered.
	plain := start(t, nil).dial(t, nil)
	if plain.Caps().Has(imap.CapStartTLS) {
		t.Error("STARTTLS advertised without a TLS configuration")
	}
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	c := start(t, nil).login(t, nil)
	ns, err := c.Namespace().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Personal) != 1 || ns.Personal[0].Prefix != "" || ns.Personal[0].Delim != '/' || ns.Other != nil || ns.Shared != nil {
		t.Errorf("NAMESPACE = %+v", ns)
	}
}

func TestCloseEndsSessions(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.selectBox(t, "INBOX", nil)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	<-c.Closed()
	if err := e.srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestLoginGuessingCapped: failed LOGINs are answered ever more slowly,
// and past the guard's burst every LOGIN — the right password too — is
// refused with NO [UNAVAILABLE] before the password is checked (issue 11).
func TestLoginGuessingCapped(t *testing.T) {
	t.Parallel()
	g := ratelimit.NewGuard(ratelimit.Limit{Burst: 3, Every: time.Hour}, nil)
	g.MinDelay, g.MaxDelay = time.Millisecond, 4*time.Millisecond
	e := start(t, func(o *Options) { o.Guard = g })
	for range 3 {
		wantCode(t, e.dial(t, nil).Login(testUser, "guess").Wait(), imap.ResponseCodeAuthenticationFailed)
	}
	for _, pw := range []string{"guess", testPass} {
		wantCode(t, e.dial(t, nil).Login(testUser, pw).Wait(), imap.ResponseCodeUnavailable)
	}
}
