package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"umbra/provider"
	"umbra/tlscert"
)

// postfix is a throw-away Postfix instance on 127.0.0.1, run in the
// foreground as a child of the test with a configuration of its own
// (nothing of the system's /etc/postfix is used or changed).
type postfix struct {
	dir  string // config in dir/etc, queue in dir/spool, mail in dir/mail
	smtp string // its SMTP listener, 127.0.0.1:port
	log  string
	// mailbox is the Maildir of a virtual user, when the test has one.
	mailbox string
}

// postfixOptions are the main.cf settings a test adds (relayhost,
// smtpd_milters, virtual mailboxes …).
type postfixOptions map[string]string

// startPostfix starts Postfix; it stops when the test ends.
func startPostfix(t *testing.T, opts postfixOptions) *postfix {
	t.Helper()
	bin := needProgram(t, "postfix")
	if os.Geteuid() != 0 {
		t.Skip("running a private Postfix needs root")
	}
	// Postfix's daemons run as the postfix user: its directory must be
	// reachable by it, which t.TempDir's 0700 parents are not.
	dir, err := os.MkdirTemp("", "umbra-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"", "etc", "spool", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, d), 0o755)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("chown", "postfix", data, filepath.Join(dir, "mail")).Run(); err != nil {
		t.Fatal(err)
	}
	port := freeLoopbackPort(t)
	p := &postfix{dir: dir, smtp: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "maillog")}
	main := map[string]string{
		"compatibility_level":      "3.6",
		"queue_directory":          filepath.Join(dir, "spool"),
		"data_directory":           data,
		"mail_owner":               "postfix",
		"setgid_group":             "postdrop",
		"inet_interfaces":          "127.0.0.1",
		"inet_protocols":           "ipv4",
		"myhostname":               "mail.legacy.test",
		"mydomain":                 "legacy.test",
		"myorigin":                 "legacy.test",
		"mydestination":            "",
		"mynetworks":               "127.0.0.0/8",
		"smtpd_relay_restrictions": "permit_mynetworks, reject",
		"maillog_file":             p.log,
		"maillog_file_prefixes":    dir,
		"smtp_tls_security_level":  "may",
		"smtp_dns_support_level":   "disabled",
		"smtp_tls_loglevel":        "1",
		"smtpd_tls_security_level": "may",
		"smtpd_tls_chain_files":    filepath.Join(dir, "etc", "tls.pem"),
		"smtpd_tls_loglevel":       "1",
		"virtual_mailbox_base":     filepath.Join(dir, "mail"),
	}
	// Its STARTTLS certificate (self-signed: SMTP between servers checks
	// none unless MTA-STS or DANE says so).
	pair, err := tlscert.New([]string{"mail.legacy.test"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "tls.pem"), append(pair.KeyPEM, pair.CertPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range opts {
		main[k] = v
	}
	var mainCf strings.Builder
	for k, v := range main {
		fmt.Fprintf(&mainCf, "%s = %s\n", k, v)
	}
	master := fmt.Sprintf("%s inet n - n - - smtpd\n", p.smtp) + postfixServices
	for name, content := range map[string]string{"main.cf": mainCf.String(), "master.cf": master} {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	etc := filepath.Join(dir, "etc")
	if out, err := exec.Command(bin, "-c", etc, "post-install", "create-missing").CombinedOutput(); err != nil {
		t.Fatalf("postfix post-install: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-c", etc, "start-fg")
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", etc, "stop").Run()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("Postfix's log:\n%s", b)
		}
	})
	eventually(t, "Postfix listening on "+p.smtp, func() bool {
		c, err := net.Dial("tcp", p.smtp)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
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

// postfixServices is master.cf past the SMTP listener: Debian's services,
// unprivileged where Debian's are chrooted (the test's queue is not a
// chroot).
const postfixServices = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

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
	pf := startPostfix(t, postfixOptions{
		"relayhost":             "[127.0.0.1]:" + portOf(t, d.info.Providers[1].MX),
		"smtpd_milters":         milter,
		"non_smtpd_milters":     milter,
		"milter_default_action": "tempfail",
	})
	out, code := swaks(t, pf.smtp, "--ehlo", "client.legacy.test", "--from", "carol@legacy.test", "--to", "bob@b.test",
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

func portOf(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startLegacyWorld is a demo with a legacy domain beside it: a Postfix
// for legacy.test (carol's virtual Maildir; DKIM verified by OpenDKIM
// with a.test's keys) that relays everything else to a.test's MX, and
// a.test relaying legacy mail to that Postfix, both found by MX records
// and allowed by SPF.
func startLegacyWorld(t *testing.T) (*demo, *postfix) {
	t.Helper()
	d := startTestDemo(t)
	a := d.net.Node("a.test")

	keys := map[string]string{}
	for _, r := range a.DKIM {
		keys[r.Name] = r.TXT
	}
	verifier, _ := startOpenDKIM(t, "legacy.test", keys)
	pf := startPostfix(t, postfixOptions{
		"virtual_mailbox_domains": "legacy.test",
		"virtual_mailbox_maps":    "static:carol/",
		"virtual_uid_maps":        "static:" + postfixID(t, "-u"),
		"virtual_gid_maps":        "static:" + postfixID(t, "-g"),
		"relayhost":               "[127.0.0.1]:" + portOf(t, a.MX),
		"smtpd_milters":           verifier,
		"milter_default_action":   "tempfail",
	})
	pf.mailbox = filepath.Join(pf.dir, "mail", "carol")
	// legacy.test has no _dime record; its MX is Postfix. a.test sends
	// from 127.0.0.1, as its SPF record says.
	d.net.DNS.Add(t, "legacy.test. 300 IN MX 10 mail.legacy.test.")
	d.net.DNS.Add(t, "mail.legacy.test. 300 IN A 127.0.0.1")
	d.net.DNS.AddTXT("a.test.", "v=spf1 ip4:127.0.0.1 -all")
	d.net.DNS.AddTXT("legacy.test.", "v=spf1 ip4:127.0.0.1 -all")
	a.Stop()
	if err := a.Start(func(c *provider.Config) { c.RelayPort, _ = strconv.Atoi(portOf(t, pf.smtp)) }); err != nil {
		t.Fatal(err)
	}
	return d, pf
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
		ents, _ := os.ReadDir(filepath.Join(pf.mailbox, "new"))
		if len(ents) == 0 {
			return false
		}
		b, err := os.ReadFile(filepath.Join(pf.mailbox, "new", ents[0].Name()))
		delivered = string(b)
		return err == nil
	})
	for _, want := range []string{
		"Subject: Tea at the old mill?", "Hello Carol, this left Umbra for the old world.",
		"DKIM-Signature: a=ed25519-sha256;", "DKIM-Signature: a=rsa-sha256;",
	} {
		if !strings.Contains(delivered, want) {
			t.Errorf("carol's copy lacks %q:\n%s", want, delivered)
		}
	}
	if b, _ := os.ReadFile(pf.log); !regexp.MustCompile(`TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.3`).Match(b) {
		t.Errorf("a.test's relay did not use STARTTLS with Postfix:\n%s", b)
	}
	// OpenDKIM's own verdicts on a.test's two signatures.
	ar := regexp.MustCompile(`dkim=pass[^;]*header\.d=a\.test[^;]*header\.a=(ed25519|rsa)-sha256`).FindAllStringSubmatch(delivered, -1)
	if len(ar) != 2 {
		t.Errorf("OpenDKIM did not pass both signatures of a.test (%v):\n%s", ar, delivered)
	}

	out, code := swaks(t, pf.smtp, "--from", "carol@legacy.test", "--to", "alice@a.test",
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

// postfixID is the numeric user (-u) or group (-g) id of postfix.
func postfixID(t *testing.T, which string) string {
	t.Helper()
	out, err := exec.Command("id", which, "postfix").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
