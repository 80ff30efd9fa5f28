package bridge

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"umbra/dmap"
	"umbra/dnsrec"
	"umbra/signet"
)

// Key validation levels, as the Umbra-Security header names them.
const (
	// LevelChained: the user signet is certified by its organisation
	// signet, and that organisation signet is the one the domain's _dime
	// record names (docs/spec/signet.md §5, docs/spec/dns.md): a chain from
	// DNS to the key.
	LevelChained = "chained"
	// LevelProvider: certified by an organisation signet that DNS could not
	// confirm (no resolver, or the look-up failed); the provider vouches.
	LevelProvider = "provider"
)

// Directory finds and validates signets: those of the account's own domain
// from its provider, every other domain's from that domain itself through
// a tunnel (lookup.go). Answers are unverified data, so every signet is
// checked here: its organisation's certification, the organisation signet
// against DNS, and, when the organisation names a transparency log, a
// proof that the signet is in that log (keylog.go). Verified signets are
// cached by fingerprint.
//
// A Directory is safe for concurrent use.
type Directory struct {
	cl       *dmap.Client
	resolver *dnsrec.Resolver // nil: no DNS anchoring, no tunnels
	home     string           // the account's domain
	logs     *logMemory       // the newest checkpoint seen of each log

	mu    sync.Mutex
	orgs  map[string]*orgEntry // by domain
	users map[signet.Fingerprint]*userEntry
	// legacy holds when each domain was last found to have no
	// organisation signet: a domain outside Umbra.
	legacy map[string]time.Time
}

type orgEntry struct {
	org     *signet.Org
	level   string
	fetched time.Time
}

type userEntry struct {
	user  *signet.User
	level string
}

// orgTTL bounds how long a verified organisation signet is trusted without
// asking again, so a rotation is seen within minutes.
const orgTTL = 10 * time.Minute

// maxCached bounds each cache; past it the cache starts over.
const maxCached = 4096

// NewDirectory returns a directory for an account of the domain home,
// asking cl, and resolver (may be nil) for the _dime records that anchor
// organisation signets and name other domains' DMTP services. st (may be
// nil) keeps the newest checkpoint of each log across restarts.
func NewDirectory(cl *dmap.Client, resolver *dnsrec.Resolver, home string, st stateStore) *Directory {
	return &Directory{cl: cl, resolver: resolver, home: home, logs: &logMemory{st: st},
		orgs: map[string]*orgEntry{}, users: map[signet.Fingerprint]*userEntry{}, legacy: map[string]time.Time{}}
}

// ErrNoSignet says an address or domain has no signet: it is not a dark
// mail address.
var ErrNoSignet = errors.New("no Umbra signet")

// Org returns domain's current organisation signet, verified, and its level.
func (d *Directory) Org(ctx context.Context, domain string) (*signet.Org, string, error) {
	if org, level, ok := d.cachedOrg(domain); ok {
		return org, level, nil
	}
	var org *signet.Org
	var level string
	err := d.open(ctx, domain, func(s source) (err error) {
		org, level, err = d.orgFrom(ctx, s, domain)
		return err
	})
	return org, level, err
}

func (d *Directory) cachedOrg(domain string) (*signet.Org, string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.orgs[domain]
	if e != nil && time.Since(e.fetched) < orgTTL {
		return e.org, e.level, true
	}
	return nil, "", false
}

// orgFrom fetches, verifies and caches domain's organisation signet.
func (d *Directory) orgFrom(ctx context.Context, s source, domain string) (*signet.Org, string, error) {
	if org, level, ok := d.cachedOrg(domain); ok {
		return org, level, nil
	}
	raw, err := s.Signet(ctx, domain, signet.Fingerprint{})
	if errors.Is(err, ErrNoSignet) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", fmt.Errorf("fetch the organisation signet of %s: %w", domain, err)
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		return nil, "", &permanentError{fmt.Errorf("organisation signet of %s: %w", domain, err)}
	}
	if org.Domain != domain {
		return nil, "", &permanentError{fmt.Errorf("asked for the organisation signet of %s, got the one of %s", domain, org.Domain)}
	}
	if err := org.Verify(time.Now()); err != nil {
		return nil, "", &permanentError{fmt.Errorf("organisation signet of %s: %w", domain, err)}
	}
	level, err := d.anchor(ctx, org)
	if err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	if len(d.orgs) >= maxCached {
		clear(d.orgs)
	}
	d.orgs[domain] = &orgEntry{org: org, level: level, fetched: time.Now()}
	d.mu.Unlock()
	return org, level, nil
}

// anchor checks org against its domain's _dime record: the record must
// list its POK and, when it names one, its fingerprint. A record that
// contradicts the signet is an error; no record or no resolver gives
// LevelProvider.
func (d *Directory) anchor(ctx context.Context, org *signet.Org) (string, error) {
	if d.resolver == nil {
		return LevelProvider, nil
	}
	ans, err := d.resolver.Lookup(ctx, org.Domain)
	if err != nil || ans.Record == nil {
		return LevelProvider, nil
	}
	rec := ans.Record
	if !slices.ContainsFunc(rec.POKs, func(k ed25519.PublicKey) bool { return k.Equal(org.POK) }) {
		return "", &permanentError{fmt.Errorf("the organisation signet of %s is signed by a key its _dime record does not list", org.Domain)}
	}
	if !rec.Fingerprint.IsZero() && !rec.Fingerprint.Equal(org.Fingerprint()) {
		return "", &permanentError{fmt.Errorf("the organisation signet of %s is not the one its _dime record names", org.Domain)}
	}
	return LevelChained, nil
}

// User returns address's user signet with fingerprint fp (zero: the
// current one), verified against its organisation signet and, when the
// organisation keeps a log, proved to be in it; and its level.
func (d *Directory) User(ctx context.Context, address string, fp signet.Fingerprint) (*signet.User, string, error) {
	if !fp.IsZero() {
		d.mu.Lock()
		e := d.users[fp]
		d.mu.Unlock()
		if e != nil && e.user.Address == address {
			return e.user, e.level, nil
		}
	}
	var u *signet.User
	var level string
	err := d.open(ctx, signet.DomainOf(address), func(s source) (err error) {
		u, level, err = d.userFrom(ctx, s, address, fp)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	if len(d.users) >= maxCached {
		clear(d.users)
	}
	d.users[u.Fingerprint()] = &userEntry{user: u, level: level}
	d.mu.Unlock()
	return u, level, nil
}

func (d *Directory) userFrom(ctx context.Context, s source, address string, fp signet.Fingerprint) (*signet.User, string, error) {
	raw, err := s.Signet(ctx, address, fp)
	if errors.Is(err, ErrNoSignet) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", fmt.Errorf("fetch the signet of %s: %w", address, err)
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		return nil, "", &permanentError{fmt.Errorf("signet of %s: %w", address, err)}
	}
	if u.Address != address || (!fp.IsZero() && !u.Fingerprint().Equal(fp)) {
		return nil, "", &permanentError{fmt.Errorf("got another signet than the one of %s asked for", address)}
	}
	org, level, err := d.orgFrom(ctx, s, signet.DomainOf(address))
	if err != nil {
		return nil, "", err
	}
	if err := u.Verify(org, time.Now()); err != nil {
		return nil, "", &permanentError{fmt.Errorf("the signet of %s does not verify: %w", address, err)}
	}
	if err := d.proveLogged(ctx, s, org, u); err != nil {
		return nil, "", err
	}
	return u, level, nil
}
