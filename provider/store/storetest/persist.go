package storetest

import (
	"bytes"
	"testing"
	"time"

	"umbra/provider/store"
	"umbra/signet"
)

// RunPersistence checks that everything a store acknowledged survives
// Close and a new open, and that the sequences and the queue carry on
// where they stopped. open(t, name) opens the database called name,
// creating it empty the first time; a second call with the same name, after
// the first store was closed, must open the same data.
func RunPersistence(t *testing.T, open func(t *testing.T, name string) store.Store) {
	t.Parallel()
	addr := "alice@example.test"
	code := codeHash("persist")
	s := open(t, "persist")
	ctx := t.Context()
	ok(t, s.Accounts().AddInvited(ctx, addr, code))
	ok(t, s.Accounts().Activate(ctx, addr, code, store.ModeCautious))
	ok(t, s.Accounts().SetKeyBackup(ctx, addr, []byte("backup")))
	ok(t, s.Accounts().AddInvited(ctx, "bob@example.test", codeHash("bob")))
	fps := chain(t, s, addr, 3)
	mail, _, err := deliver(ctx, s.Mailbox(), addr, messageID("m1"), []byte("mail 1"), t0)
	ok(t, err)
	_, err = put(ctx, s.Mailbox(), addr, "prefs", "settings", 0, []byte("p1"))
	ok(t, err)
	last, err := s.Mailbox().Delete(ctx, addr, "prefs", 1, t0)
	ok(t, err)
	held := enqueue(t, s, outbound(1, t0))
	free := enqueue(t, s, outbound(2, t0))
	claimed, err := s.Queue().Claim(ctx, t0, 1, time.Hour, "relay-1")
	ok(t, err)
	if len(claimed) != 1 || claimed[0].ID != held {
		t.Fatalf("claim: %v", ids(claimed))
	}
	rs := store.RemoteSignet{Domain: "example.org", Signet: []byte("org"), Fetched: t0, Expires: t0.Add(time.Hour)}
	ok(t, s.RemoteSignets().Put(ctx, rs))
	phone := addDevice(t, s, addr, "phone")
	laptop := addDevice(t, s, addr, "laptop")
	ok(t, s.Devices().Rename(ctx, addr, phone.ID, "renamed"))
	ok(t, s.Devices().Touch(ctx, addr, phone.ID, t0.Add(time.Hour)))
	ok(t, s.Devices().Revoke(ctx, addr, laptop.ID, t0.Add(time.Hour)))
	sess := session(phone, 1, t0)
	ok(t, s.Sessions().Create(ctx, sess))
	ch := challenge("persist", t0.Add(time.Minute))
	ok(t, s.Challenges().Put(ctx, ch))
	ok(t, s.Close())

	s = open(t, "persist")
	defer s.Close()
	acc, err := s.Accounts().Get(ctx, addr)
	ok(t, err)
	if acc.State != store.StateActive || acc.Mode != store.ModeCautious || string(acc.KeyBackup) != "backup" {
		t.Fatalf("account after reopen: %+v", acc)
	}
	// The invitation code of the invited account still works once.
	ok(t, s.Accounts().Activate(ctx, "bob@example.test", codeHash("bob"), store.ModeParanoid))
	hist, err := s.Signets().History(ctx, addr, signet.Fingerprint{}, signet.Fingerprint{}, 10)
	ok(t, err)
	if len(hist) != 3 || hist[2].Fingerprint != fps[2] {
		t.Fatalf("history after reopen: %d signets", len(hist))
	}
	seq, err := s.Signets().Append(ctx, addr, signet.FingerprintOf(sig(addr, 4)), sig(addr, 4))
	ok(t, err)
	if seq != 4 {
		t.Fatalf("chain after reopen continued at #%d, want 4", seq)
	}
	doc, err := s.Mailbox().Get(ctx, addr, mail)
	ok(t, err)
	if !bytes.Equal(doc.Data, []byte("mail 1")) {
		t.Fatalf("delivered mail after reopen: %+v", doc)
	}
	again, created, err := deliver(ctx, s.Mailbox(), addr, messageID("m1"), []byte("mail 1"), t0)
	ok(t, err)
	if created || again != mail {
		t.Fatalf("redelivery after reopen: %q created %v", again, created)
	}
	pc, err := put(ctx, s.Mailbox(), addr, "prefs", "settings", last.Revision, []byte("p2"))
	ok(t, err)
	if pc.Seq != last.Seq+1 || pc.Revision != last.Revision+1 {
		t.Fatalf("sequence after reopen: %+v, last before %+v", pc, last)
	}

	// A restart resumes the queue: the free entry is claimable at once,
	// the held one when relay-1's lease ends.
	es, err := s.Queue().Claim(ctx, t0.Add(time.Minute), 10, 2*time.Hour, "relay-2")
	ok(t, err)
	if len(es) != 1 || es[0].ID != free {
		t.Fatalf("claim after reopen: %v, want [%d]", ids(es), free)
	}
	es, err = s.Queue().Claim(ctx, t0.Add(time.Hour), 10, time.Minute, "relay-2")
	ok(t, err)
	if len(es) != 1 || es[0].ID != held || es[0].Attempts != 2 {
		t.Fatalf("claim after the lease ended: %+v", es)
	}
	got, err := s.RemoteSignets().Get(ctx, "example.org")
	ok(t, err)
	if !got.Expires.Equal(rs.Expires) {
		t.Fatalf("cached signet after reopen: %+v", got)
	}

	// Devices, sessions and challenges survive; a revocation too.
	dev, err := s.Devices().ByKey(ctx, addr, phone.Key)
	ok(t, err)
	phone.Name, phone.LastSeen = "renamed", t0.Add(time.Hour)
	sameDevice(t, dev, phone, "device after reopen")
	_, err = s.Devices().ByKey(ctx, addr, laptop.Key)
	is(t, err, store.ErrNotFound, "revoked device after reopen")
	is(t, s.Devices().Add(ctx, laptop), store.ErrExists, "re-Add of a revoked key after reopen")
	live(t, s, sess, "session after reopen")
	next := session(phone, 2, t0.Add(time.Minute))
	_, err = s.Sessions().Refresh(ctx, sess.RefreshHash, next)
	ok(t, err)
	live(t, s, next, "refreshed session after reopen")
	c, err := s.Challenges().Take(ctx, ch.Value)
	ok(t, err)
	sameChallenge(t, c, ch, "challenge after reopen")
}
