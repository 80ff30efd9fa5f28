package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestKeyAnchorNeverLoweredSilently: bob's bridge saw a.test's keys
// anchored in DNSSEC. When DNSSEC is stripped from _dime.a.test, mail from
// alice keeps the trust it had, with a warning, and bob is told; when the
// record is removed, mail to alice waits in bob's outbox instead of going
// on weaker grounds (or in the clear), and goes once the record is back.
// What the bridge knew survives its restarts.
func TestKeyAnchorNeverLoweredSilently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPair(t, nil)
	n, bridges := p.net, p.bridges
	n.DNS.Sign("a.test")
	send := func(from, to, subject string) {
		t.Helper()
		msg := "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n\r\nhello\r\n"
		if err := bridges[from].b.Submit(ctx, []string{to}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	security := func(subject string) string {
		t.Helper()
		waitMailbox(t, bridges["bob@b.test"].b.Store(), "INBOX", subject)
		raw := messageText(t, bridges["bob@b.test"].b.Store(), "INBOX", subject)
		for _, line := range strings.Split(raw, "\r\n") {
			if v, ok := strings.CutPrefix(line, "Umbra-Security: "); ok {
				return v
			}
		}
		t.Fatalf("no Umbra-Security field in %q", subject)
		return ""
	}

	send("alice@a.test", "bob@b.test", "one")
	if sec := security("one"); !strings.Contains(sec, "key=chained+dnssec; origin=a.test") {
		t.Fatalf("with DNSSEC: %s", sec)
	}

	// DNSSEC stripped. Bob's bridge restarts (its memory cache gone, what
	// it keeps in its store not).
	n.DNS.Unsign("a.test")
	p.start("bob@b.test")
	send("alice@a.test", "bob@b.test", "two")
	if sec := security("two"); !strings.Contains(sec, "key=chained+dnssec; warning=dnssec-lost") {
		t.Fatalf("DNSSEC stripped: %s", sec)
	}
	waitMailbox(t, bridges["bob@b.test"].b.Store(), "INBOX", "Security warning: the keys of a.test")

	// The record removed: bob's mail to alice waits.
	n.DNS.Remove("_dime.a.test")
	p.start("bob@b.test")
	send("bob@b.test", "alice@a.test", "held for alice")
	bob := bridges["bob@b.test"].b
	deadline := time.Now().Add(time.Minute)
	for {
		entries, err := bob.Store().Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 1 && strings.Contains(entries[0].LastError, "held: the keys of alice@a.test cannot be checked as before (dime-record-gone") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's outbox: %+v", entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitMailbox(t, bob.Store(), "INBOX", "Security warning: the keys of a.test")
	if raw := messageText(t, bob.Store(), "INBOX", "_dime.a.test), which vouches for its keys, is gone"); raw == "" {
		t.Fatal("no notice of the removed record")
	}

	// The record back (and signed): the held message goes.
	node := n.Node("a.test")
	n.DNS.AddTXT("_dime.a.test", node.Record.TXT()...)
	n.DNS.Sign("a.test")
	eventually(t, "the held message did not go", func() bool {
		bob.Flush(ctx)
		entries, err := bob.Store().Outbox(ctx)
		return err == nil && len(entries) == 0
	})
	waitMailbox(t, bridges["alice@a.test"].b.Store(), "INBOX", "held for alice")
}
