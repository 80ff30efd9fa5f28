package dmap

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/signet"
)

const testDomain = "a.test"

func sigKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("umbra dmap test signing " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// testOrg is a.test's organisation signet and signet-signing SOK, made
// once per test binary.
var testOrg = sync.OnceValues(func() (*signet.Org, error) {
	seed := sha256.Sum256([]byte("umbra dmap test org encryption"))
	enc, err := signet.KEM().DeriveKeyPair(seed[:])
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return signet.NewOrg(signet.OrgFields{
		POK:       pubOf(sigKey("pok")),
		SOKs:      []signet.SOK{{Key: pubOf(sigKey("sok")), Perms: signet.PermSignSignets}},
		Enc:       enc.PublicKey(),
		Domain:    testDomain,
		DMTP:      "127.0.0.1:26",
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(365 * 24 * time.Hour),
	}, sigKey("pok"))
})

// clock is the handler's clock; tests move it forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is one DMAP server over HTTPS (TLS 1.3, HTTP/2) on 127.0.0.1 with
// a fake backend.
type env struct {
	fb   *fakeBackend
	srv  *httptest.Server
	clk  *clock
	pin  []byte
	base string
}

// testClientHeader lets tests pose as several client addresses for the
// per-address rate limits (ClientAddress is configurable for proxies).
const testClientHeader = "X-Test-Client"

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	org, err := testOrg()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{fb: newFakeBackend(org, sigKey("sok")), clk: &clock{}}
	o := Options{
		Domain: testDomain,
		Now:    e.clk.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ClientAddress: func(r *http.Request) string {
			if c := r.Header.Get(testClientHeader); c != "" {
				return c
			}
			return remoteHost(r)
		},
	}
	if mod != nil {
		mod(&o)
	}
	h, err := Handler(e.fb, o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(h)
	e.srv.EnableHTTP2 = true
	e.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	sum := sha256.Sum256(e.srv.Certificate().RawSubjectPublicKeyInfo)
	e.pin, e.base = sum[:], e.srv.URL
	return e
}

func (e *env) client(t testing.TB) *Client {
	t.Helper()
	c, err := NewClient(e.base, ClientTLSConfig(e.pin, "dmap.a.test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testUser is a registered, logged-in account.
type testUser struct {
	addr                      string
	signing, recovery, device ed25519.PrivateKey
	signet                    *signet.User
	deviceID                  string
	c                         *Client
}

// signingRequestFor makes a signing request for address (succeeding prev if set).
func signingRequestFor(t testing.TB, address string, signing, recovery ed25519.PrivateKey, succ *signet.Successor) *signet.User {
	t.Helper()
	seed := sha256.Sum256([]byte("umbra dmap test encryption " + address))
	enc, err := signet.KEM().DeriveKeyPair(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req, err := signet.NewRequest(signet.UserFields{
		SigningKey: pubOf(signing), Enc: enc.PublicKey(), RecoveryKey: pubOf(recovery),
		Address: address, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
	}, signing, succ)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// newUser invites, registers and logs in local@a.test in paranoid mode.
func (e *env) newUser(t testing.TB, local string) *testUser {
	t.Helper()
	u := e.registerUser(t, local, ModeParanoid, nil)
	if err := u.c.Login(t.Context(), u.addr, u.device); err != nil {
		t.Fatal(err)
	}
	return u
}

// registerUser invites and registers local@a.test without logging in.
func (e *env) registerUser(t testing.TB, local string, mode Mode, backup *KeyBackup) *testUser {
	t.Helper()
	u := &testUser{
		addr:     local + "@" + testDomain,
		signing:  sigKey(local + " signing"),
		recovery: sigKey(local + " recovery"),
		device:   sigKey(local + " device"),
		c:        e.client(t),
	}
	e.fb.invite(u.addr, "CODE-"+local)
	var err error
	u.signet, u.deviceID, err = u.c.Register(t.Context(), RegisterParams{
		Address: u.addr, Invite: "CODE-" + local, Mode: mode,
		Request:   signingRequestFor(t, u.addr, u.signing, u.recovery, nil),
		DeviceKey: pubOf(u.device), DeviceName: local + "'s laptop", Backup: backup,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantCode asserts err is a DMAP *Error with code and status.
func wantCode(t testing.TB, err error, code string, status int) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a DMAP error, want %s", err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("got %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	return e
}

// raw sends one request with the test server's HTTP/2 client and returns
// the status, headers and body.
func (e *env) raw(t testing.TB, method, path, token, contentType string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// rawJSON posts a JSON text and returns the decoded error code ("" for a
// 2xx answer) and the status.
func (e *env) rawJSON(t testing.TB, path, body string) (int, string) {
	t.Helper()
	resp, data := e.raw(t, http.MethodPost, path, "", "application/json", strings.NewReader(body))
	return resp.StatusCode, errCode(data)
}

func errCode(data []byte) string {
	var eb errorBody
	if json.Unmarshal(data, &eb) != nil {
		return ""
	}
	return eb.Code
}

// watchers counts the long-polls waiting on account.
func (f *fakeBackend) watching(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers[account])
}

// eventually polls cond until it holds or the test's context ends.
func eventually(t testing.TB, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never held")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
