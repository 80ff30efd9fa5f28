package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// postfix is a throw-away Postfix instance on 127.0.0.1, run in the
// foreground as a child of the test with a configuration of its own
// (nothing of the system's /etc/postfix is used or changed).
type postfix struct {
	dir  string // config in dir/etc, queue in dir/spool, mail in dir/mail
	smtp string // its SMTP listener, 127.0.0.1:port
	log  string
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

// opendkim runs OpenDKIM as a signing milter for domain with a new RSA
// key under selector s1, and returns its milter address and the TXT
// record strings to publish at s1._domainkey.<domain>.
func startOpenDKIM(t *testing.T, domain string) (milter string, txt []string) {
	t.Helper()
	bin := needProgram(t, "opendkim")
	gen := needProgram(t, "opendkim-genkey")
	dir := t.TempDir()
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
	port := freeLoopbackPort(t)
	milter = fmt.Sprintf("inet:127.0.0.1:%d", port)
	conf := fmt.Sprintf("Domain %s\nSelector s1\nKeyFile %s\nSocket inet:%d@127.0.0.1\nMode s\n"+
		"Canonicalization relaxed/simple\nInternalHosts 127.0.0.1\nRequireSafeKeys no\nBackground no\nSyslog no\nLogWhy yes\n",
		domain, filepath.Join(dir, "s1.private"), port)
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
	milter, dkimTXT := startOpenDKIM(t, "legacy.test")
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
