package bridge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"umbra/dnsrec"
	"umbra/wkd"
)

// Keys of legacy correspondents from their domain's Web Key Directory
// (docs/spec/legacy-pgp.md §5, §7.2). The bridge asks when it is about
// to write to an address for which it has neither an imported key nor a
// usable Autocrypt key, and remembers the answer in the correspondent's
// state, so one look-up serves many messages.
const (
	// wkdFound is how long a key found is used before it is looked up
	// again (a new key, or a revocation, replaces it then).
	wkdFound = 7 * 24 * time.Hour
	// wkdMissing is how long "no key published" stands.
	wkdMissing = 24 * time.Hour
	// wkdFailed is how long the bridge waits after a look-up that got no
	// answer (unreachable, timeout, malformed), so a dead directory does
	// not slow every message.
	wkdFailed = time.Hour
	// wkdTimeout bounds a look-up: the mail client waits for it at
	// submission.
	wkdTimeout = 10 * time.Second
)

// newWKDClient is the bridge's WKD client: host names resolved by res
// (the bridge's one resolver; the system's when nil), the system's roots
// for the directory's certificate, no proxy.
func newWKDClient(res *dnsrec.Resolver) (*wkd.Client, error) {
	dialer := &net.Dialer{Timeout: wkdTimeout}
	if res != nil {
		nr, err := res.NetResolver()
		if err != nil {
			return nil, err
		}
		dialer.Resolver = nr
	}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: wkdTimeout, ForceAttemptHTTP2: true}
	return &wkd.Client{HTTP: &http.Client{Transport: tr}, Timeout: wkdTimeout}, nil
}

// discover looks address up in its domain's WKD when p has no key to
// encrypt to and the last look-up is old enough, and records the outcome
// in the stored state. It returns p with the key found, if any. A failed
// look-up is the directory's fault, not the user's: it is logged at INFO
// and the message goes on as it would without WKD.
func (b *Bridge) discover(ctx context.Context, address string, p peer, now time.Time) (peer, error) {
	if b.wkd == nil || canEncrypt(p.imported, now) || canEncrypt(p.auto.Key, now) || now.Before(p.wkdNext) {
		return p, nil
	}
	key, err := b.wkd.Lookup(ctx, address)
	next := now.Add(wkdFound)
	switch {
	case errors.Is(err, wkd.ErrNotFound):
		next = now.Add(wkdMissing)
	case err != nil:
		if ctx.Err() != nil {
			return p, ctx.Err() // the caller gave up: nothing learned
		}
		b.log.Info("WKD look-up failed; trying again in an hour", "err", err)
		next = now.Add(wkdFailed)
	}
	var out peer
	err = b.updatePeer(ctx, address, now, func(q *peer) bool {
		q.published, q.publishedAt, q.wkdNext = key, now, next
		out = *q
		return true
	})
	return out, err
}
