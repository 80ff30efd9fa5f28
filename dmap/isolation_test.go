package dmap

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"umbra/signet"
)

// TestIsolation: with A's token, no endpoint reads, lists, changes or
// deletes B's documents, devices or signet chain; the account comes from
// the token alone (spec §2.3).
func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, b := e.newUser(t, "alice"), e.newUser(t, "bob")
	ctx := t.Context()
	bdoc, err := b.c.Put(ctx, "secret", "note", 0, []byte("bob's secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Put(ctx, "other", "note", 0, []byte("bob's other")); err != nil {
		t.Fatal(err)
	}

	_, err = a.c.Get(ctx, "secret")
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
	_, err = a.c.GetRange(ctx, "secret", 0, 3)
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
	_, err = a.c.Delete(ctx, "secret", bdoc.Revision)
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
	// Naming B's revision writes to A's own namespace, where "secret" does
	// not exist: a conflict at revision 0, and B's document is untouched.
	_, err = a.c.Put(ctx, "secret", "note", bdoc.Revision, []byte("overwritten"))
	if ce := wantCode(t, err, CodeConflict, http.StatusConflict); ce.Current != 0 {
		t.Fatalf("conflict shows B's revision %d", ce.Current)
	}
	page, err := a.c.Changes(ctx, 0, 0)
	if err != nil || len(page.Changes) != 0 {
		t.Fatalf("A's feed lists %+v, %v", page.Changes, err)
	}
	// A's own document of the same id is a different document.
	if _, err := a.c.Put(ctx, "secret", "note", 0, []byte("alice's")); err != nil {
		t.Fatal(err)
	}
	got, err := b.c.Get(ctx, "secret")
	if err != nil || string(got.Data) != "bob's secret" || got.Revision != bdoc.Revision {
		t.Fatalf("B's document changed: %q rev %d, %v", got.Data, got.Revision, err)
	}
	page, err = b.c.Changes(ctx, 0, 0)
	if err != nil || len(page.Changes) != 2 {
		t.Fatalf("B's feed: %+v, %v", page.Changes, err)
	}

	// Devices: A sees only its own and cannot name B's.
	ds, err := a.c.Devices(ctx)
	if err != nil || len(ds) != 1 || ds[0].ID != a.deviceID {
		t.Fatalf("A's devices: %+v, %v", ds, err)
	}
	wantCode(t, a.c.RenameDevice(ctx, b.deviceID, "pwned"), CodeNotFound, http.StatusNotFound)
	wantCode(t, a.c.RevokeDevice(ctx, b.deviceID), CodeNotFound, http.StatusNotFound)
	if _, err := b.c.Devices(ctx); err != nil {
		t.Fatalf("B's session broken by A: %v", err)
	}

	// Rotation of B's chain with A's token is forbidden, even with a
	// request B signed.
	breq := signingRequestFor(t, b.addr, sigKey("bob 2"), b.recovery, &signet.Successor{Prev: b.signet, Kind: signet.CustodyPrevious, Key: b.signing})
	_, err = a.c.Rotate(ctx, breq)
	wantCode(t, err, CodeForbidden, http.StatusForbidden)
	// Sending as B is refused (the backend checks the author).
	_, err = a.c.Send(ctx, []byte("from:"+b.addr+"\nforged"))
	wantCode(t, err, CodeNotAuthor, http.StatusForbidden)
	// A key backup PUT by A cannot reach B (and A is paranoid).
	wantCode(t, a.c.SetKeyBackup(ctx, testBackup()), CodeWrongMode, http.StatusConflict)
	if e.fb.docCount(b.addr) != 2 {
		t.Fatal("B's documents changed")
	}
}

// testBackup is a syntactically valid key backup (no real vault inside).
func testBackup() *KeyBackup {
	return &KeyBackup{Vault: []byte("sealed"), AccessKey: pubOf(sigKey("access")), Salt: bytes.Repeat([]byte{7}, 16), Params: MinBackupParams()}
}

// authedRoutes is every endpoint that needs a token, with a request.
var authedRoutes = []struct {
	method, path, contentType, body string
}{
	{"PUT", "/dmap/v1/keybackup", "application/json", `{}`},
	{"GET", "/dmap/v1/devices", "", ""},
	{"PATCH", "/dmap/v1/devices/AAAAAAAAAAAAAAAA", "application/json", `{"name":"x"}`},
	{"DELETE", "/dmap/v1/devices/AAAAAAAAAAAAAAAA", "", ""},
	{"GET", "/dmap/v1/changes?since=0", "", ""},
	{"GET", "/dmap/v1/docs/x", "", ""},
	{"PUT", "/dmap/v1/docs/x", "application/octet-stream", "data"},
	{"DELETE", "/dmap/v1/docs/x", "", ""},
	{"POST", "/dmap/v1/send", "application/octet-stream", "msg"},
	{"GET", "/dmap/v1/signet?name=a.test", "", ""},
	{"GET", "/dmap/v1/history?address=alice@a.test", "", ""},
	{"POST", "/dmap/v1/rotate", "application/json", `{}`},
}

// TestTokensRefused: missing, malformed, forged, refresh-as-access,
// expired and revoked tokens get 401 "unauthorized" on every endpoint that
// needs one, before anything else is looked at.
func TestTokensRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	forged := make([]byte, TokenSize)
	if _, err := rand.Read(forged); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{
		"missing":           "",
		"malformed":         "not-a-token",
		"padded":            b64.EncodeToString(forged) + "=",
		"forged":            b64.EncodeToString(forged),
		"refresh as access": u.c.Tokens().Refresh,
	}
	check := func(name, tok string) {
		t.Helper()
		for _, r := range authedRoutes {
			resp, data := e.raw(t, r.method, r.path, tok, r.contentType, strings.NewReader(r.body))
			if resp.StatusCode != http.StatusUnauthorized || errCode(data) != CodeUnauthorized {
				t.Errorf("%s token, %s %s: %d %s", name, r.method, r.path, resp.StatusCode, data)
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: no WWW-Authenticate: Bearer", r.method, r.path)
			}
		}
	}
	for name, tok := range tokens {
		check(name, tok)
	}
	// The good token passes every endpoint's check, then expires.
	good := u.c.Tokens().Access
	for _, r := range authedRoutes {
		if resp, data := e.raw(t, r.method, r.path, good, r.contentType, strings.NewReader(r.body)); resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("valid token, %s %s: %d %s", r.method, r.path, resp.StatusCode, data)
		}
	}
	e.clk.advance(15*time.Minute + time.Second)
	check("expired", good)
	// Revoked: a fresh login, then the device is revoked from another
	// session; the token stops at once.
	e.clk.advance(-(15*time.Minute + time.Second))
	if resp, _ := e.raw(t, "GET", "/dmap/v1/devices", good, "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("valid token after the clock came back: %d", resp.StatusCode)
	}
	phone := sigKey("alice phone")
	c2 := e.client(t)
	if _, err := c2.Enroll(t.Context(), u.addr, pubOf(phone), "phone", u.signing, false); err != nil {
		t.Fatal(err)
	}
	if err := c2.Login(t.Context(), u.addr, phone); err != nil {
		t.Fatal(err)
	}
	if err := c2.RevokeDevice(t.Context(), u.deviceID); err != nil {
		t.Fatal(err)
	}
	check("revoked", good)
	wantCode(t, u.c.Refresh(t.Context()), CodeUnauthorized, http.StatusUnauthorized)
}

// TestInvitationReuse: an invitation registers once; a wrong code and an
// unknown address get the same answer.
func TestInvitationReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.registerUser(t, "alice", ModeParanoid, nil)
	again := RegisterParams{
		Address: u.addr, Invite: "CODE-alice", Mode: ModeParanoid,
		Request:   signingRequestFor(t, u.addr, sigKey("mallory"), sigKey("mallory r"), nil),
		DeviceKey: pubOf(sigKey("mallory device")), DeviceName: "mallory",
	}
	_, _, err := e.client(t).Register(t.Context(), again)
	wantCode(t, err, CodeBadInvite, http.StatusForbidden)

	e.fb.invite("bob@a.test", "RIGHT")
	for _, p := range []RegisterParams{
		{Address: "bob@a.test", Invite: "WRONG"},
		{Address: "carol@a.test", Invite: "RIGHT"},
	} {
		p.Mode, p.DeviceKey, p.DeviceName = ModeParanoid, pubOf(sigKey("d")), "d"
		p.Request = signingRequestFor(t, p.Address, sigKey(p.Address), sigKey(p.Address+" r"), nil)
		_, _, err := e.client(t).Register(t.Context(), p)
		wantCode(t, err, CodeBadInvite, http.StatusForbidden)
	}
	// Another domain's address is not this provider's to register.
	p := again
	p.Address = "alice@b.test"
	p.Request = signingRequestFor(t, p.Address, sigKey("x"), sigKey("y"), nil)
	_, _, err = e.client(t).Register(t.Context(), p)
	wantCode(t, err, CodeBadField, http.StatusBadRequest)
	// A request for another address than the one registered.
	p = again
	p.Address = "bob@a.test"
	p.Invite = "RIGHT"
	_, _, err = e.client(t).Register(t.Context(), p)
	wantCode(t, err, CodeBadSignet, http.StatusBadRequest)
}
