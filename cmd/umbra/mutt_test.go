package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestMuttSends: mutt, in batch mode, sends through alice's bridge with
// a UTF-8 subject and a binary attachment; bob's bridge serves it over IMAP
// with the attachment's bytes intact.
func TestMuttSends(t *testing.T) {
	t.Parallel()
	mutt := needProgram(t, "mutt")
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	dir := t.TempDir()
	attachment := make([]byte, 70_000)
	rand.Read(attachment)
	attFile := filepath.Join(dir, "plan.bin")
	if err := os.WriteFile(attFile, attachment, 0o600); err != nil {
		t.Fatal(err)
	}
	muttrc := filepath.Join(dir, "muttrc")
	rc := fmt.Sprintf(`set from="%s"
set use_from=yes
set smtp_url="smtp://%s@%s/"
set smtp_pass="%s"
set ssl_starttls=no
set ssl_force_tls=no
set smtp_authenticators="plain"
set record=""
set charset="utf-8"
set send_charset="utf-8"
`, alice.Address, strings.Replace(alice.Username, "@", "%40", 1), alice.SMTP, alice.Password)
	if err := os.WriteFile(muttrc, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	subject := "Grüße von mutt ✓"
	cmd := exec.Command(mutt, "-n", "-F", muttrc, "-s", subject, "-a", attFile, "--", bob.Address)
	cmd.Stdin = strings.NewReader("Sent by mutt through the Umbra bridge.\n")
	cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mutt: %v\n%s", err, out)
	}

	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "von mutt")
	c := imapSession(t, bob.IMAP, bob.Username, bob.Password)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "von mutt"}}}, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 1 {
		t.Fatalf("search: %v %v", found, err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(found.AllUIDs()...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	var raw []byte
	for _, b := range msgs[0].BodySection {
		raw = b.Bytes
	}
	hdr, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := new(mime.WordDecoder).DecodeHeader(hdr.Header.Get("Subject")); got != subject {
		t.Errorf("subject %q", got)
	}
	if sec := hdr.Header.Get("Umbra-Security"); !strings.HasPrefix(sec, "encrypted; signed=alice@a.test;") {
		t.Errorf("Umbra-Security %q", sec)
	}
	got := attachmentOf(t, raw, "plan.bin")
	if !bytes.Equal(got, attachment) {
		t.Fatalf("attachment: %d bytes, want the %d sent", len(got), len(attachment))
	}
}
