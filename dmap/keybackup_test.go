package dmap

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"umbra/vault"
)

// TestCautiousJoin: a cautious account registers with its key backup; a
// new device with only the address and password fetches the vault, opens
// it, enrols its own device key with the signing key and logs in. A wrong
// password gets nothing; after a password change only the new one works.
// (Five Argon2id runs at 64 MiB: the parameter floor.)
func TestCautiousJoin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	const addr = "carol@a.test"
	password := []byte("correct horse battery staple")
	keys, err := vault.GenerateKeys(addr)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := vault.Seal(password, keys, vault.MinimalParams())
	if err != nil {
		t.Fatal(err)
	}
	kb, err := NewKeyBackup(addr, password, sealed, MinBackupParams())
	if err != nil {
		t.Fatal(err)
	}
	e.fb.invite(addr, "INVITE")
	c1 := e.client(t)
	_, _, err = c1.Register(ctx, RegisterParams{
		Address: addr, Invite: "INVITE", Mode: ModeCautious,
		Request:   signingRequestFor(t, addr, keys.Signing, sigKey("carol recovery"), nil),
		DeviceKey: pubOf(keys.Device), DeviceName: "desktop", Backup: kb,
	})
	if err != nil {
		t.Fatal(err)
	}

	c2 := e.client(t)
	got, err := c2.FetchKeyBackup(ctx, addr, password)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sealed) {
		t.Fatal("fetched backup differs from the uploaded one")
	}
	k2, err := vault.Unseal(got, password)
	if err != nil {
		t.Fatal(err)
	}
	laptop := sigKey("carol laptop")
	if _, err := c2.Enroll(ctx, addr, pubOf(laptop), "laptop", k2.Signing, false); err != nil {
		t.Fatal(err)
	}
	if err := c2.Login(ctx, addr, laptop); err != nil {
		t.Fatal(err)
	}

	_, err = e.client(t).FetchKeyBackup(ctx, addr, []byte("wrong password"))
	wantCode(t, err, CodeLoginFailed, http.StatusUnauthorized)

	newPassword := []byte("new password")
	resealed, err := vault.Seal(newPassword, k2, vault.MinimalParams())
	if err != nil {
		t.Fatal(err)
	}
	kb2, err := NewKeyBackup(addr, newPassword, resealed, MinBackupParams())
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.SetKeyBackup(ctx, kb2); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client(t).FetchKeyBackup(ctx, addr, newPassword); err != nil || !bytes.Equal(got, resealed) {
		t.Fatalf("fetch with the new password: %v", err)
	}
	_, err = e.client(t).FetchKeyBackup(ctx, addr, password)
	wantCode(t, err, CodeLoginFailed, http.StatusUnauthorized)
}

// backupChallenge posts /keybackup/challenge for address.
func (e *env) backupChallenge(t *testing.T, address string) backupChallengeResponse {
	t.Helper()
	resp, data := e.raw(t, http.MethodPost, "/dmap/v1/keybackup/challenge", "", "application/json", strings.NewReader(`{"address":"`+address+`"}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("keybackup challenge for %s: %d %s", address, resp.StatusCode, data)
	}
	var ch backupChallengeResponse
	if err := json.Unmarshal(data, &ch); err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestKeyBackupDecoys: for an address without a backup (unknown or
// paranoid), the challenge answer has the same shape as a real one, with
// a salt that is stable per address, so it does not tell cautious accounts
// from others; the proof then fails like a wrong password.
func TestKeyBackupDecoys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.registerUser(t, "alice", ModeParanoid, nil)
	kb := testBackup()
	e.fb.mu.Lock()
	e.fb.accounts["dora@a.test"] = &fakeAccount{mode: ModeCautious, backup: kb}
	e.fb.mu.Unlock()

	real := e.backupChallenge(t, "dora@a.test")
	if real.Salt != b64.EncodeToString(kb.Salt) {
		t.Fatalf("real salt %q", real.Salt)
	}
	floor := MinBackupParams()
	for _, addr := range []string{u.addr, "nobody@a.test"} {
		d1, d2 := e.backupChallenge(t, addr), e.backupChallenge(t, addr)
		if d1.Salt != d2.Salt || d1.Challenge == d2.Challenge {
			t.Fatalf("%s: decoy salt not stable or challenge reused", addr)
		}
		if len(d1.Salt) != len(real.Salt) || d1.Params != real.Params || d1.Params.MemoryKiB != floor.MemoryKiB || d1.ExpiresIn != real.ExpiresIn {
			t.Fatalf("%s: decoy %+v differs in shape from real %+v", addr, d1, real)
		}
		body := `{"address":"` + addr + `","challenge":"` + d1.Challenge + `","signature":"` + b64.EncodeToString(make([]byte, 64)) + `"}`
		if status, code := e.rawJSON(t, "/dmap/v1/keybackup/fetch", body); status != http.StatusUnauthorized || code != CodeLoginFailed {
			t.Fatalf("%s: fetch %d %s", addr, status, code)
		}
	}
	if e.backupChallenge(t, "nobody@a.test").Salt == e.backupChallenge(t, "nobody2@a.test").Salt {
		t.Fatal("two addresses share a decoy salt")
	}
}

// TestKeyBackupWeakParams: a provider that serves parameters below the
// floor gets no signature: the client refuses before deriving anything.
func TestKeyBackupWeakParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	kb := testBackup()
	kb.Params = vault.MinimalParams()
	e.fb.mu.Lock()
	e.fb.accounts["dora@a.test"] = &fakeAccount{mode: ModeCautious, backup: kb}
	e.fb.mu.Unlock()
	_, err := e.client(t).FetchKeyBackup(t.Context(), "dora@a.test", []byte("pw"))
	if err == nil || !strings.Contains(err.Error(), "below the floor") {
		t.Fatalf("weak parameters: %v", err)
	}
	e.fb.mu.Lock()
	left := len(e.fb.challenges)
	e.fb.mu.Unlock()
	if left != 1 {
		t.Fatalf("%d challenges left; the client should not have tried the proof", left)
	}
}

// TestKeyBackupRateLimited: failed backup proofs count like failed logins.
func TestKeyBackupRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.AccountLimit = Limit{Burst: 2, Every: time.Hour} })
	for i := range 3 {
		ch := e.backupChallenge(t, "dora@a.test")
		body := `{"address":"dora@a.test","challenge":"` + ch.Challenge + `","signature":"` + b64.EncodeToString(make([]byte, 64)) + `"}`
		status, code := e.rawJSON(t, "/dmap/v1/keybackup/fetch", body)
		want := CodeLoginFailed
		if i == 2 {
			want = CodeRateLimited
		}
		if code != want {
			t.Fatalf("attempt %d: %d %s, want %s", i, status, code, want)
		}
	}
}
