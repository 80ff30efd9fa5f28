package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"umbra/bridge"
	"umbra/signet"
	"umbra/vault"
)

// TestKeysRotateFiveGenerations (issue 12, rotation and forward secrecy):
// alice rotates her keys five times while bob's device is offline
// throughout. Mail bob sealed to her first key before she rotated still
// opens (her vault keeps that key, retired, while the mail waits at the
// provider); once no mail waits, a rotation destroys every retired key,
// and what she received stays readable. Bob's bridge, which pinned her
// first key, then follows the chain of five custody signatures (HIST) to
// her newest key: her mail shows as chained, not as a key change, and his
// reply is sealed to her newest key.
func TestKeysRotateFiveGenerations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPair(t, nil)
	const alice, bob = "alice@a.test", "bob@b.test"
	send := p.send
	pwFile := secretFile(t, string(p.passwords[alice]))
	rotate := func() string {
		t.Helper()
		return mustUmbra(t, "keys", "rotate", "--dir", p.dir(alice), "--password-file", pwFile, "--retire-after", "0s")
	}
	openVault := func() *vault.Keys {
		t.Helper()
		k, err := vault.Open(filepath.Join(p.dir(alice), vaultFile), p.passwords[alice])
		if err != nil {
			t.Fatal(err)
		}
		return k
	}

	// Each pins the other's first key.
	send(alice, bob, "first contact")
	waitMailbox(t, p.bridges[bob].b.Store(), "INBOX", "first contact")
	send(bob, alice, "reply before")
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "reply before")
	first := openVault()
	firstSeed := bytes.Clone(first.Encryption)
	first.Zero()
	failUmbra(t, "is running", "keys", "rotate", "--dir", p.dir(alice), "--password-file", pwFile)

	// Alice away; bob seals a message to her first key; then bob away.
	p.stop(alice)
	send(bob, alice, "sealed to the first key")
	eventually(t, "bob's outbox empties", func() bool {
		p.bridges[bob].b.Flush(ctx)
		o, err := p.bridges[bob].b.Store().Outbox(ctx)
		return err == nil && len(o) == 0
	})
	p.stop(bob)

	// Four rotations: the retired keys stay, the mail waits.
	fps := []signet.Fingerprint{signetOf(t, p.dir(alice)).Fingerprint()}
	for range 4 {
		out := rotate()
		// At least bob's message waits (alice's bridge may have stopped
		// before it pushed the conversion of the one before).
		if !strings.Contains(out, "messages wait at the provider") {
			t.Fatalf("keys rotate with mail waiting:\n%s", out)
		}
		fps = append(fps, signetOf(t, p.dir(alice)).Fingerprint())
	}
	k := openVault()
	if len(k.Retired) != 4 || !bytes.Equal(k.Retired[0].Seed, firstSeed) {
		t.Fatalf("after 4 rotations the vault keeps %d retired keys (want 4, the first key first)", len(k.Retired))
	}
	k.Zero()
	// The provider's chain: each signet succeeds the one before.
	u := signetOf(t, p.dir(alice))
	if u.Custody != signet.CustodyPrevious || !u.Prev.Equal(fps[3]) {
		t.Fatalf("the newest signet succeeds %s by %v, want %s by rotation", u.Prev, u.Custody, fps[3])
	}

	// Alice back: the waiting mail opens with her first key, and her
	// bridge converts it to its storage form.
	p.start(alice)
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "sealed to the first key")
	eventually(t, "alice's bridge converts the mail waiting for her", func() bool {
		n, err := bridge.PendingMail(ctx, p.bridges[alice].s.cl)
		return err == nil && n == 0
	})
	p.stop(alice)

	// The fifth rotation: nothing waits, every retired key is destroyed.
	if out := rotate(); !strings.Contains(out, "5 older encryption keys destroyed, 0 kept") {
		t.Fatalf("keys rotate with nothing waiting:\n%s", out)
	}
	fps = append(fps, signetOf(t, p.dir(alice)).Fingerprint())
	k = openVault()
	if len(k.Retired) != 0 {
		t.Fatalf("the vault keeps %d retired keys", len(k.Retired))
	}
	k.Zero()
	assertNoSecrets(t, p.dir(alice), nil, map[string][]byte{"alice's first encryption key": firstSeed})

	// Old mail still opens; bob, back after five generations, follows
	// the chain from the key he pinned to the newest.
	p.start(alice)
	for _, s := range []string{"reply before", "sealed to the first key"} {
		if raw := messageText(t, p.bridges[alice].b.Store(), "INBOX", s); !strings.Contains(raw, "hello") {
			t.Errorf("%q after the rotations: %q", s, raw)
		}
	}
	p.start(bob)
	send(alice, bob, "after five rotations")
	waitMailbox(t, p.bridges[bob].b.Store(), "INBOX", "after five rotations")
	raw := messageText(t, p.bridges[bob].b.Store(), "INBOX", "after five rotations")
	if !strings.Contains(raw, "signed=alice@a.test; key=chained") {
		t.Errorf("bob's verdict on alice's newest key:\n%s", raw)
	}
	bobPW := secretFile(t, string(p.passwords[bob]))
	if out := mustUmbra(t, "keys", "show", alice, "--dir", p.dir(bob), "--password-file", bobPW); !strings.Contains(out, fps[5].String()) {
		t.Errorf("bob's pinned key for alice: %q, want %s", out, fps[5])
	}
	send(bob, alice, "reply after")
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "reply after")
}

// TestRotationInterrupted: a rotation that dies after the provider
// certified the new keys and before the vault took them is finished at
// the bridge's next start, so mail sealed to the new key opens; one that
// dies before the certification leaves the old keys in use.
func TestRotationInterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPair(t, nil)
	const alice, bob = "alice@a.test", "bob@b.test"
	p.stop(alice)
	// interrupted leaves vault.next as rotate writes it and, if certify,
	// has the provider certify its keys.
	interrupted := func(certify bool) ed25519.PublicKey {
		t.Helper()
		info, keys, err := openAccount(p.dir(alice), p.passwords[alice])
		if err != nil {
			t.Fatal(err)
		}
		s := &session{dir: p.dir(alice), info: info, keys: keys}
		if err := s.connect(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.close()
		cur, err := currentSignet(ctx, s.cl, s.ep, alice)
		if err != nil {
			t.Fatal(err)
		}
		next, err := successorKeys(keys, cur.NotBefore)
		if err != nil {
			t.Fatal(err)
		}
		defer next.Zero()
		nextPath := filepath.Join(s.dir, vaultNextFile)
		sealed, err := os.ReadFile(filepath.Join(s.dir, vaultFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(nextPath, sealed, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := vault.Save(nextPath, p.passwords[alice], next); err != nil {
			t.Fatal(err)
		}
		if certify {
			req, err := request(next, cur.RecoveryKey, time.Now(), &signet.Successor{Prev: cur, Kind: signet.CustodyPrevious, Key: keys.Signing})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.cl.Rotate(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		return next.Signing.Public().(ed25519.PublicKey)
	}
	signing := func() ed25519.PublicKey {
		t.Helper()
		k, err := vault.Open(filepath.Join(p.dir(alice), vaultFile), p.passwords[alice])
		if err != nil {
			t.Fatal(err)
		}
		defer k.Zero()
		return k.Signing.Public().(ed25519.PublicKey)
	}
	before := signing()

	// Died before the provider certified: the next keys are dropped.
	interrupted(false)
	p.start(alice)
	if _, err := os.Stat(filepath.Join(p.dir(alice), vaultNextFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an uncertified vault.next stays: %v", err)
	}
	if !signing().Equal(before) {
		t.Fatal("the vault took keys the provider never certified")
	}
	p.stop(alice)

	// Died after: the next start takes them, and mail sealed to them opens.
	want := interrupted(true)
	p.start(alice)
	if !signing().Equal(want) {
		t.Fatal("the bridge's start did not finish the rotation")
	}
	msg := "From: <bob@b.test>\r\nTo: <alice@a.test>\r\nSubject: to the new key\r\n\r\nhello\r\n"
	if err := p.bridges[bob].b.Submit(ctx, []string{alice}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "to the new key")
}

// TestKeysRotateTwoDevices: alice rotates on her first device while her
// laptop's bridge runs. The laptop takes the new keys from the keyring
// document (sealed under the storage key) and saves them in its vault:
// with her first device stopped, it opens bob's mail sealed to the new
// key, and its own mail to bob is signed with the new key, which bob's
// bridge follows from the one it pinned. Her first device then has the
// mail the laptop received. The provider never sees the keys: its files
// hold neither seed.
func TestKeysRotateTwoDevices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	laptop := secondDevice(t, d, alice.Address, "laptop")
	laptopDir := filepath.Join(d.dir, "accounts", alice.Address+"-laptop")
	pwFile := filepath.Join(d.dir, "accounts", alice.Address+".password")
	pw, err := readSecretFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", welcomeSubject) // bob pinned alice's key
	send := func(rb *runningBridge, from, to, subject string) {
		t.Helper()
		msg := "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n\r\nhello\r\n"
		if err := rb.b.Submit(ctx, []string{to}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	vaultOf := func(dir string) *vault.Keys {
		t.Helper()
		k, err := vault.Open(filepath.Join(dir, vaultFile), []byte(pw))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}

	if err := d.bridges[0].close(); err != nil {
		t.Fatal(err)
	}
	d.bridges[0] = nil
	mustUmbra(t, "keys", "rotate", "--dir", alice.Dir, "--password-file", pwFile)
	rotated := vaultOf(alice.Dir)
	defer rotated.Zero()

	// Bob's pin of alice's key is fresh; he asks for her key again, so
	// his mail is sealed to the new one.
	bobPW := filepath.Join(d.dir, "accounts", bob.Address+".password")
	mustUmbra(t, "keys", "refresh", alice.Address, "--dir", bob.Dir, "--password-file", bobPW)
	send(d.bridges[1], bob.Address, alice.Address, "sealed to the new key")
	waitMailbox(t, laptop.b.Store(), "INBOX", "sealed to the new key")
	k := vaultOf(laptopDir)
	if !k.Signing.Equal(rotated.Signing) || !bytes.Equal(k.Encryption, rotated.Encryption) || len(k.Retired) != 1 {
		t.Fatalf("the laptop's vault: same signing key %v, same encryption key %v, %d retired", k.Signing.Equal(rotated.Signing), bytes.Equal(k.Encryption, rotated.Encryption), len(k.Retired))
	}
	k.Zero()
	// The laptop's audit knows the new signet as the account's own.
	if a, err := laptop.b.AuditLog(ctx); err != nil || len(a.Alarms) != 0 {
		t.Fatalf("the laptop's audit after the rotation: %+v, %v", a, err)
	}
	if n := searchSubject(t, laptop.b.Store(), "Security alarm"); len(n) != 0 {
		t.Fatal("the laptop raised an alarm over its own account's rotation")
	}

	send(laptop, alice.Address, bob.Address, "from the laptop")
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "from the laptop")
	if raw := messageText(t, d.bridges[1].b.Store(), "INBOX", "from the laptop"); !strings.Contains(raw, "signed=alice@a.test; key=chained") {
		t.Errorf("bob's verdict on the laptop's mail:\n%s", raw)
	}

	rb, err := startBridge(ctx, alice.Dir, []byte(pw), d.net.Resolver(), "127.0.0.1:0", "127.0.0.1:0", nil, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	d.bridges[0] = rb
	waitMailbox(t, rb.b.Store(), "INBOX", "sealed to the new key")
	scanFor(t, d.info.Providers[0].DataDir, "a.test", string(rotated.Signing.Seed()), string(rotated.Encryption))
}

// TestRotateWhileRunning: the hourly round of a running bridge's runner
// (rotateIfDue) rotates alice's keys beside her running bridge, which
// takes them from the keyring document as it would from another device:
// bob, asking for her key again, seals to the new key and alice reads it;
// her mail to bob is signed with the new key, which bob follows; her
// bridge's audit sees no stranger's key.
func TestRotateWhileRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPair(t, nil)
	const alice, bob = "alice@a.test", "bob@b.test"
	p.send(alice, bob, "before")
	waitMailbox(t, p.bridges[bob].b.Store(), "INBOX", "before")
	p.send(bob, alice, "reply before")
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "reply before")

	if err := rotateIfDue(ctx, p.dir(alice), p.passwords[alice], time.Nanosecond, quietLog()); err != nil {
		t.Fatal(err)
	}
	u := signetOf(t, p.dir(alice))
	if u.Prev.IsZero() {
		t.Fatal("alice's signet after the round succeeds none")
	}
	mustUmbra(t, "keys", "refresh", alice, "--dir", p.dir(bob), "--password-file", secretFile(t, string(p.passwords[bob])))
	p.send(bob, alice, "to the new key")
	waitMailbox(t, p.bridges[alice].b.Store(), "INBOX", "to the new key")
	p.send(alice, bob, "from the new key")
	waitMailbox(t, p.bridges[bob].b.Store(), "INBOX", "from the new key")
	if raw := messageText(t, p.bridges[bob].b.Store(), "INBOX", "from the new key"); !strings.Contains(raw, "signed=alice@a.test; key=chained") {
		t.Errorf("bob's verdict:\n%s", raw)
	}
	if fp, ok, err := bridgePin(p, bob, alice); err != nil || !ok || !fp.Equal(u.Fingerprint()) {
		t.Errorf("bob's pin for alice: %s (%v), want %s", fp, err, u.Fingerprint())
	}
	if a, err := p.bridges[alice].b.AuditLog(ctx); err != nil || len(a.Alarms) != 0 {
		t.Errorf("alice's audit: %+v, %v", a, err)
	}
}

// bridgePin is the fingerprint address's device pinned for contact, as
// `umbra keys show` prints it.
func bridgePin(p *pair, address, contact string) (signet.Fingerprint, bool, error) {
	out := mustUmbra(p.t, "keys", "show", contact, "--dir", p.dir(address), "--password-file", secretFile(p.t, string(p.passwords[address])))
	f := strings.Fields(out)
	if len(f) < 2 {
		return signet.Fingerprint{}, false, nil
	}
	fp, err := signet.ParseFingerprint(f[1])
	return fp, err == nil, err
}
