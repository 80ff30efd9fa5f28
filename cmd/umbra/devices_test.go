package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapSession logs in to a bridge over IMAP.
func imapSession(t *testing.T, addr, user, password string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// mailboxState is what one mailbox shows: subject → flags.
func mailboxState(t *testing.T, c *imapclient.Client, mailbox string) map[string][]imap.Flag {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil // not there (yet)
	}
	out := map[string][]imap.Flag{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		// \Recent is this session's news, not the message's state
		// (RFC 3501 §2.3.2): a message another device moved here is
		// recent on this one.
		f := slices.DeleteFunc(slices.Clone(m.Flags), func(f imap.Flag) bool { return f == `\Recent` })
		slices.Sort(f)
		out[m.Envelope.Subject] = f
	}
	return out
}

// eventually polls cond for up to a minute: a bound for a loaded CI
// machine, not a timing assertion (convergence takes well under a second
// on an idle one).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
	}
}

// TestTwoDevicesConverge: bob's second device follows the first's flags,
// new folder, move, folder rename and deletion, pushed through the sync
// API, within seconds.
func TestTwoDevicesConverge(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	bob := d.info.Accounts[1]
	rb := secondDevice(t, d, bob.Address, "phone")

	one := imapSession(t, bob.IMAP, bob.Username, bob.Password)
	two := imapSession(t, rb.b.IMAPAddr(), rb.b.Username(), rb.b.MailPassword())
	eventually(t, "the welcome message on both devices", func() bool {
		return len(mailboxState(t, one, "INBOX")) == 1 && len(mailboxState(t, two, "INBOX")) == 1
	})

	// Device one: flag, new folder, move.
	if _, err := one.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
	if err := one.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := one.Create("Projekte", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := one.Move(all, "Projekte").Wait(); err != nil {
		t.Fatal(err)
	}
	want := []imap.Flag{imap.FlagFlagged, imap.FlagSeen}
	eventually(t, "device two shows the message flagged in Projekte", func() bool {
		st := mailboxState(t, two, "Projekte")
		for _, f := range st {
			return slices.Equal(f, want) && len(mailboxState(t, two, "INBOX")) == 0
		}
		return false
	})

	// Device two renames the folder; device one follows, message included.
	if err := two.Rename("Projekte", "Archiv-2026", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "device one shows the renamed folder with the message", func() bool {
		return len(mailboxState(t, one, "Archiv-2026")) == 1 && mailboxState(t, one, "Projekte") == nil
	})

	// Device one deletes it; device two follows.
	if _, err := one.Select("Archiv-2026", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := one.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := one.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "device two no longer has the message", func() bool {
		st := mailboxState(t, two, "Archiv-2026")
		return st != nil && len(st) == 0
	})
}

// TestKeyChangeShown: when the author's signet does not descend from the
// one bob's bridge saw for that address before, the message still comes,
// marked key=changed.
func TestKeyChangeShown(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	st := d.bridges[1].b.Store()
	waitMailbox(t, st, "INBOX", "Welcome to Umbra")
	ctx := context.Background()
	pin, err := st.GetState(ctx, "contact:alice@a.test")
	if err != nil || len(pin) != 32+8 { // the fingerprint and the time (bridge/pinsync.go)
		t.Fatalf("alice's key was not pinned on first sight: %x %v", pin, err)
	}
	// As if bob had seen another key for alice before.
	if err := st.SetState(ctx, "contact:alice@a.test", make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sendOne(sc, alice.Address, bob.Address, []byte("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: new key?\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, st, "INBOX", "new key?")
	if h := headerOf(t, bob, "new key?"); !strings.Contains(h, "Umbra-Security: encrypted; signed=alice@a.test; key=changed") {
		t.Errorf("header:\n%s", h)
	}
}
