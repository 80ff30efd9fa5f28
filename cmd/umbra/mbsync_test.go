package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"

	"umbra/bridge"
)

// TestMbsyncReads: isync's mbsync, a mail client from outside the
// project, mirrors bob's mailboxes over IMAP with STARTTLS (trusting the
// certificate `umbra bridge cert export` gives) into a Maildir: alice's
// message arrives with its attachment's bytes intact. Then the flags bob
// sets in the Maildir and a folder he makes there go back through the
// bridge.
func TestMbsyncReads(t *testing.T) {
	t.Parallel()
	mbsync := needProgram(t, "mbsync")
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	dir := t.TempDir()

	attachment := make([]byte, 60_000)
	rand.Read(attachment)
	subject := "Lieferschein für März ✓"
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"The delivery note is attached.\r\n--b1\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Disposition: attachment; filename=\"note.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n",
		alice.Address, bob.Address, mime.QEncoding.Encode("utf-8", subject), wrap76(base64.StdEncoding.EncodeToString(attachment)))
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sendOne(sc, alice.Address, bob.Address, msg.Bytes()); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "Lieferschein")

	_, port, _ := strings.Cut(bob.IMAP, ":")
	maildir := filepath.Join(dir, "mail")
	rc := fmt.Sprintf(`IMAPAccount bob
Host localhost
Port %s
User %s
Pass %s
SSLType STARTTLS
CertificateFile %s
AuthMechs LOGIN

IMAPStore bob-remote
Account bob

MaildirStore bob-local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel bob
Far :bob-remote:
Near :bob-local:
Patterns *
Create Both
Expunge None
Sync All
SyncState *
`, port, bob.Username, bob.Password, filepath.Join(bob.Dir, bridge.CertFile), maildir, maildir)
	if err := os.MkdirAll(maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	rcFile := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		cmd := exec.Command(mbsync, "-c", rcFile, "-a")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	run()

	var file string
	for _, sub := range []string{"new", "cur"} {
		names, _ := filepath.Glob(filepath.Join(maildir, "INBOX", sub, "*"))
		for _, n := range names {
			if raw, err := os.ReadFile(n); err == nil && bytes.Contains(raw, []byte("note.bin")) {
				file = n
			}
		}
	}
	if file == "" {
		t.Fatal("mbsync brought no copy of alice's message into the Maildir INBOX")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := new(mime.WordDecoder).DecodeHeader(hdr.Header.Get("Subject")); got != subject {
		t.Errorf("subject %q, want %q", got, subject)
	}
	if sec := hdr.Header.Get("Umbra-Security"); !strings.HasPrefix(sec, "encrypted; signed=alice@a.test;") {
		t.Errorf("Umbra-Security %q", sec)
	}
	if got := attachmentOf(t, raw, "note.bin"); !bytes.Equal(got, attachment) {
		t.Fatalf("attachment: %d bytes, want the %d sent", len(got), len(attachment))
	}
	for _, special := range []string{"Sent", "Trash", "Archive"} {
		if _, err := os.Stat(filepath.Join(maildir, special, "cur")); err != nil {
			t.Errorf("folder %s not mirrored: %v", special, err)
		}
	}

	// Bob reads and flags it in the Maildir (Maildir info ":2,FS") and
	// makes a folder; the next run pushes both.
	base, _, _ := strings.Cut(filepath.Base(file), ":")
	if err := os.Rename(file, filepath.Join(maildir, "INBOX", "cur", base+":2,FS")); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, "Deliveries", sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	run()
	c := imapSession(t, bob.IMAP, bob.Username, bob.Password)
	if flags := mailboxState(t, c, "INBOX")[subject]; !slices.Contains(flags, imap.FlagSeen) || !slices.Contains(flags, imap.FlagFlagged) {
		t.Errorf("flags on the bridge after mbsync pushed them: %v", flags)
	}
	if mailboxState(t, c, "Deliveries") == nil {
		t.Error("the folder made in the Maildir was not created on the bridge")
	}
}

// wrap76 breaks base64 text into lines of 76 characters (RFC 2045 §6.8).
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// attachmentOf returns the decoded body of the part of raw whose file name
// is name.
func attachmentOf(t *testing.T, raw []byte, name string) []byte {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	err = e.Walk(func(path []int, part *message.Entity, err error) error {
		if _, params, _ := part.Header.ContentDisposition(); params["filename"] == name {
			got, err = io.ReadAll(part.Body)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
