package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"umbra/dmap"
	"umbra/tlscert"
	"umbra/vault"
)

// offlineKeys are the keys of an account whose bridge runs offline.
func offlineKeys(t *testing.T) *vault.Keys {
	t.Helper()
	testKeys(t)
	_, device, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	storage := make([]byte, 32)
	rand.Read(storage)
	return &vault.Keys{Address: "alice@a.test", Device: device, Storage: storage, OpenPGP: aliceKey.PrivateBytes()}
}

// startOffline opens and starts the bridge of the account directory dir
// on ephemeral loopback ports, with a provider that never answers (the
// bridge serves its local copy), and with implicit-TLS IMAP when imaps.
func startOffline(t *testing.T, dir string, keys *vault.Keys, imaps bool) *Bridge {
	t.Helper()
	cl, err := dmap.NewClient("https://127.0.0.1:1", &tls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Dir: dir, Keys: keys, Client: cl, IMAP: "127.0.0.1:0", SMTP: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	}
	if imaps {
		cfg.IMAPS = "127.0.0.1:0"
	}
	b, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		b.Close()
		t.Fatal(err)
	}
	return b
}

// haveIPv6Loopback reports that the machine has ::1.
func haveIPv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// exportedCA is the CA certificate the account directory holds for
// `umbra bridge cert export`, as the only root of a pool.
func exportedCA(t *testing.T, dir string) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s is not one PEM certificate:\n%s", CertFile, data)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return ca, pool
}

// hostOf is the host of a host:port address.
func hostOf(t *testing.T, addr string) string {
	t.Helper()
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// line reads one response line, failing the test on an error.
func line(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	s, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (after %q)", err, s)
	}
	return s
}

// imapLogin logs in on an IMAP connection over TLS, reading the greeting
// first unless greeted (as after STARTTLS), and returns the certificate
// the server showed.
func imapLogin(t *testing.T, c *tls.Conn, b *Bridge, greeted bool) *x509.Certificate {
	t.Helper()
	r := bufio.NewReader(c)
	if !greeted {
		if g := line(t, r); !strings.HasPrefix(g, "* OK") {
			t.Fatalf("greeting %q", g)
		}
	}
	fmt.Fprintf(c, "a LOGIN %s %s\r\n", b.Username(), b.MailPassword())
	if l := line(t, r); !strings.HasPrefix(l, "a OK") {
		t.Fatalf("LOGIN: %q", l)
	}
	return c.ConnectionState().PeerCertificates[0]
}

// starttlsIMAP connects to addr, says STARTTLS and hands the connection to
// TLS with cfg (RFC 9051 §6.2.1).
func starttlsIMAP(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(nc)
	if g := line(t, r); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	io.WriteString(nc, "s STARTTLS\r\n")
	if l := line(t, r); !strings.HasPrefix(l, "s OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	c := tls.Client(nc, cfg)
	if err := c.Handshake(); err != nil {
		t.Fatalf("STARTTLS at %s as %q: %v", addr, cfg.ServerName, err)
	}
	return c
}

// TestCertificateFromExportedCA: the exported CA verifies the certificate
// the bridge serves for localhost, 127.0.0.1 and ::1, with x509.Verify and
// in TLS handshakes trusting that CA alone: STARTTLS on IMAP and SMTP and
// implicit-TLS IMAP, on 127.0.0.1 and on ::1.
func TestCertificateFromExportedCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := startOffline(t, dir, offlineKeys(t), true)
	defer b.Close()
	ca, roots := exportedCA(t, dir)
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 || len(ca.PermittedIPRanges) != 2 {
		t.Errorf("exported CA: IsCA %v pathlen %d key usage %v IP constraints %v", ca.IsCA, ca.MaxPathLen, ca.KeyUsage, ca.PermittedIPRanges)
	}
	served := b.certs.leaf.Leaf
	for _, name := range certHosts {
		if _, err := served.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("x509.Verify %s: %v", name, err)
		}
	}

	want := 1
	if haveIPv6Loopback() {
		want = 2
	}
	imap, smtpAddrs, imaps := b.IMAPAddrs(), b.SMTPAddrs(), b.IMAPSAddrs()
	for _, a := range [][]string{imap, smtpAddrs, imaps} {
		if len(a) != want || hostOf(t, a[0]) != "127.0.0.1" || (want == 2 && (hostOf(t, a[1]) != "::1" || portOf(a[0]) != portOf(a[1]))) {
			t.Errorf("listening on %v, want 127.0.0.1 and ::1 on one port", a)
		}
	}

	for i := range want {
		for _, name := range []string{"localhost", hostOf(t, imap[i])} {
			cfg := &tls.Config{RootCAs: roots, ServerName: name}
			if got := imapLogin(t, starttlsIMAP(t, imap[i], cfg), b, true); !got.Equal(served) {
				t.Errorf("IMAP STARTTLS at %s served another certificate", imap[i])
			}

			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", imaps[i], cfg)
			if err != nil {
				t.Fatalf("implicit TLS at %s as %q: %v", imaps[i], name, err)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			imapLogin(t, c, b, false)
			c.Close()

			sc, err := smtp.Dial(smtpAddrs[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.StartTLS(cfg); err != nil {
				t.Fatalf("SMTP STARTTLS at %s as %q: %v", smtpAddrs[i], name, err)
			}
			if err := sc.Auth(smtp.PlainAuth("", b.Username(), b.MailPassword(), hostOf(t, smtpAddrs[i]))); err != nil {
				t.Errorf("SMTP AUTH at %s: %v", smtpAddrs[i], err)
			}
			sc.Quit()
		}
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// servedLeaf is the certificate the bridge shows in an implicit-TLS
// handshake, trusting its exported CA.
func servedLeaf(t *testing.T, b *Bridge, roots *x509.CertPool) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", b.IMAPSAddrs()[0], &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

// TestCertificatesKeptAcrossRestart: the CA, the served certificate and
// the mail password are the same after a restart.
func TestCertificatesKeptAcrossRestart(t *testing.T) {
	t.Parallel()
	dir, keys := t.TempDir(), offlineKeys(t)
	b := startOffline(t, dir, keys, true)
	ca1, roots := exportedCA(t, dir)
	leaf1, pw1 := servedLeaf(t, b, roots), b.MailPassword()
	b.Close()

	b = startOffline(t, dir, keys, true)
	defer b.Close()
	ca2, _ := exportedCA(t, dir)
	if !ca1.Equal(ca2) {
		t.Error("the CA changed with a restart")
	}
	if !bytes.Equal(servedLeaf(t, b, roots), leaf1) {
		t.Error("the served certificate changed with a restart")
	}
	if b.MailPassword() != pw1 {
		t.Error("the password changed with a restart")
	}
}

// TestOldDirectoryGetsCA: an account directory from before the CA, with a
// self-signed serving certificate only, gets a CA on its next start, whose
// certificate replaces the old one in CertFile and issues what is served.
func TestOldDirectoryGetsCA(t *testing.T) {
	t.Parallel()
	dir, keys := t.TempDir(), offlineKeys(t)
	old, err := tlscert.New(certHosts, 825)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openStore(dir, keys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := errors.Join(s.SetState(ctx, stateLeafKey, old.KeyPEM), s.SetState(ctx, stateLeafCrt, old.CertPEM), s.Close()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertFile), old.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	b := startOffline(t, dir, keys, true)
	defer b.Close()
	ca, roots := exportedCA(t, dir)
	if !ca.IsCA {
		t.Fatal("CertFile still holds the old certificate")
	}
	leaf := servedLeaf(t, b, roots) // verified by the handshake
	if bytes.Equal(leaf, old.Leaf.Raw) {
		t.Error("the old self-signed certificate is still served")
	}
	if pw, _ := Password(keys, 0); b.MailPassword() != pw {
		t.Error("the password changed")
	}
}

// TestCertificateRenewedFromSameCA: a served certificate near its expiry
// is replaced by one from the same CA, at the next start and while the
// bridge runs.
func TestCertificateRenewedFromSameCA(t *testing.T) {
	t.Parallel()
	dir, keys := t.TempDir(), offlineKeys(t)
	b := startOffline(t, dir, keys, false)
	ca := b.certs.ca
	short, err := ca.Issue(certHosts, 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := errors.Join(b.store.SetState(ctx, stateLeafKey, short.KeyPEM), b.store.SetState(ctx, stateLeafCrt, short.CertPEM)); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = startOffline(t, dir, keys, false)
	defer b.Close()
	if !bytes.Equal(b.certs.ca.CertPEM, ca.CertPEM) {
		t.Fatal("a new CA")
	}
	renewed := b.certs.leaf
	if renewed.Leaf.Equal(short.Leaf) || time.Until(renewed.Leaf.NotAfter) < 300*24*time.Hour || renewed.Verify(ca, "localhost", time.Now()) != nil {
		t.Errorf("not renewed from the CA at start: until %v", renewed.Leaf.NotAfter)
	}

	// While running: the next handshake renews it.
	b.certs.mu.Lock()
	b.certs.leaf = short
	b.certs.mu.Unlock()
	got, err := b.certs.getCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.Leaf.Verify(x509.VerifyOptions{DNSName: "::1", Roots: rootsOf(ca)}); err != nil || got.Leaf.Equal(short.Leaf) {
		t.Errorf("not renewed while running: %v", err)
	}
	if kept, err := b.store.GetState(ctx, stateLeafCrt); err != nil || !bytes.Equal(kept, b.certs.leaf.CertPEM) {
		t.Errorf("the renewed certificate is not kept: %v", err)
	}
}

func rootsOf(ca *tlscert.Pair) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Leaf)
	return p
}
