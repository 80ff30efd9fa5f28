package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"umbra/keyfile"
	"umbra/signet"
)

// signetOf reads an account directory's signet file.
func signetOf(t *testing.T, dir string) *signet.User {
	t.Helper()
	raw, err := keyfile.ReadSignet(filepath.Join(dir, signetFile))
	if err != nil {
		t.Fatal(err)
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A paranoid account made by discovery alone (--dns): files and modes,
// the signet verifies against the organisation, the device list works,
// and no file but the vault, neither here nor at the provider, holds the
// password, the phrase or a key. An existing account directory is
// refused, and so is an invitation used up.
func TestAccountCreateParanoid(t *testing.T) {
	t.Parallel()
	a := newAcctNet(t)
	dir := filepath.Join(t.TempDir(), "alice")
	phraseOut := filepath.Join(t.TempDir(), "phrase")
	pw := secretFile(t, "correct horse battery staple")
	code := a.invite(t, "alice@a.test")
	out := mustUmbra(t, "account", "create", "alice@a.test", "--invite", code, a.dns(),
		"--dir", dir, "--password-file", pw, "--phrase-out", phraseOut, "--name", "laptop")
	if !strings.Contains(out, "alice@a.test (paranoid)") {
		t.Fatalf("create output: %s", out)
	}
	for name, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, vaultFile): 0o600, phraseOut: 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	info, err := readAccountInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Server != a.nd.DMAP || info.Pin != b64(a.nd.Record.TLSPin) || info.Mode != "paranoid" {
		t.Fatalf("account file: %+v", info)
	}
	u := signetOf(t, dir)
	org, err := a.nd.OrgSignet()
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Verify(org, time.Now()); err != nil || !u.Prev.IsZero() {
		t.Fatalf("signet: %v, prev %s", err, u.Prev)
	}
	if !strings.Contains(out, u.Fingerprint().String()) {
		t.Fatalf("create does not print the fingerprint: %s", out)
	}
	devs := mustUmbra(t, "account", "devices", "--dir", dir, "--password-file", pw)
	if !strings.Contains(devs, info.DeviceID) || !strings.Contains(devs, "laptop") || !strings.Contains(devs, "(this device)") {
		t.Fatalf("devices: %s", devs)
	}

	phrase := readPhrase(t, phraseOut)
	secrets := keySecrets(t, dir, "correct horse battery staple")
	secrets["recovery phrase"] = []byte(phrase)
	assertNoSecrets(t, dir, map[string]bool{vaultFile: true}, secrets)
	assertNoSecrets(t, a.nd.Dir, nil, secrets)

	failUmbra(t, "already holds files", "account", "create", "alice@a.test", "--invite", code, a.dns(),
		"--dir", dir, "--password-file", pw, "--phrase-out", filepath.Join(t.TempDir(), "p"))
	dir2 := filepath.Join(t.TempDir(), "again")
	failUmbra(t, "refused the invitation code", "account", "create", "alice@a.test", "--invite", code, a.dns(),
		"--dir", dir2, "--password-file", pw, "--phrase-out", filepath.Join(t.TempDir(), "p"))
	if _, err := os.Stat(dir2); !os.IsNotExist(err) {
		t.Fatalf("a refused create leaves its directory: %v", err)
	}
}

// The quiz: wrong words register nothing (the invitation still works and
// no directory is left); the right words, typed as asked, create the
// account.
func TestAccountCreateQuiz(t *testing.T) {
	t.Parallel()
	a := newAcctNet(t)
	code := a.invite(t, "quinn@a.test")
	pw := secretFile(t, "pw for quinn")
	dir := filepath.Join(t.TempDir(), "quinn")
	wordRE := regexp.MustCompile(`(\d+)\. ([a-z]+)`)
	askRE := regexp.MustCompile(`Word (\d+) of your phrase: `)

	create := func(right bool) (int, string) {
		c := startConsole(t, "account", "create", "quinn@a.test", "--invite", code, a.dns(), "--dir", dir, "--password-file", pw)
		c.expect(regexp.MustCompile(`shown only once`))
		words := map[int]string{}
		for range 24 {
			m := c.expect(wordRE)
			n, _ := strconv.Atoi(m[1])
			words[n] = m[2]
		}
		for range 2 {
			n, _ := strconv.Atoi(c.expect(askRE)[1])
			if right {
				c.answer(strings.ToUpper(words[n]) + " ") // case and spaces are forgiven
			} else if words[n] != "zoo" {
				c.answer("zoo")
			} else {
				c.answer("abandon")
			}
		}
		return c.wait()
	}
	if rc, out := create(false); rc != 1 || !strings.Contains(out, "do not match the phrase; nothing was registered") {
		t.Fatalf("wrong words: exit %d\n%s", rc, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused quiz leaves the directory: %v", err)
	}
	if rc, out := create(true); rc != 0 || !strings.Contains(out, "quinn@a.test (paranoid)") {
		t.Fatalf("right words: exit %d\n%s", rc, out)
	}
}

// Cautious: a second device joins with address and password; a wrong
// password is refused; a revoked device can no longer log in; passwd
// makes the old password fail and the new one work, on this device and at
// the provider's key backup.
func TestAccountCautious(t *testing.T) {
	t.Parallel()
	a := newAcctNet(t)
	oldPW, newPW, wrongPW := secretFile(t, "old password"), secretFile(t, "new password"), secretFile(t, "wrong password")
	tmp := t.TempDir()
	d1, d2, d3, d4 := filepath.Join(tmp, "d1"), filepath.Join(tmp, "d2"), filepath.Join(tmp, "d3"), filepath.Join(tmp, "d4")
	// Explicit --server and --pin: DNS is not asked.
	mustUmbra(t, "account", "create", "carol@a.test", "--invite", a.invite(t, "carol@a.test"), "--mode", "cautious",
		"--server", a.nd.DMAP, "--pin", b64(a.nd.Record.TLSPin), "--dir", d1, "--password-file", oldPW,
		"--phrase-out", filepath.Join(tmp, "phrase"), "--name", "desk")

	out := mustUmbra(t, "account", "login", "carol@a.test", a.dns(), "--dir", d2, "--password-file", oldPW, "--name", "phone")
	if !strings.Contains(out, "carol@a.test (cautious)") {
		t.Fatalf("login: %s", out)
	}
	if !signetOf(t, d2).Fingerprint().Equal(signetOf(t, d1).Fingerprint()) {
		t.Fatal("the new device does not hold the account's signet")
	}
	failUmbra(t, "no key backup of carol@a.test opens with this password", "account", "login", "carol@a.test", a.dns(),
		"--dir", d3, "--password-file", wrongPW)
	if _, err := os.Stat(d3); !os.IsNotExist(err) {
		t.Fatalf("a failed login leaves its directory: %v", err)
	}

	phone, err := readAccountInfo(d2)
	if err != nil {
		t.Fatal(err)
	}
	devs := mustUmbra(t, "account", "devices", "--dir", d1, "--password-file", oldPW)
	if !strings.Contains(devs, phone.DeviceID) || !strings.Contains(devs, "desk") {
		t.Fatalf("devices: %s", devs)
	}
	failUmbra(t, "has no device", "account", "revoke", "AAAAAAAAAAAAAAAA", "--dir", d1, "--password-file", oldPW)
	failUmbra(t, `has no device "-AAAAAAAAAAAAAAA"`, "account", "revoke", "--dir", d1, "--password-file", oldPW, "--", "-AAAAAAAAAAAAAAA")
	// Ids are base64url: one may start with "-", hence "--".
	mustUmbra(t, "account", "revoke", "--dir", d1, "--password-file", oldPW, "--", phone.DeviceID)
	failUmbra(t, "refused the proof", "account", "devices", "--dir", d2, "--password-file", oldPW)
	if devs := mustUmbra(t, "account", "devices", "--dir", d1, "--password-file", oldPW); strings.Contains(devs, phone.DeviceID) {
		t.Fatalf("revoked device still listed: %s", devs)
	}

	mustUmbra(t, "account", "passwd", "--dir", d1, "--password-file", oldPW, "--new-password-file", newPW)
	failUmbra(t, "wrong password", "account", "devices", "--dir", d1, "--password-file", oldPW)
	mustUmbra(t, "account", "devices", "--dir", d1, "--password-file", newPW)
	failUmbra(t, "no key backup", "account", "login", "carol@a.test", a.dns(), "--dir", d3, "--password-file", oldPW)
	// --server given: the pin still comes from DNS.
	mustUmbra(t, "account", "login", "carol@a.test", "--server", a.nd.DMAP, a.dns(), "--dir", d4, "--password-file", newPW)
	if info, err := readAccountInfo(d4); err != nil || info.Pin != b64(a.nd.Record.TLSPin) {
		t.Fatalf("pin from DNS with --server: %+v, %v", info, err)
	}

	secrets := keySecrets(t, d1, "new password")
	secrets["old password"] = []byte("old password")
	assertNoSecrets(t, tmp, map[string]bool{vaultFile: true, "phrase": true, "secret": true}, secrets)
	assertNoSecrets(t, a.nd.Dir, nil, secrets)
}

// Recovery restarts the chain: the new signet succeeds the old one under
// the recovery key's custody signature, with new signing and encryption
// keys, and the new device works. A valid phrase of another account is
// refused.
func TestAccountRecover(t *testing.T) {
	t.Parallel()
	a := newAcctNet(t)
	tmp := t.TempDir()
	pw := secretFile(t, "dave's password")
	old, fresh := filepath.Join(tmp, "old"), filepath.Join(tmp, "new")
	phraseFile := filepath.Join(tmp, "phrase")
	mustUmbra(t, "account", "create", "dave@a.test", "--invite", a.invite(t, "dave@a.test"), a.dns(),
		"--dir", old, "--password-file", pw, "--phrase-out", phraseFile)
	otherPhrase := filepath.Join(tmp, "other")
	mustUmbra(t, "account", "create", "erin@a.test", "--invite", a.invite(t, "erin@a.test"), a.dns(),
		"--dir", filepath.Join(tmp, "erin"), "--password-file", pw, "--phrase-out", otherPhrase)

	failUmbra(t, "refused the proof", "account", "recover", "dave@a.test", a.dns(), "--dir", fresh,
		"--phrase-file", otherPhrase, "--password-file", pw)
	failUmbra(t, "24 words", "account", "recover", "dave@a.test", a.dns(), "--dir", fresh,
		"--phrase-file", pw, "--password-file", pw)
	out := mustUmbra(t, "account", "recover", "dave@a.test", a.dns(), "--dir", fresh, "--phrase-file", phraseFile, "--password-file", pw)
	prev, next := signetOf(t, old), signetOf(t, fresh)
	if err := signet.VerifyChain(prev, next); err != nil {
		t.Fatalf("recovered signet does not chain: %v", err)
	}
	if next.Custody != signet.CustodyRecovery || !next.Prev.Equal(prev.Fingerprint()) {
		t.Fatalf("custody %v, prev %s", next.Custody, next.Prev)
	}
	if next.SigningKey.Equal(prev.SigningKey) || !next.RecoveryKey.Equal(prev.RecoveryKey) {
		t.Fatal("recovery must change the signing key and keep the recovery key")
	}
	oldInfo, _ := readAccountInfo(old)
	if !strings.Contains(out, "umbra account revoke "+revokeArg(oldInfo.DeviceID)) {
		t.Fatalf("recover does not name the old device: %s", out)
	}
	mustUmbra(t, "account", "revoke", "--dir", fresh, "--password-file", pw, "--", oldInfo.DeviceID)
	failUmbra(t, "refused the proof", "account", "devices", "--dir", old, "--password-file", pw)
	secrets := keySecrets(t, fresh, "dave's password")
	secrets["recovery phrase"] = []byte(readPhrase(t, phraseFile))
	assertNoSecrets(t, fresh, map[string]bool{vaultFile: true}, secrets)
}

// Errors a user meets before anything reaches the provider, or when it
// cannot be reached: each says what is wrong and leaves no directory.
func TestAccountErrors(t *testing.T) {
	t.Parallel()
	a := newAcctNet(t)
	pw := secretFile(t, "pw")
	code := a.invite(t, "frank@a.test")
	dir := filepath.Join(t.TempDir(), "frank")
	phraseOut := filepath.Join(t.TempDir(), "p")
	base := []string{"account", "create", "frank@a.test", "--dir", dir, "--password-file", pw, "--phrase-out", phraseOut}

	failUmbra(t, "refused the invitation code", append(base, "--invite", "WRONG-CODE", a.dns())...)
	// An existing --phrase-out file is neither overwritten nor removed.
	keep := secretFile(t, "not a phrase")
	failUmbra(t, "file exists", "account", "create", "frank@a.test", "--invite", code, a.dns(), "--dir", dir, "--password-file", pw, "--phrase-out", keep)
	if b, err := os.ReadFile(keep); err != nil || string(b) != "not a phrase\n" {
		t.Fatalf("existing phrase file: %q, %v", b, err)
	}
	// A closed port on loopback: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String() + "/"
	ln.Close()
	failUmbra(t, "cannot reach the provider", append(base, "--invite", code, "--server", closed, "--pin", b64(a.nd.Record.TLSPin))...)
	failUmbra(t, "does not show the pinned TLS key", append(base, "--invite", code, "--server", a.nd.DMAP, "--pin", b64(make([]byte, 32)))...)
	for _, p := range []string{dir, phraseOut} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("failed creates leave %s: %v", p, err)
		}
	}
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"--invite is required", []string{"account", "create", "frank@a.test"}},
		{"--mode", []string{"account", "create", "frank@a.test", "--invite", "x", "--mode", "trustful"}},
		{"--pin", []string{"account", "create", "frank@a.test", "--invite", "x", "--pin", "AAAA"}},
		{"--name", []string{"account", "login", "frank@a.test", "--name", "a\tb"}},
		{"wrong number of arguments", []string{"account", "revoke"}},
	} {
		rc, _, errOut := umbraStdin(t, "", tc.args...)
		if rc != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, rc, errOut)
		}
	}
	// Without --password-file the password is asked twice and must match.
	rc, _, errOut := umbraStdin(t, "one\ntwo\n", "account", "create", "frank@a.test", "--invite", code, a.dns(), "--dir", dir)
	if rc != 1 || !strings.Contains(errOut, "the two passwords differ") {
		t.Fatalf("mismatched passwords: exit %d, %q", rc, errOut)
	}
	failUmbra(t, "holds no account", "account", "devices", "--dir", t.TempDir(), "--password-file", pw)
}

// TestDefaultDeviceName: without --name a device is listed under a
// neutral label, never the machine's host name, which the provider would
// store in the clear.
func TestDefaultDeviceName(t *testing.T) {
	t.Parallel()
	a := newAcctNet(t)
	dir, pw := filepath.Join(t.TempDir(), "acct"), secretFile(t, "password")
	mustUmbra(t, "account", "create", "dora@a.test", "--invite", a.invite(t, "dora@a.test"), a.dns(),
		"--dir", dir, "--password-file", pw, "--phrase-out", filepath.Join(t.TempDir(), "phrase"))
	devs := mustUmbra(t, "account", "devices", "--dir", dir, "--password-file", pw)
	if !regexp.MustCompile(`\bdevice-[0-9a-f]{4}\b`).MatchString(devs) {
		t.Fatalf("devices:\n%s", devs)
	}
	// The NAME column, not the whole list: a short host name ("vm") can
	// be part of a random device id.
	if host, _ := os.Hostname(); host != "" {
		for _, line := range strings.Split(strings.TrimSpace(devs), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 1 && strings.Contains(f[1], host) {
				t.Fatalf("the host name %q is a device's name:\n%s", host, devs)
			}
		}
	}
}
