package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/pgp"
)

// TestContactsSync: OpenPGP keys of correspondents outside Umbra reach
// the user's other devices. A key imported on alice's first device is
// known on her laptop after a sync; keys imported for one address on both
// devices at once converge to the same one on both; and alice's provider
// stores neither the address nor a fingerprint.
func TestContactsSync(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice := d.info.Accounts[0]
	pwFile := filepath.Join(d.dir, "accounts", alice.Address+".password")
	secondDevice(t, d, alice.Address, "laptop")
	laptopDir := filepath.Join(d.dir, "accounts", alice.Address+"-laptop")

	importKey := func(dir, address string) *pgp.Key {
		t.Helper()
		k, err := pgp.GenerateKey(address, time.Now().Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "key.asc")
		if err := os.WriteFile(file, k.Public().Armored(), 0o600); err != nil {
			t.Fatal(err)
		}
		mustUmbra(t, "keys", "import", file, "--dir", dir, "--password-file", pwFile)
		return k
	}
	show := func(dir, address string) string {
		code, out, _ := umbraStdin(t, "", "keys", "show", address, "--dir", dir, "--password-file", pwFile)
		if code != 0 {
			return ""
		}
		return out
	}
	// `umbra keys import` writes beside the running bridge, which sees
	// the write within a second and pushes the change.
	carol := importKey(alice.Dir, "carol@legacy.test")
	want := "carol@legacy.test  openpgp " + carol.Fingerprint() + " from imported"
	eventually(t, "the laptop knows carol's key", func() bool { return strings.Contains(show(laptopDir, "carol@legacy.test"), want) })

	// Both devices import a key for erin at once: both end with the same.
	var wg sync.WaitGroup
	var keys [2]*pgp.Key
	for i, dir := range []string{alice.Dir, laptopDir} {
		wg.Go(func() { keys[i] = importKey(dir, "erin@legacy.test") })
	}
	wg.Wait()
	eventually(t, "both devices agree on erin's key", func() bool {
		a, b := show(alice.Dir, "erin@legacy.test"), show(laptopDir, "erin@legacy.test")
		return a != "" && a == b && strings.Count(a, "\n") == 1
	})
	got := show(alice.Dir, "erin@legacy.test")
	if !strings.Contains(got, keys[0].Fingerprint()) && !strings.Contains(got, keys[1].Fingerprint()) {
		t.Errorf("erin's key: %q, want one of the two imported", got)
	}

	secrets := []string{"carol@legacy.test", "erin@legacy.test"}
	for _, k := range []*pgp.Key{carol, keys[0], keys[1]} {
		fp := k.Fingerprint()
		raw, _ := hex.DecodeString(fp)
		secrets = append(secrets, fp, strings.ToLower(fp), string(raw))
	}
	scanFor(t, d.info.Providers[0].DataDir, "a.test", secrets...)
}

// TestKeysListVerify: bob's device pinned alice's key with the welcome
// message; `keys verify` with that fingerprint marks it verified in `keys
// show` and `keys list`, which also lists an imported OpenPGP key; a
// fingerprint that is not the pinned one is refused and nothing recorded.
func TestKeysListVerify(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	bob := d.info.Accounts[1]
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", welcomeSubject)
	pwFile := filepath.Join(d.dir, "accounts", bob.Address+".password")
	args := func(a ...string) []string { return append(a, "--dir", bob.Dir, "--password-file", pwFile) }

	shown := strings.Fields(mustUmbra(t, args("keys", "show", "alice@a.test")...))
	if len(shown) != 2 || shown[0] != "alice@a.test" {
		t.Fatalf("keys show: %q", shown)
	}
	fp := shown[1]
	wrong := []byte(fp)
	if wrong[10] == 'A' { // another key's fingerprint: one character changed
		wrong[10] = 'B'
	} else {
		wrong[10] = 'A'
	}
	failUmbra(t, "does not match", args("keys", "verify", "alice@a.test", string(wrong))...)
	if out := mustUmbra(t, args("keys", "list")...); strings.Contains(out, "verified") {
		t.Errorf("a refused verification was recorded:\n%s", out)
	}
	mustUmbra(t, args("keys", "verify", "alice@a.test", fp)...)

	k, err := pgp.GenerateKey("carol@legacy.test", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "carol.asc")
	if err := os.WriteFile(file, k.Public().Armored(), 0o600); err != nil {
		t.Fatal(err)
	}
	mustUmbra(t, args("keys", "import", file)...)
	want := "alice@a.test  " + fp + "  (verified by you)\ncarol@legacy.test  openpgp " + k.Fingerprint() + " from imported\n"
	if out := mustUmbra(t, args("keys", "list")...); out != want {
		t.Errorf("keys list:\n%s\nwant:\n%s", out, want)
	}
}

// TestPinsSync: the key alice's first device pinned for bob, and her
// verification of it there, reach her laptop through the contact
// document: the laptop shows bob's key as verified without having
// opened any of his mail itself. Alice's provider stores neither bob's
// address nor his fingerprint.
func TestPinsSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	pwFile := filepath.Join(d.dir, "accounts", alice.Address+".password")
	msg := "From: <bob@b.test>\r\nTo: <alice@a.test>\r\nSubject: pin me\r\n\r\nhello\r\n"
	if err := d.bridges[1].b.Submit(ctx, []string{alice.Address}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, d.bridges[0].b.Store(), "INBOX", "pin me")
	show := func(dir string) string {
		code, out, _ := umbraStdin(t, "", "keys", "show", bob.Address, "--dir", dir, "--password-file", pwFile)
		if code != 0 {
			return ""
		}
		return out
	}
	fields := strings.Fields(show(alice.Dir))
	if len(fields) < 2 {
		t.Fatalf("alice's device pinned nothing for bob: %q", fields)
	}
	fp := fields[1]
	mustUmbra(t, "keys", "verify", bob.Address, fp, "--dir", alice.Dir, "--password-file", pwFile)

	laptop := secondDevice(t, d, alice.Address, "laptop")
	laptopDir := filepath.Join(d.dir, "accounts", alice.Address+"-laptop")
	waitMailbox(t, laptop.b.Store(), "INBOX", "pin me")
	want := bob.Address + "  " + fp + "  (verified by you)"
	eventually(t, "the laptop knows bob's key as verified", func() bool { return strings.Contains(show(laptopDir), want) })
	raw, err := base64.RawURLEncoding.DecodeString(fp)
	if err != nil {
		t.Fatal(err)
	}
	scanFor(t, d.info.Providers[0].DataDir, "a.test", bob.Address, fp, string(raw))
}
