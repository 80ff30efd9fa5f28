package dmap

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"time"
	"umbra/ratelimit"
)

// authed wraps an endpoint that needs a bearer token (spec §4.4): the
// session, and with it the account, comes from the token alone.
func (h *handler) authed(fn func(http.ResponseWriter, *http.Request, Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.authenticate(r)
		if err != nil {
			h.fail(w, err)
			return
		}
		fn(w, r, s)
	}
}

// authenticate checks "Authorization: Bearer <token>" (RFC 6750 §2.1).
// Every failure is the same 401 "unauthorized", so a client learns
// nothing about why a token it holds does not work.
func (h *handler) authenticate(r *http.Request) (Session, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(tok) != b64.EncodedLen(TokenSize) {
		return Session{}, ErrUnauthorized
	}
	raw, err := b64.DecodeString(tok)
	if err != nil {
		return Session{}, ErrUnauthorized
	}
	s, err := h.b.Authenticate(r.Context(), AccessTokenHash(raw))
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) {
		return Session{}, ErrUnauthorized
	}
	if err != nil {
		return Session{}, err
	}
	if !h.o.Now().Before(s.AccessExpires) {
		return Session{}, ErrUnauthorized
	}
	return s, nil
}

// counter is one failed-proof limit a request counts against: the
// limiter and the request's key in it (spec §4.5).
type counter struct {
	l   ratelimit.Buckets
	key string
}

// proofBuckets are the limits of a proof by a device key (login,
// enroll): the client address and the key. Not the account: a proof by a
// random key tells nothing about the account's own keys, so counting it
// there would only let anyone lock the owner out (issue 11).
func (h *handler) proofBuckets(r *http.Request, key ed25519.PublicKey) []counter {
	return []counter{{h.addr, h.o.ClientAddress(r)}, {h.keys, string(key)}}
}

// limited answers 429 if any of the buckets is used up; it is checked
// before any proof is looked at, so a limited client gets no answer
// about its guess.
func (h *handler) limited(bs ...counter) error {
	var wait time.Duration
	for _, b := range bs {
		wait = max(wait, b.l.Wait(b.key))
	}
	if wait > 0 {
		e := ErrRateLimited.With("too many failed attempts; retry in %d s", seconds(wait)+1)
		e.RetryAfter = wait
		return e
	}
	return nil
}

// failed counts a failed proof against each of the buckets.
func (h *handler) failed(bs ...counter) {
	for _, b := range bs {
		b.l.Take(b.key)
	}
}

// newChallenge issues and stores a challenge; the per-address challenge
// limit keeps one client from filling the backend's challenge store.
func (h *handler) newChallenge(r *http.Request, c Challenge) (Challenge, error) {
	ip := h.o.ClientAddress(r)
	if wait := h.chal.Wait(ip); wait > 0 {
		e := ErrRateLimited.With("too many challenges; retry in %d s", seconds(wait)+1)
		e.RetryAfter = wait
		return c, e
	}
	h.chal.Take(ip)
	if _, err := rand.Read(c.Value[:]); err != nil {
		return c, err
	}
	c.Expires = h.o.Now().Add(h.o.ChallengeTTL)
	return c, h.b.PutChallenge(r.Context(), c)
}

// takeChallenge consumes the challenge of proof p and checks that it was
// issued for purpose, p's address and (unless nil) key, and has not
// expired. Any failure is ErrLoginFailed.
func (h *handler) takeChallenge(ctx context.Context, p proof, purpose Purpose, key ed25519.PublicKey) error {
	c, err := h.b.TakeChallenge(ctx, p.challenge)
	if errors.Is(err, ErrNotFound) {
		return ErrLoginFailed.With("unknown or already used challenge")
	}
	if err != nil {
		return err
	}
	if c.Purpose != purpose || c.Address != p.address || !c.Key.Equal(key) {
		return ErrLoginFailed.With("the challenge was issued for another purpose, address or key")
	}
	if !h.o.Now().Before(c.Expires) {
		return ErrLoginFailed.With("the challenge has expired")
	}
	return nil
}

// newSession makes fresh tokens for account's device and the session that
// stores their hashes.
func (h *handler) newSession(account, deviceID string) (Session, tokensResponse, error) {
	access, ah, err := newToken(labelAccessToken)
	if err != nil {
		return Session{}, tokensResponse{}, err
	}
	refresh, rh, err := newToken(labelRefreshToken)
	if err != nil {
		return Session{}, tokensResponse{}, err
	}
	now := h.o.Now()
	s := Session{
		Account: account, DeviceID: deviceID, Issued: now,
		AccessHash: ah, AccessExpires: now.Add(h.o.AccessTTL),
		RefreshHash: rh, RefreshExpires: now.Add(h.o.RefreshTTL),
	}
	return s, tokensResponse{
		AccessToken: access, RefreshToken: refresh,
		ExpiresIn: seconds(h.o.AccessTTL), RefreshExpiresIn: seconds(h.o.RefreshTTL),
		DeviceID: deviceID,
	}, nil
}

// POST /challenge (spec §4.1). Issued for any address and key, so that
// the answer reveals nothing about which accounts and devices exist.
func (h *handler) challenge(w http.ResponseWriter, r *http.Request) {
	c, err := readJSON(h, w, r, MaxJSON, decodeChallenge)
	if err == nil {
		err = h.checkDomain(c.Address)
	}
	if err == nil {
		c, err = h.newChallenge(r, c)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, challengeResponse{
		Challenge: b64.EncodeToString(c.Value[:]),
		ExpiresIn: seconds(h.o.ChallengeTTL),
	})
}

// POST /login (spec §4.2).
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	p, err := readJSON(h, w, r, MaxJSON, decodeLogin)
	if err == nil {
		err = h.checkDomain(p.address)
	}
	var bs []counter
	if err == nil {
		bs = h.proofBuckets(r, p.key)
		err = h.limited(bs...)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	dev, err := h.loginProof(r.Context(), p)
	if errors.Is(err, ErrLoginFailed) {
		h.failed(bs...)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	s, resp, err := h.newSession(p.address, dev.ID)
	if err == nil {
		err = h.b.CreateSession(r.Context(), s)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// loginProof checks a login: the challenge first (so that a replay fails
// even with a valid signature), then the signature under the key the
// request names, and only then whether that key is a device of the
// account, so that how long a bad signature takes to refuse does not
// depend on whether the account exists.
func (h *handler) loginProof(ctx context.Context, p proof) (Device, error) {
	if err := h.takeChallenge(ctx, p, PurposeLogin, p.key); err != nil {
		return Device{}, err
	}
	if !ed25519.Verify(p.key, LoginMessage(p.challenge, h.o.Domain, p.address, p.key), p.signature) {
		return Device{}, ErrLoginFailed
	}
	dev, err := h.b.Device(ctx, p.address, p.key)
	if errors.Is(err, ErrNotFound) {
		return Device{}, ErrLoginFailed
	}
	return dev, err
}

// POST /refresh (spec §4.3): a new pair of tokens for the old refresh
// token, which stops working.
func (h *handler) refresh(w http.ResponseWriter, r *http.Request) {
	raw, err := readJSON(h, w, r, MaxJSON, decodeRefresh)
	if err != nil {
		h.fail(w, err)
		return
	}
	next, resp, err := h.newSession("", "")
	if err == nil {
		next, err = h.b.Refresh(r.Context(), RefreshTokenHash(raw), next)
	}
	if errors.Is(err, ErrNotFound) {
		err = ErrUnauthorized
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	resp.DeviceID = next.DeviceID
	writeJSON(w, http.StatusOK, resp)
}
