package main

import (
	"net/smtp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge"
)

// TestOfflineOutbox: with alice's provider down, her bridge still serves
// IMAP from its local copy and accepts mail into its outbox; when the
// provider is back the message goes, and bob gets it.
func TestOfflineOutbox(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "Welcome to Umbra")
	a := d.net.Node("a.test")
	a.Stop()

	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	msg := "From: alice@a.test\r\nTo: bob@b.test\r\nSubject: sent while offline\r\n\r\nqueued\r\n"
	if err := sendOne(sc, alice.Address, bob.Address, []byte(msg)); err != nil {
		t.Fatalf("submission while the provider is down: %v", err)
	}
	// IMAP serves the local copy: the welcome message and the new one in Sent.
	c := imapSession(t, alice.IMAP, alice.Username, alice.Password)
	st, err := c.Status("Sent", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 2 {
		t.Fatalf("Sent while offline: %v %v", st, err)
	}
	eventually(t, "the outbox holds the message", func() bool {
		s := d.bridges[0].b.Status()
		return s.Outbox == 1 && !s.Online
	})
	status, err := bridge.ReadStatus(alice.Dir)
	if err != nil || status.LastError == "" {
		t.Fatalf("status while offline: %+v %v", status, err)
	}

	if err := a.Start(nil); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "sent while offline")
	eventually(t, "the outbox is empty", func() bool { return d.bridges[0].b.Status().Outbox == 0 })
}

// loginAuth is the client side of SASL LOGIN, which net/smtp lacks.
type loginAuth struct{ user, password string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }
func (a loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	switch {
	case !more:
		return nil, nil
	case strings.HasPrefix(string(fromServer), "Username"):
		return []byte(a.user), nil
	default:
		return []byte(a.password), nil
	}
}

// TestSubmissionAuth: AUTH PLAIN after STARTTLS and AUTH LOGIN work, a
// wrong password is refused with 535, and nothing is accepted before AUTH.
func TestSubmissionAuth(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice := d.info.Accounts[0]
	dial := func() *smtp.Client {
		sc, err := smtp.Dial(alice.SMTP)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sc.Close() })
		return sc
	}
	sc := dial()
	if err := sc.Mail(alice.Address); err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("MAIL before AUTH: %v", err)
	}
	// PLAIN after STARTTLS; then LOGIN in plaintext, which loopback allows.
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	sc.Close()
	sc = dial()
	if err := sc.Auth(loginAuth{alice.Username, alice.Password}); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	sc = dial()
	if err := sc.Auth(loginAuth{alice.Username, "wrong"}); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("AUTH LOGIN with a wrong password: %v", err)
	}
}
