package provider_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"

	"umbra/provider/store"
	"umbra/signet"
)

// SGNT, HIST and VRFY are answered from the store: bob rotates his key
// once, and a.test can fetch his current signet, his chain, and learn
// that his first signet is no longer current. The organisation signet is
// served too.
func TestSignetService(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	first := w.bob.Signet
	// Rotate: a new signing and encryption key, custody by the old key.
	_, signing, _ := ed25519.GenerateKey(nil)
	enc, err := signet.KEM().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	req, err := signet.NewRequest(signet.UserFields{
		SigningKey: signing.Public().(ed25519.PublicKey), Enc: enc.PublicKey(), RecoveryKey: first.RecoveryKey,
		Address: w.bob.Address, NotBefore: first.NotBefore, NotAfter: first.NotAfter,
	}, signing, &signet.Successor{Prev: first, Kind: signet.CustodyPrevious, Key: w.bob.Signing})
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.b.Provider.Issue(ctx, w.bob.Address, "", store.ModeParanoid, req)
	if err != nil {
		t.Fatal(err)
	}
	// A request that does not succeed the current signet is refused.
	if _, err := w.b.Provider.Issue(ctx, w.bob.Address, "", store.ModeParanoid, req); err == nil {
		t.Fatal("a second successor of the same signet was certified")
	}

	cl := w.dialB(t)
	got, err := cl.Signet(w.bob.Address, signet.Fingerprint{})
	if err != nil || !bytes.Equal(got, second.Bytes()) {
		t.Fatalf("SGNT bob: %v", err)
	}
	got, err = cl.Signet(w.bob.Address, first.Fingerprint())
	if err != nil || !bytes.Equal(got, first.Bytes()) {
		t.Fatalf("SGNT bob by fingerprint: %v", err)
	}
	bo, _ := w.b.OrgSignet()
	got, err = cl.Signet("b.test", signet.Fingerprint{})
	if err != nil || !bytes.Equal(got, bo.Bytes()) {
		t.Fatalf("SGNT b.test: %v", err)
	}
	hist, err := cl.History(w.bob.Address, signet.Fingerprint{}, signet.Fingerprint{})
	if err != nil || len(hist) != 2 {
		t.Fatalf("HIST: %d signets, %v", len(hist), err)
	}
	var chain []*signet.User
	for _, raw := range hist {
		u, err := signet.ParseUser(raw)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, u)
	}
	if err := signet.VerifyHistory(chain); err != nil {
		t.Fatal(err)
	}
	current, latest, err := cl.Verify(w.bob.Address, first.Fingerprint())
	if err != nil || current || latest != second.Fingerprint() {
		t.Fatalf("VRFY old: current=%v latest=%s err=%v", current, latest, err)
	}
	current, _, err = cl.Verify(w.bob.Address, second.Fingerprint())
	if err != nil || !current {
		t.Fatalf("VRFY new: current=%v err=%v", current, err)
	}
	wantReply(t, "SGNT unknown", func() error { _, err := cl.Signet("nobody@b.test", signet.Fingerprint{}); return err }(), 550, "5.1.1")
	wantReply(t, "SGNT other domain", func() error { _, err := cl.Signet("x@a.test", signet.Fingerprint{}); return err }(), 550, "5.1.2")
}

// Registration refuses a wrong code and a reused one; an unknown address
// has no invitation.
func TestIssueInvitations(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	p := w.b.Provider
	code, err := p.AddUser(ctx, "carol@b.test")
	if err != nil {
		t.Fatal(err)
	}
	_, sk, _ := ed25519.GenerateKey(nil)
	_, rk, _ := ed25519.GenerateKey(nil)
	enc, _ := signet.KEM().GenerateKey()
	org := p.Org().Signet
	req, err := signet.NewRequest(signet.UserFields{SigningKey: sk.Public().(ed25519.PublicKey), Enc: enc.PublicKey(),
		RecoveryKey: rk.Public().(ed25519.PublicKey), Address: "carol@b.test", NotBefore: org.NotBefore, NotAfter: org.NotAfter}, sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue(ctx, "carol@b.test", "WRONG-CODE", store.ModeParanoid, req); err == nil {
		t.Fatal("wrong invitation code accepted")
	}
	if _, err := p.Issue(ctx, "carol@b.test", code, store.ModeParanoid, req); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue(ctx, "carol@b.test", code, store.ModeParanoid, req); err == nil {
		t.Fatal("invitation code reused")
	}
	if _, err := p.Issue(ctx, "dave@b.test", code, store.ModeParanoid, req); err == nil {
		t.Fatal("request for another address accepted")
	}
	if _, err := p.AddUser(ctx, "eve@a.test"); err == nil {
		t.Fatal("b.test invited an a.test address")
	}
}
