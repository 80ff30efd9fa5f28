package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestBridgePasswordRotate: `umbra bridge password rotate` beside a
// running bridge. The new password works at IMAP and SMTP within
// seconds, the old one no longer does, the IMAP session logged in with the
// old one is ended, and `bridge password show` prints the new one.
func TestBridgePasswordRotate(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice := d.info.Accounts[0]
	pwFile := filepath.Join(d.dir, "accounts", alice.Address+".password")
	args := []string{"--dir", alice.Dir, "--password-file", pwFile}
	if got := strings.TrimSpace(mustUmbra(t, append([]string{"bridge", "password", "show"}, args...)...)); got != alice.Password {
		t.Fatalf("show: %q, want the running bridge's %q", got, alice.Password)
	}
	old := imapSession(t, alice.IMAP, alice.Username, alice.Password)
	out := mustUmbra(t, append([]string{"bridge", "password", "rotate"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fresh := lines[len(lines)-1]
	if fresh == alice.Password || len(fresh) != 24 {
		t.Fatalf("rotate printed %q", out)
	}
	if got := strings.TrimSpace(mustUmbra(t, append([]string{"bridge", "password", "show"}, args...)...)); got != fresh {
		t.Errorf("show after rotate: %q, want %q", got, fresh)
	}
	// The bridge looks for writes of other processes every second; then the
	// session of the old password ends.
	deadline := time.Now().Add(30 * time.Second)
	for old.Noop().Wait() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the IMAP session of the old password is still open")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := d.bridges[0].b.MailPassword(); got != fresh {
		t.Fatalf("the running bridge's password is %q, want %q", got, fresh)
	}
	c, err := imapclient.DialInsecure(alice.IMAP, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice.Username, alice.Password).Wait(); err == nil {
		t.Error("IMAP accepts the old password")
	}
	imapSession(t, alice.IMAP, alice.Username, fresh)
	if sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password); err == nil {
		sc.Close()
		t.Error("SMTP accepts the old password")
	}
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, fresh)
	if err != nil {
		t.Fatalf("SMTP refuses the new password: %v", err)
	}
	sc.Close()
}
