package testnet

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"umbra/tlscert"
)

// Postfix is a throw-away Postfix on 127.0.0.1, the trusted MTA that the
// legacy tests and `umbra bench mx` run beside Umbra. It runs in the
// foreground as a child process (postfix start-fg) with a configuration,
// queue and mail directory of its own; nothing of the system's
// /etc/postfix is used or changed. It needs root, as Postfix's daemons
// change to the postfix user.
type Postfix struct {
	Dir  string // etc/ (main.cf, master.cf), spool/, data/, mail/ (virtual Maildirs)
	SMTP string // its SMTP listener, 127.0.0.1:port
	Log  string // its log file
	// Cert is its STARTTLS certificate, self-signed for mail.legacy.test.
	Cert *x509.Certificate
	bin  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPostfix starts Postfix with the defaults below overridden by opts
// (main.cf settings: relayhost, smtpd_milters, virtual_mailbox_domains…).
// Virtual mailboxes, if opts configures them, are Maildirs under
// Dir/mail. Stop stops it and removes Dir.
func StartPostfix(opts map[string]string) (*Postfix, error) {
	bin, err := exec.LookPath("postfix")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("testnet: a private Postfix needs root")
	}
	// Postfix's daemons run as the postfix user: the directory must be
	// reachable by it (os.MkdirTemp's parents are).
	dir, err := os.MkdirTemp("", "umbra-postfix-")
	if err != nil {
		return nil, err
	}
	p := &Postfix{Dir: dir, Log: filepath.Join(dir, "maillog"), bin: bin, done: make(chan struct{})}
	if err := p.start(opts); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func (p *Postfix) start(opts map[string]string) error {
	for _, d := range []string{"", "etc", "spool", "mail"} {
		if err := os.MkdirAll(filepath.Join(p.Dir, d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(p.Dir, d), 0o755); err != nil {
			return err
		}
	}
	data := filepath.Join(p.Dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if out, err := exec.Command("chown", "postfix", data, filepath.Join(p.Dir, "mail")).CombinedOutput(); err != nil {
		return fmt.Errorf("testnet: chown postfix: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.SMTP = ln.Addr().String()
	ln.Close()
	etc := filepath.Join(p.Dir, "etc")
	main := map[string]string{
		"compatibility_level":      "3.6",
		"queue_directory":          filepath.Join(p.Dir, "spool"),
		"data_directory":           data,
		"mail_owner":               "postfix",
		"setgid_group":             "postdrop",
		"inet_interfaces":          "127.0.0.1",
		"inet_protocols":           "ipv4",
		"myhostname":               "mail.legacy.test",
		"mydomain":                 "legacy.test",
		"myorigin":                 "legacy.test",
		"mydestination":            "",
		"alias_maps":               "",
		"mynetworks":               "127.0.0.0/8",
		"smtpd_relay_restrictions": "permit_mynetworks, reject",
		"maillog_file":             p.Log,
		"maillog_file_prefixes":    p.Dir,
		"smtp_tls_security_level":  "may",
		"smtp_dns_support_level":   "disabled",
		"smtp_tls_loglevel":        "1",
		"smtpd_tls_security_level": "may",
		"smtpd_tls_chain_files":    filepath.Join(etc, "tls.pem"),
		"smtpd_tls_loglevel":       "1",
		"virtual_mailbox_base":     filepath.Join(p.Dir, "mail"),
		"virtual_uid_maps":         "static:" + idOf("-u"),
		"virtual_gid_maps":         "static:" + idOf("-g"),
	}
	for k, v := range opts {
		main[k] = v
	}
	var mainCf strings.Builder
	for k, v := range main {
		fmt.Fprintf(&mainCf, "%s = %s\n", k, v)
	}
	// Its STARTTLS certificate: self-signed, as SMTP between servers
	// checks none unless MTA-STS or DANE says so.
	pair, err := tlscert.New([]string{"mail.legacy.test"}, 1)
	if err != nil {
		return err
	}
	p.Cert = pair.Leaf
	files := map[string][]byte{
		"main.cf":   []byte(mainCf.String()),
		"master.cf": []byte(p.SMTP + " inet n - n - - smtpd\n" + postfixServices),
		"tls.pem":   append(pair.KeyPEM, pair.CertPEM...),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), content, 0o600); err != nil {
			return err
		}
	}
	for _, name := range []string{"main.cf", "master.cf"} {
		if err := os.Chmod(filepath.Join(etc, name), 0o644); err != nil {
			return err
		}
	}
	if out, err := exec.Command(p.bin, "-c", etc, "post-install", "create-missing").CombinedOutput(); err != nil {
		return fmt.Errorf("testnet: postfix post-install: %v\n%s", err, out)
	}
	p.cmd = exec.Command(p.bin, "-c", etc, "start-fg")
	p.cmd.Dir = "/"
	if err := p.cmd.Start(); err != nil {
		return err
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", p.SMTP); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.Log)
			return fmt.Errorf("testnet: Postfix exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("testnet: Postfix not listening on %s after 30 s", p.SMTP)
		}
	}
}

// Maildir is the Maildir of virtual mailbox name (a virtual_mailbox_maps
// result such as "carol/").
func (p *Postfix) Maildir(name string) string { return filepath.Join(p.Dir, "mail", name) }

// Delivered counts the messages in a Maildir's new/ directory.
func (p *Postfix) Delivered(name string) int {
	ents, _ := os.ReadDir(filepath.Join(p.Maildir(name), "new"))
	return len(ents)
}

// First returns the first message delivered to a Maildir, and whether
// there is one yet.
func (p *Postfix) First(name string) ([]byte, bool) {
	ents, _ := os.ReadDir(filepath.Join(p.Maildir(name), "new"))
	if len(ents) == 0 {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(p.Maildir(name), "new", ents[0].Name()))
	return b, err == nil
}

// Stop stops Postfix, waits for it (killing it after 20 s) and removes
// its directory.
func (p *Postfix) Stop() {
	_ = exec.Command(p.bin, "-c", filepath.Join(p.Dir, "etc"), "stop").Run()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	os.RemoveAll(p.Dir)
}

// idOf is the numeric user (-u) or group (-g) id of postfix, or "" (the
// start then fails with Postfix's own message).
func idOf(which string) string {
	out, err := exec.Command("id", which, "postfix").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// postfixServices is master.cf past the SMTP listener: Debian's services,
// unprivileged where Debian's are chrooted (the queue here is no chroot).
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
