package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider"
	"umbra/testnet"
	"umbra/tlscert"
)

// startPostfix starts a private Postfix (testnet.StartPostfix) with the
// main.cf settings opts; it stops when the test ends, and its log is
// shown if the test failed.
func startPostfix(t *testing.T, opts map[string]string) *testnet.Postfix {
	t.Helper()
	needProgram(t, "postfix")
	if os.Geteuid() != 0 {
		t.Skip("running a private Postfix needs root")
	}
	pf, err := testnet.StartPostfix(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(pf.Log)
			t.Logf("Postfix's log:\n%s", b)
		}
		pf.Stop()
	})
	return pf
}

// freeLoopbackPort returns a port free on 127.0.0.1 now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startOpenDKIM runs OpenDKIM as a milter for domain and returns its
// milter address. With keys nil it signs, with a new RSA key under
// selector s1, and txt is the record to publish at s1._domainkey.<domain>;
// with keys it only verifies, with those records (name → text) as its
// only DNS, and adds its Authentication-Results as mail.legacy.test.
func startOpenDKIM(t *testing.T, domain string, keys map[string]string) (milter string, txt []string) {
	t.Helper()
	bin := needProgram(t, "opendkim")
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	milter = fmt.Sprintf("inet:127.0.0.1:%d", port)
	conf := fmt.Sprintf("Socket inet:%d@127.0.0.1\nBackground no\nSyslog no\nLogWhy yes\nCanonicalization relaxed/simple\nRequireSafeKeys no\n", port)
	if keys == nil {
		gen := needProgram(t, "opendkim-genkey")
		if out, err := exec.Command(gen, "-D", dir, "-d", domain, "-s", "s1", "-b", "2048").CombinedOutput(); err != nil {
			t.Fatalf("opendkim-genkey: %v\n%s", err, out)
		}
		rec, err := os.ReadFile(filepath.Join(dir, "s1.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(string(rec), -1) {
			txt = append(txt, m[1])
		}
		conf += fmt.Sprintf("Mode s\nDomain %s\nSelector s1\nKeyFile %s\nInternalHosts 127.0.0.1\n", domain, filepath.Join(dir, "s1.private"))
	} else {
		var tk strings.Builder
		for name, v := range keys {
			fmt.Fprintf(&tk, "%s %s\n", strings.TrimSuffix(name, "."), v)
		}
		tkFile := filepath.Join(dir, "testkeys")
		if err := os.WriteFile(tkFile, []byte(tk.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		// Nothing is internal, so mail from 127.0.0.1 is verified, not signed.
		conf += fmt.Sprintf("Mode v\nTestPublicKeys %s\nInternalHosts 192.0.2.1\nAuthservID mail.legacy.test\n", tkFile)
	}
	cf := filepath.Join(dir, "opendkim.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", "-x", cf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("opendkim:\n%s", stderr.String())
		}
	})
	eventually(t, "opendkim listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return milter, txt
}

// TestPostfixToMX: a real Postfix, its mail DKIM-signed by OpenDKIM,
// relays to b.test's MX over STARTTLS; bob's client sees the message with
// Umbra-Security saying TLS 1.3 and SPF, DKIM and DMARC pass.
func TestPostfixToMX(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	bob := d.info.Accounts[1]
	milter, dkimTXT := startOpenDKIM(t, "legacy.test", nil)
	d.net.DNS.AddTXT("s1._domainkey.legacy.test.", dkimTXT...)
	d.net.DNS.AddTXT("legacy.test.", "v=spf1 ip4:127.0.0.1 -all")
	d.net.DNS.AddTXT("_dmarc.legacy.test.", "v=DMARC1; p=reject")
	pf := startPostfix(t, map[string]string{
		"relayhost":             "[127.0.0.1]:" + portOf(d.info.Providers[1].MX),
		"smtpd_milters":         milter,
		"non_smtpd_milters":     milter,
		"milter_default_action": "tempfail",
	})
	out, code := swaks(t, pf.SMTP, "--ehlo", "client.legacy.test", "--from", "carol@legacy.test", "--to", "bob@b.test",
		"--header", "Subject: relayed by Postfix", "--header", "From: Carol <carol@legacy.test>", "--body", "Postfix carried this.")
	if code != 0 {
		t.Fatalf("swaks to Postfix: exit %d\n%s", code, out)
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "relayed by Postfix")
	h := headerOf(t, bob, "relayed by Postfix")
	want := "Umbra-Security: legacy; not end-to-end encrypted; via=b.test; tls=TLS1.3; spf=pass dkim=pass (legacy.test) dmarc=pass\r\n"
	if !strings.HasPrefix(h, want) {
		t.Errorf("header:\n%s\nwant it to start %s", h, want)
	}
	if !strings.Contains(h, "DKIM-Signature:") {
		t.Errorf("OpenDKIM did not sign:\n%s", h)
	}
}

// TestLegacyRoundTrip: alice, in Python's smtplib through her bridge,
// writes to carol, a Postfix user at legacy.test. a.test relays it to
// Postfix (found by its MX record) where OpenDKIM verifies a.test's
// Ed25519 and RSA signatures; carol's reply goes back through Postfix to
// a.test's MX, and alice reads it in Python's imaplib with an
// Umbra-Security field that says it was not end-to-end encrypted. Her
// Sent folder holds one copy that says so too.
func TestLegacyRoundTrip(t *testing.T) {
	t.Parallel()
	python := needProgram(t, "python3")
	d, pf := startLegacyWorld(t)
	alice := d.info.Accounts[0]

	settings := map[string]string{
		"smtp": alice.SMTP, "imap": alice.IMAP, "user": alice.Username, "password": alice.Password,
		"ca": filepath.Join(t.TempDir(), "bridge.pem"), "subject": "Tea at the old mill?", "msgid": "tea-1@a.test",
	}
	mustUmbra(t, "bridge", "cert", "export", "--dir", alice.Dir, settings["ca"])
	sf := filepath.Join(t.TempDir(), "settings.json")
	data, _ := json.Marshal(settings)
	if err := os.WriteFile(sf, data, 0o600); err != nil {
		t.Fatal(err)
	}
	py := func(phase string) map[string]any {
		t.Helper()
		cmd := exec.Command(python, "testdata/legacy_roundtrip.py", sf, phase)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("legacy_roundtrip.py %s: %v\n%s", phase, err, out)
		}
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("legacy_roundtrip.py output %q: %v", out, err)
		}
		return res
	}
	py("send")

	var delivered string
	eventually(t, "carol's Maildir receives alice's message", func() bool {
		b, ok := pf.First("carol/")
		delivered = string(b)
		return ok
	})
	for _, want := range []string{
		"Subject: Tea at the old mill?", "Hello Carol, this left Umbra for the old world.",
		"DKIM-Signature: a=ed25519-sha256;", "DKIM-Signature: a=rsa-sha256;",
	} {
		if !strings.Contains(delivered, want) {
			t.Errorf("carol's copy lacks %q:\n%s", want, delivered)
		}
	}
	if b, _ := os.ReadFile(pf.Log); !regexp.MustCompile(`TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.3`).Match(b) {
		t.Errorf("a.test's relay did not use STARTTLS with Postfix:\n%s", b)
	}
	// OpenDKIM's own verdicts on a.test's two signatures.
	ar := regexp.MustCompile(`dkim=pass[^;]*header\.d=a\.test[^;]*header\.a=(ed25519|rsa)-sha256`).FindAllStringSubmatch(delivered, -1)
	if len(ar) != 2 {
		t.Errorf("OpenDKIM did not pass both signatures of a.test (%v):\n%s", ar, delivered)
	}

	out, code := swaks(t, pf.SMTP, "--from", "carol@legacy.test", "--to", "alice@a.test",
		"--header", "Subject: Re: Tea at the old mill?", "--header", "From: Carol <carol@legacy.test>",
		"--header", "In-Reply-To: <tea-1@a.test>", "--body", "Yes, at four.")
	if code != 0 {
		t.Fatalf("carol's reply through Postfix: exit %d\n%s", code, out)
	}
	res := py("read")
	if sec := res["reply_security"].(string); !strings.HasPrefix(sec, "legacy; not end-to-end encrypted; via=a.test; tls=TLS1.3; spf=pass") {
		t.Errorf("the reply's Umbra-Security: %q", sec)
	}
	if body := res["reply_body"].(string); !strings.Contains(body, "Yes, at four.") {
		t.Errorf("reply body %q", body)
	}
	sent := res["sent_security"].([]any)
	if len(sent) != 1 || !strings.HasPrefix(sent[0].(string), "legacy; sent without end-to-end encryption through your provider a.test") {
		t.Errorf("Sent copies: %q", sent)
	}
}

// startLegacyWorld is a demo with a legacy neighbour (legacyWorld) whose
// Postfix has OpenDKIM verify what it receives, with a.test's keys.
func startLegacyWorld(t *testing.T) (*demo, *testnet.Postfix) {
	t.Helper()
	d := startTestDemo(t)
	keys := map[string]string{}
	for _, r := range d.net.Node("a.test").DKIM {
		keys[r.Name] = r.TXT
	}
	verifier, _ := startOpenDKIM(t, "legacy.test", keys)
	return d, legacyWorld(t, d, map[string]string{"smtpd_milters": verifier, "milter_default_action": "tempfail"}, nil)
}

// legacyWorld gives the demo d a legacy neighbour: legacy.test, with no
// _dime record, whose MX is a private Postfix delivering carol@legacy.test
// (any local part) to a Maildir and relaying everything else to a.test's
// MX; opts adds main.cf settings. a.test is restarted to relay to that
// Postfix's port, with adjust applied to its configuration.
func legacyWorld(t *testing.T, d *demo, opts map[string]string, adjust func(*provider.Config, *testnet.Postfix)) *testnet.Postfix {
	t.Helper()
	a := d.net.Node("a.test")
	main := map[string]string{
		"virtual_mailbox_domains": "legacy.test",
		"virtual_mailbox_maps":    "static:carol/",
		"relayhost":               "[127.0.0.1]:" + portOf(a.MX),
	}
	for k, v := range opts {
		main[k] = v
	}
	pf := startPostfix(t, main)
	// a.test sends from 127.0.0.1, and so does legacy.test, as their SPF
	// records say.
	d.net.DNS.Add(t, "legacy.test. 300 IN MX 10 mail.legacy.test.")
	d.net.DNS.Add(t, "mail.legacy.test. 300 IN A 127.0.0.1")
	d.net.DNS.AddTXT("a.test.", "v=spf1 ip4:127.0.0.1 -all")
	d.net.DNS.AddTXT("legacy.test.", "v=spf1 ip4:127.0.0.1 -all")
	a.Stop()
	if err := a.Start(func(c *provider.Config) {
		c.RelayPort, _ = strconv.Atoi(portOf(pf.SMTP))
		if adjust != nil {
			adjust(c, pf)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return pf
}

// TestLegacyRelayDANE: legacy.test signs its zone and publishes a TLSA
// record for its MX (RFC 7672). With a record that does not match
// Postfix's certificate, a.test holds the mail rather than send it
// unauthenticated or in the clear; once the record matches, the mail
// goes, over TLS authenticated by DANE.
func TestLegacyRelayDANE(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	pf := legacyWorld(t, d, nil, fastRelayRetries)
	d.net.DNS.Sign("legacy.test")
	tlsaName := "_" + portOf(pf.SMTP) + "._tcp.mail.legacy.test."
	wrong := sha256.Sum256([]byte("not Postfix's key"))
	d.net.DNS.Add(t, tlsaName+" 300 IN TLSA 3 1 1 "+hex.EncodeToString(wrong[:]))

	alice := d.info.Accounts[0]
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	msg := "From: alice@a.test\r\nTo: carol@legacy.test\r\nSubject: pinned by DANE\r\n\r\nhello\r\n"
	if err := sendOne(sc, alice.Address, "carol@legacy.test", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	st := d.net.Node("a.test").Provider.Store()
	eventually(t, "a.test's relay refuses the mismatched certificate", func() bool {
		q, err := st.Queue().List(t.Context())
		return err == nil && len(q) == 1 && q[0].Attempts >= 2 && strings.Contains(q[0].LastError, "dane")
	})
	if n := pf.Delivered("carol/"); n != 0 {
		t.Fatalf("%d messages delivered despite the TLSA mismatch", n)
	}
	d.net.DNS.Remove(tlsaName)
	right := sha256.Sum256(pf.Cert.RawSubjectPublicKeyInfo)
	d.net.DNS.Add(t, tlsaName+" 300 IN TLSA 3 1 1 "+hex.EncodeToString(right[:]))
	eventually(t, "delivery once the TLSA record matches", func() bool { return pf.Delivered("carol/") == 1 })
}

// fastRelayRetries makes a.test retry within a second.
func fastRelayRetries(c *provider.Config, _ *testnet.Postfix) {
	c.RetryBase, c.RetryMax = 200*time.Millisecond, 500*time.Millisecond
}

// TestLegacyRelayMTASTS: legacy.test publishes an MTA-STS policy in
// enforce mode (RFC 8461). While the policy lists another exchanger,
// a.test holds the mail; once a new policy (new id) lists Postfix, the
// mail goes over TLS with Postfix's certificate checked for its name.
func TestLegacyRelayMTASTS(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	var policy atomic.Value
	policy.Store("version: STSv1\nmode: enforce\nmx: other.legacy.test\nmax_age: 86400\n")
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "mta-sts.legacy.test" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(policy.Load().(string)))
	}))
	pair, err := tlscert.New([]string{"mta-sts.legacy.test"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := pair.Certificate()
	web.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	web.StartTLS()
	defer web.Close()
	pf := legacyWorld(t, d, nil, func(c *provider.Config, pf *testnet.Postfix) {
		fastRelayRetries(c, pf)
		// Only these two certificates are trusted: the policy server's and
		// Postfix's, both for their own names.
		roots := x509.NewCertPool()
		roots.AddCert(pair.Leaf)
		roots.AddCert(pf.Cert)
		c.RelayRootCAs = roots
		c.MTASTSClient = &http.Client{
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return net.Dial("tcp", web.Listener.Addr().String())
				},
				TLSClientConfig: &tls.Config{RootCAs: roots},
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	d.net.DNS.AddTXT("_mta-sts.legacy.test.", "v=STSv1; id=1")

	alice := d.info.Accounts[0]
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	msg := "From: alice@a.test\r\nTo: carol@legacy.test\r\nSubject: under MTA-STS\r\n\r\nhello\r\n"
	if err := sendOne(sc, alice.Address, "carol@legacy.test", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	st := d.net.Node("a.test").Provider.Store()
	eventually(t, "a.test holds mail the policy does not let it deliver", func() bool {
		q, err := st.Queue().List(t.Context())
		return err == nil && len(q) == 1 && q[0].Attempts >= 2 && strings.Contains(q[0].LastError, "MTA-STS")
	})
	if n := pf.Delivered("carol/"); n != 0 {
		t.Fatalf("%d messages delivered against the policy", n)
	}
	policy.Store("version: STSv1\nmode: enforce\nmx: mail.legacy.test\nmax_age: 86400\n")
	d.net.DNS.Remove("_mta-sts.legacy.test.")
	d.net.DNS.AddTXT("_mta-sts.legacy.test.", "v=STSv1; id=2")
	eventually(t, "delivery under the new policy", func() bool { return pf.Delivered("carol/") == 1 })
}
