package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"umbra/pgp"
	"umbra/vault"
)

// gnupg is GnuPG with a throw-away home directory: carol's mail program.
type gnupg struct {
	t    *testing.T
	home string
}

func newGnuPG(t *testing.T) *gnupg {
	t.Helper()
	needProgram(t, "gpg")
	g := &gnupg{t: t, home: t.TempDir()}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home)
		cmd.Run()
	})
	return g
}

// run runs gpg non-interactively and returns its output and its status
// lines (--status-fd); it fails the test if gpg fails.
func (g *gnupg) run(stdin []byte, args ...string) (out, status string) {
	g.t.Helper()
	full := append([]string{"--homedir", g.home, "--batch", "--no-tty", "--pinentry-mode", "loopback",
		"--passphrase", "", "--trust-model", "always", "--status-fd", "2"}, args...)
	cmd := exec.Command("gpg", full...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		g.t.Fatalf("gpg %q: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// writeFile writes content to a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var pgpBlock = regexp.MustCompile(`(?s)-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----`)

// TestOpenPGPWithGnuPG: carol, at legacy.test behind a real Postfix, uses
// GnuPG. (a) Her plain message with an Autocrypt header, made from gpg's
// exported key, reaches alice through a.test's MX; alice's reply then goes
// out PGP/MIME encrypted, and gpg decrypts carol's Maildir copy with a good
// signature by alice's key (exported with `umbra keys pgp-export`). (b)
// carol's PGP/MIME and inline messages, made with gpg --encrypt --sign,
// reach alice's mail client decrypted, marked encrypted and signed-good.
// (c) With dark only, the bridge refuses a legacy recipient it has no key
// for with 550 5.7.1 and accepts carol, whom it can encrypt to.
func TestOpenPGPWithGnuPG(t *testing.T) {
	t.Parallel()
	g := newGnuPG(t)
	d, pf := startLegacyWorld(t)
	alice := d.info.Accounts[0]
	pwFile := filepath.Join(filepath.Dir(alice.Dir), alice.Address+".password")

	g.run(nil, "--quick-gen-key", "carol@legacy.test", "future-default", "default", "never")
	carolKey, _ := g.run(nil, "--export", "carol@legacy.test")
	carol, err := pgp.ParsePublicKey([]byte(carolKey), time.Now())
	if err != nil {
		t.Fatalf("gpg's key: %v", err)
	}
	aliceArmored := mustUmbra(t, "keys", "pgp-export", "--dir", alice.Dir, "--password-file", pwFile)
	aliceKey, err := pgp.ParsePublicKey([]byte(aliceArmored), time.Now())
	if err != nil || !aliceKey.HasAddress(alice.Address, time.Now()) {
		t.Fatalf("umbra keys pgp-export: %v\n%s", err, aliceArmored)
	}
	g.run([]byte(aliceArmored), "--import")
	date := time.Now().Format(time.RFC1123Z)
	send := func(name, msg string) {
		t.Helper()
		out, code := swaks(t, pf.SMTP, "--from", "carol@legacy.test", "--to", alice.Address, "--data", "@"+writeFile(t, name, msg))
		if code != 0 {
			t.Fatalf("carol's %s through Postfix: exit %d\n%s", name, code, out)
		}
	}

	// (a) Autocrypt, then an encrypted reply.
	var keydata strings.Builder
	for s := base64.StdEncoding.EncodeToString([]byte(carolKey)); s != ""; {
		n := min(76, len(s))
		keydata.WriteString("\r\n " + s[:n])
		s = s[n:]
	}
	send("autocrypt.eml", "From: Carol <carol@legacy.test>\r\nTo: alice@a.test\r\nSubject: Autocrypt from carol\r\n"+
		"Date: "+date+"\r\nMessage-ID: <ac-1@legacy.test>\r\n"+
		"Autocrypt: addr=carol@legacy.test; prefer-encrypt=mutual; keydata="+keydata.String()+"\r\n\r\nHello Alice, here is my key.\r\n")
	waitMailbox(t, d.bridges[0].b.Store(), "INBOX", "Autocrypt from carol")
	out, code := swaks(t, alice.SMTP, "--auth", "PLAIN", "--auth-user", alice.Username, "--auth-password", alice.Password,
		"--from", alice.Address, "--to", "carol@legacy.test",
		"--header", "Subject: Re: Autocrypt from carol", "--header", "From: Alice <alice@a.test>",
		"--header", "In-Reply-To: <ac-1@legacy.test>", "--body", "Thanks Carol, the shed at six.")
	if code != 0 {
		t.Fatalf("alice's reply: exit %d\n%s", code, out)
	}
	var delivered string
	eventually(t, "carol's Maildir receives alice's reply", func() bool {
		b, ok := pf.First("carol/")
		delivered = string(b)
		return ok
	})
	for _, want := range []string{"multipart/encrypted", "Subject: [...]", "Autocrypt: addr=alice@a.test; prefer-encrypt=mutual; keydata="} {
		if !strings.Contains(delivered, want) {
			t.Errorf("carol's copy lacks %q:\n%s", want, delivered)
		}
	}
	if strings.Contains(delivered, "shed at six") || strings.Contains(delivered, "Re: Autocrypt") {
		t.Errorf("carol's copy shows the body or subject in the clear:\n%s", delivered)
	}
	plain, status := g.run([]byte(pgpBlock.FindString(delivered)), "--decrypt")
	if !strings.Contains(status, "[GNUPG:] GOODSIG ") || !strings.Contains(status, "[GNUPG:] VALIDSIG "+aliceKey.Fingerprint()) {
		t.Errorf("gpg's verdict on alice's signature:\n%s", status)
	}
	if !strings.Contains(plain, "Subject: Re: Autocrypt from carol") || !strings.Contains(plain, "Thanks Carol, the shed at six.") {
		t.Errorf("gpg decrypted:\n%s", plain)
	}
	sent := fetchOf(t, alice, "Sent", "Re: Autocrypt from carol", imap.PartSpecifierHeader)
	if !strings.Contains(sent, "Umbra-Security: legacy; sent OpenPGP-encrypted and signed (openpgp="+aliceKey.Fingerprint()) ||
		!strings.Contains(sent, "to carol@legacy.test;") {
		t.Errorf("the Sent copy's header:\n%s", sent)
	}

	// (b) PGP/MIME and inline from gpg; carol's key imported too (the
	// bridge is running).
	carolArmored, _ := g.run(nil, "--armor", "--export", "carol@legacy.test")
	if got := mustUmbra(t, "keys", "import", "--dir", alice.Dir, "--password-file", pwFile, writeFile(t, "carol.asc", carolArmored)); !strings.Contains(got, carol.Fingerprint()) {
		t.Errorf("umbra keys import: %s", got)
	}
	encrypt := func(text string) string {
		t.Helper()
		out, _ := g.run([]byte(text), "--armor", "--encrypt", "--sign", "--local-user", "carol@legacy.test", "--recipient", alice.Address)
		return out
	}
	head := func(subject string) string {
		return "From: Carol <carol@legacy.test>\r\nTo: alice@a.test\r\nSubject: " + subject + "\r\nDate: " + date + "\r\nMIME-Version: 1.0\r\n"
	}
	send("pgpmime.eml", head("PGP/MIME from carol")+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"+
		"--b1\r\nContent-Type: application/octet-stream\r\n\r\n"+
		encrypt("Content-Type: text/plain; charset=utf-8\r\n\r\nThe eagle lands at dawn.\r\n")+"\r\n--b1--\r\n")
	send("inline.eml", head("Inline from carol")+"Content-Type: text/plain; charset=utf-8\r\n\r\n"+encrypt("The owl flies at dusk.\r\n"))
	for subject, body := range map[string]string{"PGP/MIME from carol": "The eagle lands at dawn.", "Inline from carol": "The owl flies at dusk."} {
		waitMailbox(t, d.bridges[0].b.Store(), "INBOX", subject)
		msg := fetchOf(t, alice, "INBOX", subject, imap.PartSpecifierNone)
		want := "Umbra-Security: legacy; openpgp=encrypted,signed-good(" + carol.Fingerprint() + "); via=a.test; tls=TLS1.3; spf=pass"
		if !strings.HasPrefix(msg, want) {
			t.Errorf("%s: got\n%.300s\nwant prefix %s", subject, msg, want)
		}
		if !strings.Contains(msg, body) || strings.Contains(msg, "BEGIN PGP MESSAGE") {
			t.Errorf("%s: not decrypted:\n%s", subject, msg)
		}
	}

	// (c) Dark only: alice's bridge restarted with the setting on.
	d.bridges[0].close()
	pw, err := readSecretFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rb, err := startBridge(context.Background(), alice.Dir, []byte(pw), d.net.Resolver(), "127.0.0.1:0", "127.0.0.1:0", &on, log)
	if err != nil {
		t.Fatal(err)
	}
	d.bridges[0] = rb // the demo closes it
	rcpt := func(to string) (string, int) {
		return swaks(t, rb.b.SMTPAddr(), "--auth", "PLAIN", "--auth-user", alice.Username, "--auth-password", alice.Password,
			"--from", alice.Address, "--to", to, "--quit-after", "RCPT")
	}
	out, code = rcpt("dave@legacy.test")
	if code == 0 || !strings.Contains(out, "550 5.7.1 dave@legacy.test is not an Umbra address and this account sends only end-to-end encrypted mail (dark only)") {
		t.Errorf("dark only, a legacy recipient without a key: exit %d\n%s", code, out)
	}
	if out, code = rcpt("carol@legacy.test"); code != 0 {
		t.Errorf("dark only, a legacy recipient with a key: exit %d\n%s", code, out)
	}
}

// TestOpenPGPKeyForOlderAccount: an account whose vault has no OpenPGP
// key (made before there was one) gets one when its bridge starts, saved
// in the vault and the provider's key backup, so the next start, `umbra
// keys pgp-export` and a new device use the same.
func TestOpenPGPKeyForOlderAccount(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice := d.info.Accounts[0]
	pwFile := filepath.Join(filepath.Dir(alice.Dir), alice.Address+".password")
	pw, err := readSecretFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(alice.Dir, vaultFile)
	d.bridges[0].close()
	keys, err := vault.Open(path, []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	keys.OpenPGP = nil
	if err := vault.Save(path, []byte(pw), keys); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rb, err := startBridge(context.Background(), alice.Dir, []byte(pw), d.net.Resolver(), "127.0.0.1:0", "127.0.0.1:0", nil, log)
	if err != nil {
		t.Fatal(err)
	}
	d.bridges[0] = rb // the demo closes it
	fp := rb.b.OpenPGPKey().Fingerprint()
	saved, err := vault.Open(path, []byte(pw))
	if err != nil || saved.OpenPGP == nil {
		t.Fatalf("the vault after the bridge's start: %v, OpenPGP key %v", err, saved != nil && saved.OpenPGP != nil)
	}
	if k, err := pgp.ParsePrivateKey(saved.OpenPGP, time.Now()); err != nil || k.Fingerprint() != fp {
		t.Fatalf("the vault's key is not the bridge's %s: %v", fp, err)
	}
	exported, err := pgp.ParsePublicKey([]byte(mustUmbra(t, "keys", "pgp-export", "--dir", alice.Dir, "--password-file", pwFile)), time.Now())
	if err != nil || exported.Fingerprint() != fp {
		t.Fatalf("umbra keys pgp-export: %v", err)
	}
	// The demo's accounts are cautious: a device logged in from the key
	// backup now has the same key.
	if other := secondDevice(t, d, alice.Address, "laptop").b.OpenPGPKey().Fingerprint(); other != fp {
		t.Errorf("a new device's OpenPGP key is %s, not the account's %s", other, fp)
	}
}
