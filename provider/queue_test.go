package provider_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
	"umbra/testnet"
)

// waitQueue polls a node's queue until cond holds for its entries.
func waitQueue(t *testing.T, nd *testnet.Node, what string, cond func([]store.QueueEntry) bool) []store.QueueEntry {
	t.Helper()
	return waitQueueFor(t, nd, time.Minute, what, cond)
}

func waitQueueFor(t *testing.T, nd *testnet.Node, limit time.Duration, what string, cond func([]store.QueueEntry) bool) []store.QueueEntry {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		q, err := nd.Provider.Store().Queue().List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cond(q) {
			return q
		}
		if time.Now().After(deadline) {
			first := "none"
			if len(q) > 0 {
				first = fmt.Sprintf("%+v", q[0])
			}
			t.Fatalf("queue never reached %s in %v: %d entries, the first %s", what, limit, len(q), first)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A destination whose certificate does not match the pinned key gets
// nothing: the message stays queued, the error says why, and c.test never
// sees it.
func TestPinMismatchHoldsMail(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c, err := w.net.AddProvider("c.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(nil); err != nil {
		t.Fatal(err)
	}
	carol, err := c.NewUser(context.Background(), "carol@c.test")
	if err != nil {
		t.Fatal(err)
	}
	// Republish c.test's record with another pin: an attacker's, or a
	// stale one.
	rec := *c.Record
	rec.TLSPin = make([]byte, 32)
	rand.Read(rec.TLSPin)
	w.net.DNS.Remove("_dime.c.test")
	w.net.DNS.AddTXT("_dime.c.test", rec.TXT()...)

	msg, err := testnet.Seal(w.alice, w.a, carol, c, mimeMessage("pinned", "body"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.Provider.Submit(context.Background(), w.alice.Address, bytes.NewReader(msg), int64(len(msg))); err != nil {
		t.Fatal(err)
	}
	waitQueue(t, w.a, "a pin error recorded", func(q []store.QueueEntry) bool {
		return len(q) == 1 && q[0].Attempts >= 2 && strings.Contains(q[0].LastError, "pin")
	})
	ch, err := c.Provider.Store().Mailbox().Changes(context.Background(), carol.Address, 0, 10)
	if err != nil || len(ch) != 0 {
		t.Fatalf("carol has %d documents (%v), want 0", len(ch), err)
	}
}

// A message to a domain without a _dime record bounces at once; one to a
// dark domain that stays unreachable bounces after the queue's maximum
// age. Each bounce is a notice sealed to the author, in her mailbox.
func TestBounces(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.a.Stop()
	if err := w.a.Start(func(c *provider.Config) {
		fastRetries(c)
		c.QueueMaxAge = 2 * time.Second
	}); err != nil {
		t.Fatal(err)
	}
	// An unreachable dark domain: published, never started.
	if _, err := w.net.AddProvider("down.test"); err != nil {
		t.Fatal(err)
	}
	bo, err := w.b.OrgSignet()
	if err != nil {
		t.Fatal(err)
	}
	bob := dmime.Party{Address: w.bob.Address, Fingerprint: w.bob.Signet.Fingerprint(), Enc: w.bob.Signet.Enc}
	for _, domain := range []string{"nowhere.test", "down.test"} {
		dest := *bo
		dest.Domain = domain
		rcpt := bob
		rcpt.Address = "x@" + domain
		msg := w.sealWith(t, rcpt, &dest, nil)
		if _, err := w.a.Provider.Submit(context.Background(), w.alice.Address, bytes.NewReader(msg), int64(len(msg))); err != nil {
			t.Fatal(err)
		}
	}
	waitQueue(t, w.a, "empty after bounces", func(q []store.QueueEntry) bool { return len(q) == 0 })

	got := map[string]string{}
	for _, mime := range openMail(t, w.a, w.alice.Address, w.alice) {
		for _, domain := range []string{"nowhere.test", "down.test"} {
			if strings.Contains(mime, "Your message to a recipient at "+domain+" could not be delivered") {
				got[domain] = mime
			}
		}
	}
	if !strings.Contains(got["nowhere.test"], "no _dime record") || got["down.test"] == "" || len(got) != 2 {
		t.Fatalf("bounce notices %q", got)
	}
	for _, mime := range got {
		if !strings.Contains(mime, "Content-Type: multipart/report; report-type=delivery-status") || !strings.Contains(mime, "Action: failed") {
			t.Errorf("not a DSN:\n%s", mime)
		}
	}
	// Nobody but alice can open them: bob's key fails.
	if n := len(openMail(t, w.a, w.alice.Address, w.bob)); n != 0 {
		t.Fatalf("bob opened %d of alice's notices", n)
	}
}

// openMail returns the MIME of every message in mailbox at nd that u's
// key opens, with the author checked as nd's own provider.
func openMail(t *testing.T, nd *testnet.Node, mailbox string, u *testnet.User) []string {
	t.Helper()
	ctx := context.Background()
	st := nd.Provider.Store()
	ch, err := st.Mailbox().Changes(ctx, mailbox, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	org := nd.Provider.Org().Signet
	var out []string
	for _, c := range ch {
		if c.Kind != store.KindMail || c.Deleted {
			continue
		}
		doc, err := st.Mailbox().Get(ctx, mailbox, c.DocID)
		if err != nil {
			t.Fatal(err)
		}
		var mime bytes.Buffer
		_, err = dmime.Open(bytes.NewReader(doc.Data), dmime.RoleRecipient, u.Enc, dmime.OpenOptions{
			MIME: &mime, Recipient: u.Address, OriginKeys: org.MessageKeys(),
			AuthorKey: func(string, signet.Fingerprint, *dmime.Carried) (ed25519.PublicKey, error) {
				return org.MessageKeys()[0], nil
			},
		})
		if err == nil {
			out = append(out, mime.String())
		}
	}
	return out
}

// The origin's signet has expired by the destination's clock: refused at
// MAIL FROM, before the body is sent.
func TestExpiredOriginSignet(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.b.Stop()
	later := func() time.Time { return time.Now().Add(40 * 24 * time.Hour) } // past a.test's 30 days
	if err := w.b.Start(func(c *provider.Config) { c.Now = later }); err != nil {
		t.Fatal(err)
	}
	wantReply(t, "expired origin signet", w.dialB(t).Mail("a.test", [32]byte{}), 550, "5.7.0")
}

// b.test's _dime record vanishes after a.test has seen it dark: mail to
// b.test is held with a downgrade error, neither bounced nor sent
// elsewhere, and goes out once the record is back.
func TestVanishedRecordHoldsMail(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	send := func(subject string) {
		msg, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mimeMessage(subject, "body"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.a.Provider.Submit(ctx, w.alice.Address, bytes.NewReader(msg), int64(len(msg))); err != nil {
			t.Fatal(err)
		}
	}
	send("first")
	waitMail(t, w.b.Provider.Store(), w.bob.Address, 1)
	// b stores before a learns of it: wait for a to drop the entry too, or
	// the restart below retries it into the downgrade hold as well.
	waitQueue(t, w.a, "an empty queue", func(q []store.QueueEntry) bool { return len(q) == 0 })
	w.net.DNS.Remove("_dime.b.test")
	// Restart a.test so that no in-memory look-up hides the change; its
	// policy cache on disk remembers b.test as dark.
	w.a.Stop()
	if err := w.a.Start(fastRetries); err != nil {
		t.Fatal(err)
	}
	send("second")
	waitQueue(t, w.a, "a downgrade error", func(q []store.QueueEntry) bool {
		return len(q) == 1 && q[0].Attempts >= 2 && strings.Contains(q[0].LastError, "downgrade")
	})
	w.net.DNS.AddTXT("_dime.b.test", w.b.Record.TXT()...)
	waitMail(t, w.b.Provider.Store(), w.bob.Address, 2)
}
