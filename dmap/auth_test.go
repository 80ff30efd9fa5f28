package dmap

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"umbra/signet"
)

// postLogin sends a login signed by key over challenge ch, as client
// address ip, and returns the status and error code.
func (e *env) postLogin(t *testing.T, address string, key ed25519.PrivateKey, ch [32]byte, ip string) (*http.Response, string) {
	t.Helper()
	pub := pubOf(key)
	body, _ := json.Marshal(loginRequest{
		Address:   address,
		DeviceKey: b64.EncodeToString(pub),
		Challenge: b64.EncodeToString(ch[:]),
		Signature: b64.EncodeToString(ed25519.Sign(key, LoginMessage(ch, signet.DomainOf(address), address, pub))),
	})
	resp, data := e.raw(t, http.MethodPost, "/dmap/v1/login", "", "application/json", strings.NewReader(string(body)), testClientHeader, ip)
	return resp, errCode(data)
}

func (e *env) newChallenge(t *testing.T, c *Client, address string, p Purpose, key ed25519.PublicKey) [32]byte {
	t.Helper()
	ch, err := c.challenge(t.Context(), address, p, key)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestChallenges: a challenge works once, only before it expires, only
// for the purpose, address and key it was issued for, and only with a
// valid signature by a registered device.
func TestChallenges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.registerUser(t, "alice", ModeParanoid, nil)
	c := u.c
	dev := pubOf(u.device)

	ch := e.newChallenge(t, c, u.addr, PurposeLogin, dev)
	if resp, code := e.postLogin(t, u.addr, u.device, ch, "1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first use: %d %s", resp.StatusCode, code)
	}
	if resp, code := e.postLogin(t, u.addr, u.device, ch, "1"); resp.StatusCode != http.StatusUnauthorized || code != CodeLoginFailed {
		t.Fatalf("replay: %d %s", resp.StatusCode, code)
	}

	ch = e.newChallenge(t, c, u.addr, PurposeLogin, dev)
	e.clk.advance(time.Minute)
	if resp, code := e.postLogin(t, u.addr, u.device, ch, "2"); code != CodeLoginFailed {
		t.Fatalf("expired: %d %s", resp.StatusCode, code)
	}
	e.clk.advance(-time.Minute)

	refused := map[string]func() (*http.Response, string){
		"enroll challenge used to log in": func() (*http.Response, string) {
			return e.postLogin(t, u.addr, u.device, e.newChallenge(t, c, u.addr, PurposeEnroll, dev), "3")
		},
		"challenge of another address": func() (*http.Response, string) {
			return e.postLogin(t, u.addr, u.device, e.newChallenge(t, c, "bob@a.test", PurposeLogin, dev), "4")
		},
		"challenge of another key": func() (*http.Response, string) {
			return e.postLogin(t, u.addr, u.device, e.newChallenge(t, c, u.addr, PurposeLogin, pubOf(sigKey("other"))), "5")
		},
		"unregistered device": func() (*http.Response, string) {
			k := sigKey("unregistered")
			return e.postLogin(t, u.addr, k, e.newChallenge(t, c, u.addr, PurposeLogin, pubOf(k)), "6")
		},
		"never issued": func() (*http.Response, string) {
			return e.postLogin(t, u.addr, u.device, [32]byte{1, 2, 3}, "7")
		},
		"unknown account": func() (*http.Response, string) {
			return e.postLogin(t, "nobody@a.test", u.device, e.newChallenge(t, c, "nobody@a.test", PurposeLogin, dev), "8")
		},
	}
	for name, try := range refused {
		if resp, code := try(); resp.StatusCode != http.StatusUnauthorized || code != CodeLoginFailed {
			t.Errorf("%s: %d %s", name, resp.StatusCode, code)
		}
	}
	// A signature by another key over the right message.
	ch = e.newChallenge(t, c, u.addr, PurposeLogin, dev)
	body, _ := json.Marshal(loginRequest{
		Address: u.addr, DeviceKey: b64.EncodeToString(dev), Challenge: b64.EncodeToString(ch[:]),
		Signature: b64.EncodeToString(ed25519.Sign(sigKey("other"), LoginMessage(ch, testDomain, u.addr, dev))),
	})
	if status, code := e.rawJSON(t, "/dmap/v1/login", string(body)); status != http.StatusUnauthorized || code != CodeLoginFailed {
		t.Fatalf("forged signature: %d %s", status, code)
	}
	// A signature bound to another domain.
	ch = e.newChallenge(t, c, u.addr, PurposeLogin, dev)
	body, _ = json.Marshal(loginRequest{
		Address: u.addr, DeviceKey: b64.EncodeToString(dev), Challenge: b64.EncodeToString(ch[:]),
		Signature: b64.EncodeToString(ed25519.Sign(u.device, LoginMessage(ch, "b.test", u.addr, dev))),
	})
	if status, code := e.rawJSON(t, "/dmap/v1/login", string(body)); status != http.StatusUnauthorized || code != CodeLoginFailed {
		t.Fatalf("signature for another domain: %d %s", status, code)
	}
	if err := c.Login(t.Context(), u.addr, u.device); err != nil {
		t.Fatalf("a proper login after all that: %v", err)
	}
}

// TestRateLimits: failed logins are limited per device key and per
// client address, never per account (spec §4.5); a limited client is
// refused with 429 and Retry-After, even with a valid proof, until the
// bucket refills.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.KeyLimit = Limit{Burst: 3, Every: time.Minute}
		o.AddressLimit = Limit{Burst: 5, Every: time.Minute}
	})
	u := e.registerUser(t, "alice", ModeParanoid, nil)
	try := func(address string, key ed25519.PrivateKey, ip string) (*http.Response, string) {
		return e.postLogin(t, address, key, e.newChallenge(t, u.c, address, PurposeLogin, pubOf(key)), ip)
	}

	// Per key: three failures of one key from three addresses (over
	// challenges never issued), then that key is limited from a fourth
	// address too.
	for i := range 3 {
		if _, code := e.postLogin(t, u.addr, u.device, [32]byte{byte(i + 1)}, "key-"+strconv.Itoa(i)); code != CodeLoginFailed {
			t.Fatalf("failure %d: %s", i, code)
		}
	}
	resp, code := try(u.addr, u.device, "key-fresh")
	if resp.StatusCode != http.StatusTooManyRequests || code != CodeRateLimited {
		t.Fatalf("after 3 failures of the key: %d %s", resp.StatusCode, code)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	e.clk.advance(time.Minute)
	if resp, code := try(u.addr, u.device, "key-fresh"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a refill: %d %s", resp.StatusCode, code)
	}

	// Not per account: many failures for alice with other keys from many
	// addresses leave her own device alone.
	for i := range 20 {
		if _, code := try(u.addr, sigKey("random "+strconv.Itoa(i)), "acct-"+strconv.Itoa(i)); code != CodeLoginFailed {
			t.Fatalf("failure %d: %s", i, code)
		}
	}
	if resp, code := try(u.addr, u.device, "acct-fresh"); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice's device after 20 failures of other keys: %d %s", resp.StatusCode, code)
	}

	// Per client address: five failures against five accounts, then that
	// address is limited for any account; another address is not.
	for i := range 5 {
		if _, code := try("u"+strconv.Itoa(i)+"@a.test", sigKey("wrong "+strconv.Itoa(i)), "ip-x"); code != CodeLoginFailed {
			t.Fatalf("failure %d: %s", i, code)
		}
	}
	if resp, code := try(u.addr, u.device, "ip-x"); resp.StatusCode != http.StatusTooManyRequests || code != CodeRateLimited {
		t.Fatalf("limited address: %d %s", resp.StatusCode, code)
	}
	if resp, code := try(u.addr, u.device, "ip-y"); resp.StatusCode != http.StatusOK {
		t.Fatalf("other address: %d %s", resp.StatusCode, code)
	}
}

// TestChallengeLimit: challenges are rate-limited per client address, so
// one client cannot fill the challenge store.
func TestChallengeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.ChallengeLimit = Limit{Burst: 4, Every: time.Hour} })
	body := `{"address":"alice@a.test","purpose":"login","key":"` + b64.EncodeToString(make([]byte, 32)) + `"}`
	for i := range 4 {
		if status, code := e.rawJSON(t, "/dmap/v1/challenge", body); status != http.StatusOK {
			t.Fatalf("challenge %d: %d %s", i, status, code)
		}
	}
	if status, code := e.rawJSON(t, "/dmap/v1/challenge", body); status != http.StatusTooManyRequests || code != CodeRateLimited {
		t.Fatalf("fifth challenge: %d %s", status, code)
	}
	e.fb.mu.Lock()
	n := len(e.fb.challenges)
	e.fb.mu.Unlock()
	if n != 4 {
		t.Fatalf("%d challenges stored, want 4", n)
	}
}
