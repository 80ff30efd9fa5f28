package provider_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"umbra/dmap"
)

// clientFrom is an HTTPS client for nd's DMAP that connects from the
// loopback address from: all of 127.0.0.0/8 is loopback on Linux, so
// tests can be several client addresses to the per-address limits.
func clientFrom(t *testing.T, w *world, from string) *http.Client {
	t.Helper()
	tr := &http.Transport{
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:   dmap.ClientTLSConfig(w.b.Record.TLSPin, "127.0.0.1"),
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// badLogin posts to dmapURL a login of address with key over a challenge
// the server never issued, and returns the status of the answer.
func badLogin(t *testing.T, client *http.Client, dmapURL, address string, key ed25519.PrivateKey) int {
	t.Helper()
	b64 := base64.RawURLEncoding
	var ch [32]byte
	rand.Read(ch[:])
	body, _ := json.Marshal(map[string]string{
		"address":    address,
		"device_key": b64.EncodeToString(key.Public().(ed25519.PublicKey)),
		"challenge":  b64.EncodeToString(ch[:]),
		"signature":  b64.EncodeToString(ed25519.Sign(key, ch[:])),
	})
	resp, err := client.Post(dmapURL+"login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestNoLockOut: 1,000 failed logins for bob with random keys from one
// client address cannot lock bob out: his device logs in at once from
// another address, because device-key logins are limited per client
// address and per key, never per account (docs/spec/dmap.md §4.5). The
// attacking address itself is limited (429) after its burst.
func TestNoLockOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bob := register(t, w.b, "bobby@b.test")
	attacker := clientFrom(t, w, "127.0.0.2")
	status := map[int]int{}
	for range 1000 {
		_, priv, _ := ed25519.GenerateKey(nil)
		status[badLogin(t, attacker, w.b.DMAP, bob.user.Address, priv)]++
	}
	t.Logf("1000 bad logins from 127.0.0.2: %v", status)
	if status[http.StatusOK] != 0 || status[http.StatusTooManyRequests] == 0 {
		t.Fatalf("bad logins answered %v, want 401 then 429", status)
	}
	start := time.Now()
	if err := bob.client.Login(t.Context(), bob.user.Address, bob.key); err != nil {
		t.Fatalf("bob's device from 127.0.0.1 after the attack: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("bob's login took %v", took)
	}
}

// TestRefreshReuseEndsFamily: a refresh token used a second time (a copy
// in someone else's hands, or a replay) ends every session of the device:
// the copy is refused, and so is the session the first use made; the
// device logs in again with its key (docs/spec/dmap.md §4.3).
func TestRefreshReuseEndsFamily(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bob := register(t, w.b, "bobby@b.test")
	ctx := t.Context()
	stolen := bob.client.Tokens()
	if err := bob.client.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.client.Devices(ctx); err != nil {
		t.Fatalf("after the refresh: %v", err)
	}
	thief, err := dmap.NewClient(w.b.DMAP, dmap.ClientTLSConfig(w.b.Record.TLSPin, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	thief.SetTokens(stolen)
	if err := thief.Refresh(ctx); !errors.Is(err, dmap.ErrUnauthorized) {
		t.Fatalf("reuse of the old refresh token: %v, want unauthorized", err)
	}
	if _, err := bob.client.Devices(ctx); !errors.Is(err, dmap.ErrUnauthorized) {
		t.Fatalf("the newer session after the reuse: %v, want unauthorized", err)
	}
	if err := bob.client.Refresh(ctx); !errors.Is(err, dmap.ErrUnauthorized) {
		t.Fatalf("the newer refresh token after the reuse: %v, want unauthorized", err)
	}
	if err := bob.client.Login(ctx, bob.user.Address, bob.key); err != nil {
		t.Fatalf("login with the device key after the reuse: %v", err)
	}
	if _, err := bob.client.Devices(ctx); err != nil {
		t.Fatalf("after logging in again: %v", err)
	}
}
