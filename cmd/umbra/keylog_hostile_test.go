package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"umbra/bridge/mailstore"
	"umbra/keyfile"
	"umbra/provider"
	"umbra/provider/store/sqlite"
	"umbra/signet"
)

// TestHostileProviderBogusKey: b.test certifies a key for bob that is not
// his, to read what alice seals for him. Served without logging it, every
// correspondent refuses it: alice's mail is not sealed to it, she is told
// why, and bob's own bridge sees that its provider serves a current signet
// whose key is not his. Logged, alice accepts it, but bob's bridge finds
// it in the log at its next audit and tells him in his inbox.
func TestHostileProviderBogusKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPair(t, nil)
	nodes, bridges, accounts := p.nodes, p.bridges, p.accounts
	alice, bob := bridges["alice@a.test"].b, bridges["bob@b.test"].b
	send := func(subject string) {
		msg := "From: <alice@a.test>\r\nTo: <bob@b.test>\r\nSubject: " + subject + "\r\n\r\nfor bob's eyes only\r\n"
		if err := alice.Submit(ctx, []string{"bob@b.test"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// First contact: alice's bridge learns (pins) bob's key.
	send("hello bob")
	waitMailbox(t, bob.Store(), "INBOX", "hello bob")
	a, err := bob.AuditLog(ctx)
	if err != nil || len(a.Alarms) != 0 || a.Checked < 1 {
		t.Fatalf("bob's first audit: %+v, %v", a, err)
	}

	// b.test certifies a key of its own for bob, and serves it as his
	// current signet without logging it.
	bnode := nodes["b.test"]
	sok, err := keyfile.ReadSigning(filepath.Join(bnode.Dir, provider.SOKFile))
	if err != nil {
		t.Fatal(err)
	}
	trusted := false
	bogus := forgeSignet(t, bnode.Provider.Org().Signet, sok, "bob@b.test")
	if _, err := bnode.Provider.Store().Signets().Append(ctx, "bob@b.test", bogus.Fingerprint(), bogus.Bytes()); err != nil {
		t.Fatal(err)
	}
	// Alice's pin of bob's key is fresh: her bridge would seal to it
	// without asking. She asks for his key again (keys refresh).
	pwFile := filepath.Join(accounts, "alice@a.test.password")
	mustUmbra(t, "keys", "refresh", "bob@b.test", "--dir", filepath.Join(accounts, "alice@a.test"), "--password-file", pwFile)
	send("meant for bob")
	waitMailbox(t, alice.Store(), "INBOX", "Undeliverable: meant for bob")
	body := messageText(t, alice.Store(), "INBOX", "Undeliverable: meant for bob")
	if !strings.Contains(body, "not in its provider's transparency log") {
		t.Fatalf("alice's notice does not say why:\n%s", body)
	}
	a, err = bob.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !anyContains(a.Alarms, "serves a current signet for you ("+bogus.Fingerprint().String()+") that is not yours") {
		t.Fatalf("bob's audit with a bogus current signet: %+v", a)
	}

	// Logged too: alice's bridge accepts it now — the log is public — and
	// bob's bridge finds it at the next audit.
	if _, err := bnode.Provider.Keylog().Append(ctx, bogus.Bytes()); err != nil {
		t.Fatal(err)
	}
	a, err = bob.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !anyContains(a.Alarms, "logged a signet for you that is not in your chain: "+bogus.Fingerprint().String()) {
		t.Fatalf("bob's audit missed the logged bogus signet: %+v", a)
	}
	waitMailbox(t, bob.Store(), "INBOX", "Security alarm")
	if st := bob.Status(); st.Audit == nil || len(st.Audit.Alarms) == 0 {
		t.Fatalf("bob's status shows no alarm: %+v", st.Audit)
	}
	// Alice's bridge now finds the bogus key in the log, but it does not
	// descend from the one it pinned: the mail waits, and alice is told how
	// to decide.
	send("still for bob")
	waitMailbox(t, alice.Store(), "INBOX", "Security warning: the key of bob@b.test changed")
	eventually(t, "the message to bob is not held", func() bool {
		entries, err := alice.Store().Outbox(ctx)
		return err == nil && len(entries) == 1 && strings.Contains(entries[0].LastError, "umbra keys trust bob@b.test "+bogus.Fingerprint().String())
	})
	for _, args := range [][]string{
		{"keys", "show", "bob@b.test"},
		{"keys", "trust", "bob@b.test", bogus.Fingerprint().String()},
		{"keys", "show", "bob@b.test"},
	} {
		var out, errOut strings.Builder
		args = append(args, "--dir", filepath.Join(accounts, "alice@a.test"), "--password-file", pwFile)
		if rc := run(args, strings.NewReader(""), &out, &errOut); rc != 0 {
			t.Fatalf("umbra %v: exit %d: %s", args, rc, errOut.String())
		}
		// keys show names the bogus key only once alice trusted it.
		if args[1] == "show" && strings.Contains(out.String(), bogus.Fingerprint().String()) != trusted {
			t.Fatalf("umbra %v (trusted %v): %s", args, trusted, out.String())
		}
		if args[1] == "trust" {
			trusted = true
		}
	}

	// Alice's own audit is clean.
	if a, err := alice.AuditLog(ctx); err != nil || len(a.Alarms) != 0 {
		t.Fatalf("alice's audit: %+v, %v", a, err)
	}
	// umbra keys audit says so, and fails for bob.
	for _, c := range []struct {
		address, want string
		rc            int
	}{{"bob@b.test", "ALARM  b.test logged a signet for you", 1}, {"alice@a.test", "no alarm", 0}} {
		var out, errOut strings.Builder
		if rc := run([]string{"keys", "audit", "--dir", filepath.Join(accounts, c.address)}, strings.NewReader(""), &out, &errOut); rc != c.rc || !strings.Contains(out.String(), c.want) {
			t.Errorf("umbra keys audit for %s: exit %d, want %d\n%s%s", c.address, rc, c.rc, out.String(), errOut.String())
		}
	}
}

// forgeSignet is what a hostile provider makes: a signet for address with
// keys of its own, certified by its SOK, chained to nothing.
func forgeSignet(t *testing.T, org *signet.Org, sok ed25519.PrivateKey, address string) *signet.User {
	t.Helper()
	_, sk, _ := ed25519.GenerateKey(nil)
	_, rk, _ := ed25519.GenerateKey(nil)
	enc, err := signet.KEM().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	req, err := signet.NewRequest(signet.UserFields{
		SigningKey: sk.Public().(ed25519.PublicKey), Enc: enc.PublicKey(), RecoveryKey: rk.Public().(ed25519.PublicKey),
		Address: address, NotBefore: now.Add(-time.Minute), NotAfter: org.NotAfter,
	}, sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := signet.Certify(req, org, sok)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func anyContains(list []string, s string) bool {
	for _, l := range list {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// messageText returns the raw message in mailbox whose raw text contains
// subject.
func messageText(t *testing.T, st *mailstore.Store, mailbox, subject string) string {
	t.Helper()
	ctx := context.Background()
	mb, err := st.Mailbox(ctx, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.List(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		raw, err := st.Content(ctx, m.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), subject) {
			return string(raw)
		}
	}
	t.Fatalf("no %q in %s", subject, mailbox)
	return ""
}

// TestHostileProviderWithholdsNewestSignet: bob rotated his keys, and
// alice's bridge followed his chain to the new key from his mail. b.test
// then serves bob's old signet as his current one again (the newest
// withheld: moved to the front of his chain in the store, so the store's
// Current answers the old one; mail sealed to the new one is still
// accepted). Alice's bridge recognises the
// served signet as an ancestor of the one it verified and seals to the
// newest: bob reads the mail, and alice is not told of a key change.
func TestHostileProviderWithholdsNewestSignet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPair(t, nil)
	const alice, bob = "alice@a.test", "bob@b.test"
	send := p.send
	send(bob, alice, "first contact")
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "first contact")
	p.stop(bob)
	mustUmbra(t, "keys", "rotate", "--dir", p.dir(bob), "--password-file", secretFile(t, string(p.passwords[bob])))
	newest := signetOf(t, p.dir(bob))
	p.start(bob)
	send(bob, alice, "from the new key")
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "from the new key")
	if sec := messageText(t, p.bridges[alice].b.Store(), "INBOX", "from the new key"); !strings.Contains(sec, "signed=bob@b.test; key=chained") {
		t.Fatalf("alice's verdict on bob's rotated key:\n%s", sec)
	}

	// b.test withholds the newest signet.
	db, err := sqlite3.Open("file:" + filepath.Join(p.nodes["b.test"].Dir, provider.DataDir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	fp := newest.Fingerprint()
	err = db.Exec("PRAGMA busy_timeout = 10000; UPDATE signets SET seq = 0 WHERE fingerprint = x'" + hex.EncodeToString(fp[:]) + "'")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	cl := p.bridges[alice].s.cl
	if served, err := cl.Signet(ctx, bob, signet.Fingerprint{}); err != nil || bytes.Equal(served, newest.Bytes()) {
		t.Fatalf("b.test still serves bob's newest signet (%v)", err)
	}

	// Alice's pin is fresh; she asks for bob's key again, and gets the
	// old one.
	mustUmbra(t, "keys", "refresh", bob, "--dir", p.dir(alice), "--password-file", secretFile(t, string(p.passwords[alice])))
	send(alice, bob, "to the newest key")
	waitMailbox(t, p.bridges[bob].b.Store(), "INBOX", "to the newest key")
	for _, s := range []string{"Security warning", "Undeliverable"} {
		if uids := searchSubject(t, p.bridges[alice].b.Store(), s); len(uids) > 0 {
			t.Errorf("alice was told %q", s)
		}
	}
}

// searchSubject lists the INBOX messages of st whose subject contains s.
func searchSubject(t *testing.T, st *mailstore.Store, s string) []uint32 {
	t.Helper()
	ctx := context.Background()
	mb, err := st.Mailbox(ctx, mailstore.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	uids, err := st.Search(ctx, mb.ID, mailstore.FieldSubject, s)
	if err != nil {
		t.Fatal(err)
	}
	return uids
}
