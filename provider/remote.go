package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"umbra/dmtp"
	"umbra/dnsrec"
	"umbra/provider/store"
	"umbra/signet"
)

// remoteOrg is what the provider knows of another domain: its validated
// organisation signet and where and how to reach its DMTP service.
type remoteOrg struct {
	org *signet.Org
	dx  string // host:port from the _dime record
	pin []byte // TLS pin: the record's, else the signet's
}

// permanentError marks a failure that retrying will not mend (the domain
// has no _dime record, its signet is invalid, the peer answered 5xx).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// remoteCache keeps validated remote organisations in memory for a minute
// (DNS and signet look-ups happen at most that often per domain) and their
// signets in the store until they expire, so a restart need not refetch.
type remoteCache struct {
	p  *Provider
	mu sync.Mutex
	m  map[string]cachedOrg
	// busy holds the look-up in progress for a domain: callers that
	// need the same domain meanwhile wait for it, so a burst of sessions
	// (or a hostile client opening hundreds) makes one DNS query and one
	// SGNT, not one each, which the other domain's per-address
	// connection cap would refuse (issue 11).
	busy map[string]*lookup
}

// lookup is one resolve in progress; done closes when r and err are set.
type lookup struct {
	done chan struct{}
	r    *remoteOrg
	err  error
}

type cachedOrg struct {
	r       *remoteOrg
	expires time.Time
}

const memoryTTL = time.Minute

func newRemoteCache(p *Provider) *remoteCache {
	return &remoteCache{p: p, m: map[string]cachedOrg{}, busy: map[string]*lookup{}}
}

// get returns the validated organisation of domain.
func (c *remoteCache) get(ctx context.Context, domain string) (*remoteOrg, error) {
	now := c.p.cfg.Now()
	c.mu.Lock()
	if e, ok := c.m[domain]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.r, nil
	}
	l, waiting := c.busy[domain]
	if !waiting {
		l = &lookup{done: make(chan struct{})}
		c.busy[domain] = l
	}
	c.mu.Unlock()
	if waiting {
		select {
		case <-l.done:
			return l.r, l.err
		case <-ctx.Done():
			return nil, fmt.Errorf("provider: waiting for the look-up of %s: %w", domain, ctx.Err())
		}
	}
	l.r, l.err = c.resolve(ctx, domain, now)
	c.p.metrics.signetLookups.WithLabelValues(lookupResult(l.err)).Inc()
	c.mu.Lock()
	if l.err == nil {
		c.m[domain] = cachedOrg{r: l.r, expires: now.Add(memoryTTL)}
	}
	delete(c.busy, domain)
	c.mu.Unlock()
	close(l.done)
	return l.r, l.err
}

func lookupResult(err error) string {
	var pe *permanentError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &pe):
		return "permanent"
	}
	return "temporary"
}

// resolve looks up domain's _dime record (through the policy cache, so a
// vanished record of a domain seen dark is a downgrade: mail is held, never
// sent elsewhere), then its organisation signet: from the store if cached
// and still matching the record, else over DMTP SGNT from the domain's own
// server, checked against the record's keys and fingerprint.
func (c *remoteCache) resolve(ctx context.Context, domain string, now time.Time) (*remoteOrg, error) {
	res, err := c.p.dns.Check(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("provider: look up _dime.%s: %w", domain, err)
	}
	switch res.Status {
	case dnsrec.Dark:
	case dnsrec.Downgrade:
		return nil, fmt.Errorf("provider: %s: _dime record vanished while its dark policy is in force until %s: holding mail (possible downgrade attack)",
			domain, res.Cached.Until.Format(time.RFC3339))
	default:
		return nil, permanent("provider: %s has no _dime record: not a dark mail domain", domain)
	}
	rec := res.Answer.Record
	r := &remoteOrg{dx: rec.DX, pin: rec.TLSPin}
	if cached, err := c.p.st.RemoteSignets().Get(ctx, domain); err == nil && now.Before(cached.Expires) {
		if org, err := checkRemoteOrg(cached.Signet, domain, rec, now); err == nil {
			r.org = org
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if r.org == nil {
		raw, err := c.fetchSignet(ctx, domain, rec)
		if err != nil {
			return nil, err
		}
		if r.org, err = checkRemoteOrg(raw, domain, rec, now); err != nil {
			return nil, &permanentError{err}
		}
		expires := earlier(r.org.NotAfter, now.Add(24*time.Hour))
		if err := c.p.st.RemoteSignets().Put(ctx, store.RemoteSignet{Domain: domain, Signet: raw, Fetched: now, Expires: expires}); err != nil {
			return nil, err
		}
	}
	if r.pin == nil {
		r.pin = r.org.TLSPin
	}
	return r, nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// fetchSignet asks the domain's DMTP server for its organisation signet.
func (c *remoteCache) fetchSignet(ctx context.Context, domain string, rec *dnsrec.Record) ([]byte, error) {
	cl, err := c.p.dial(ctx, rec.DX, rec.TLSPin)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	raw, err := cl.Signet(domain, rec.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("provider: SGNT %s at %s: %w", domain, rec.DX, err)
	}
	cl.Quit()
	return raw, nil
}

// dial opens a greeted DMTP connection to dx, pinned to pin when there is
// one (else the certificate must be CA-valid for the host).
func (p *Provider) dial(ctx context.Context, dx string, pin []byte) (*dmtp.Client, error) {
	host, _, err := net.SplitHostPort(dx)
	if err != nil {
		return nil, permanent("provider: bad DMTP endpoint %q: %v", dx, err)
	}
	// At --log-level trace, the lines of the conversation, as the DMTP
	// server logs an inbound one. Keyed dx, not remote as the server's
	// are: the same "C:" and "S:" lines are ours in one and the peer's in
	// the other, and the key tells which.
	d := dmtp.Dialer{Log: p.log.With("dx", dx)}
	cl, err := d.Dial(ctx, dx, dmtp.PinnedConfig(pin, host))
	if err != nil {
		return nil, fmt.Errorf("provider: connect to %s: %w", dx, err)
	}
	if err := cl.Hello(p.domain); err != nil {
		cl.Close()
		return nil, fmt.Errorf("provider: EHLO at %s: %w", dx, err)
	}
	return cl, nil
}

// checkRemoteOrg parses and validates a fetched organisation signet
// against the domain's _dime record (docs/spec/dns.md §4.2, §4.10).
func checkRemoteOrg(raw []byte, domain string, rec *dnsrec.Record, now time.Time) (*signet.Org, error) {
	org, err := signet.ParseOrg(raw)
	if err != nil {
		return nil, fmt.Errorf("provider: organisation signet of %s: %w", domain, err)
	}
	if org.Domain != domain {
		return nil, fmt.Errorf("provider: organisation signet names %s, not %s", org.Domain, domain)
	}
	if !rec.Fingerprint.IsZero() && !org.Fingerprint().Equal(rec.Fingerprint) {
		return nil, fmt.Errorf("provider: organisation signet of %s is %s, but DNS names %s", domain, org.Fingerprint(), rec.Fingerprint)
	}
	known := false
	for _, k := range rec.POKs {
		known = known || k.Equal(org.POK)
	}
	if !known {
		return nil, fmt.Errorf("provider: organisation signet of %s is signed by a POK its DNS record does not list", domain)
	}
	if err := org.Verify(now); err != nil {
		return nil, fmt.Errorf("provider: organisation signet of %s: %w", domain, err)
	}
	return org, nil
}
