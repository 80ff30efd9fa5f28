package bridge

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"umbra/dmap"
	"umbra/dmime"
	"umbra/dnsrec"
	"umbra/signet"
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
	homeSrc  source           // the account's provider (DMAP; tests replace it)
	resolver *dnsrec.Resolver // nil: no DNS anchoring, no tunnels
	home     string           // the account's domain
	now      func() time.Time // the bridge's clock (Config.Now)
	log      *slog.Logger     // nil: none; at wiretrace.LevelTrace, tunnelled DMTP is traced
	logs     *logMemory       // the newest checkpoint seen of each log
	mem      *memory          // anchors and verified signets, kept in the local store
	// onDowngrade, if set, is told once when a domain's anchor becomes
	// weaker than this device saw before (trust.go).
	onDowngrade func(ctx context.Context, domain, warning string, was anchorMemory) error

	mu  sync.Mutex
	own ownProof // the account's own signet's log proof (keylog.go)
	// ownEarlier is the account's chain behind its signet (keylog.go).
	ownEarlier ownEarlier
	orgs       map[string]*orgEntry // by domain
	users      map[signet.Fingerprint]*userEntry
	// legacy holds when each domain was last found to have no
	// organisation signet: a domain outside Umbra.
	legacy map[string]time.Time
}

type orgEntry struct {
	org     *signet.Org
	trust   Trust
	fetched time.Time
}

type userEntry struct {
	user  *signet.User
	trust Trust
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
	return &Directory{cl: cl, homeSrc: dmapSource{cl}, resolver: resolver, home: home, now: time.Now, logs: &logMemory{st: st}, mem: &memory{st: st},
		orgs: map[string]*orgEntry{}, users: map[signet.Fingerprint]*userEntry{}, legacy: map[string]time.Time{}}
}

// ErrNoSignet says an address or domain has no signet: it is not a dark
// mail address.
var ErrNoSignet = errors.New("no Umbra signet")

// Org returns domain's current organisation signet, verified, and its
// trust. When it cannot be fetched now but this device saw the domain dark
// and the domain's promise (exp=) is in force, the signet it verified
// before is returned, with the trust it had and a warning.
func (d *Directory) Org(ctx context.Context, domain string) (*signet.Org, Trust, error) {
	if org, t, ok := d.cachedOrg(domain); ok {
		return org, t, nil
	}
	var org *signet.Org
	var t Trust
	err := d.open(ctx, domain, func(s source) (err error) {
		org, t, err = d.orgFrom(ctx, s, domain)
		return err
	})
	if err != nil {
		var pe *permanentError
		if errors.As(err, &pe) {
			return nil, Trust{}, err
		}
		if org, t, ok := d.rememberedOrg(ctx, domain, err); ok {
			return org, t, nil
		}
	}
	return org, t, err
}

// rememberedOrg is the organisation signet of domain this device verified
// before, if the domain's anchor is still in force; the trust carries the
// warning that the domain cannot be checked now (cause).
func (d *Directory) rememberedOrg(ctx context.Context, domain string, cause error) (*signet.Org, Trust, bool) {
	raw, err := d.mem.get(ctx, orgState(domain))
	if err != nil {
		return nil, Trust{}, false
	}
	org, err := signet.ParseOrg(raw)
	if err != nil || org.Domain != domain || org.Verify(d.now()) != nil {
		return nil, Trust{}, false
	}
	warning := WarnUnreached
	if errors.Is(cause, dnsrec.ErrNoRecord) {
		warning = WarnRecordGone
	}
	t, err := d.judge(ctx, domain, LevelProvider, warning, 0)
	if err != nil || t.Warning == "" {
		return nil, Trust{}, false
	}
	return org, t, true
}

func (d *Directory) cachedOrg(domain string) (*signet.Org, Trust, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.orgs[domain]
	if e != nil && d.now().Sub(e.fetched) < orgTTL {
		return e.org, e.trust, true
	}
	return nil, Trust{}, false
}

// orgFrom fetches, verifies, caches and keeps domain's organisation signet.
func (d *Directory) orgFrom(ctx context.Context, s source, domain string) (*signet.Org, Trust, error) {
	if org, t, ok := d.cachedOrg(domain); ok {
		return org, t, nil
	}
	raw, err := s.Signet(ctx, domain, signet.Fingerprint{})
	if errors.Is(err, ErrNoSignet) {
		return nil, Trust{}, err
	}
	if err != nil {
		return nil, Trust{}, fmt.Errorf("fetch the organisation signet of %s: %w", domain, err)
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		return nil, Trust{}, &permanentError{fmt.Errorf("organisation signet of %s: %w", domain, err)}
	}
	if org.Domain != domain {
		return nil, Trust{}, &permanentError{fmt.Errorf("asked for the organisation signet of %s, got the one of %s", domain, org.Domain)}
	}
	if err := org.Verify(d.now()); err != nil {
		return nil, Trust{}, &permanentError{fmt.Errorf("organisation signet of %s: %w", domain, err)}
	}
	t, err := d.anchor(ctx, org)
	if err != nil {
		return nil, Trust{}, err
	}
	if err := d.mem.put(ctx, orgState(domain), raw); err != nil {
		return nil, Trust{}, err
	}
	d.mu.Lock()
	if len(d.orgs) >= maxCached {
		clear(d.orgs)
	}
	d.orgs[domain] = &orgEntry{org: org, trust: t, fetched: d.now()}
	d.mu.Unlock()
	return org, t, nil
}

// anchor checks org against its domain's _dime record: the record must
// list its POK and, when it names one, its fingerprint. A record that
// contradicts the signet is an error; no record, a failed look-up or no
// resolver gives LevelProvider, and DNSSEC LevelDNSSEC — then judged
// against what this device saw of the domain before (trust.go).
func (d *Directory) anchor(ctx context.Context, org *signet.Org) (Trust, error) {
	if d.resolver == nil {
		return Trust{Level: LevelProvider}, nil
	}
	ans, err := d.resolver.Lookup(ctx, org.Domain)
	if err != nil || ans.Record == nil {
		return d.judge(ctx, org.Domain, LevelProvider, warningFor(err), 0)
	}
	rec := ans.Record
	if !slices.ContainsFunc(rec.POKs, func(k ed25519.PublicKey) bool { return k.Equal(org.POK) }) {
		return Trust{}, &permanentError{fmt.Errorf("the organisation signet of %s is signed by a key its _dime record does not list", org.Domain)}
	}
	if !rec.Fingerprint.IsZero() && !rec.Fingerprint.Equal(org.Fingerprint()) {
		return Trust{}, &permanentError{fmt.Errorf("the organisation signet of %s is not the one its _dime record names", org.Domain)}
	}
	level := LevelChained
	if ans.Authenticated {
		level = LevelDNSSEC
	}
	return d.judge(ctx, org.Domain, level, "", rec.ExpDays)
}

// User returns address's user signet with fingerprint fp (zero: the
// current one), verified against its organisation signet and, when the
// organisation keeps a log, proved to be in it; and its trust. A signet
// asked for by fingerprint that this device verified before is not asked
// for again.
func (d *Directory) User(ctx context.Context, address string, fp signet.Fingerprint) (*signet.User, Trust, error) {
	if !fp.IsZero() {
		d.mu.Lock()
		e := d.users[fp]
		d.mu.Unlock()
		if e != nil && e.user.Address == address {
			return e.user, e.trust, nil
		}
		if u, t, ok := d.rememberedUser(ctx, address, fp); ok {
			return u, t, nil
		}
	}
	var u *signet.User
	var t Trust
	err := d.open(ctx, signet.DomainOf(address), func(s source) (err error) {
		u, t, err = d.userFrom(ctx, s, address, fp)
		return err
	})
	if err != nil {
		return nil, Trust{}, err
	}
	d.remember(u, t)
	return u, t, d.mem.put(ctx, signetState(u.Fingerprint()), u.Bytes())
}

// UserCarried is User for the signet a message carried (D/MIME version 2
// seals the author's signet with the signature): the bytes are checked as
// a fetched signet is — fingerprint, organisation, log — but not fetched,
// so receiving mail from a new correspondent asks their domain for the
// inclusion proof at most, and not even that when the message carries the
// proof (keylog.go, checkCarried).
func (d *Directory) UserCarried(ctx context.Context, address string, fp signet.Fingerprint, carried *dmime.Carried) (*signet.User, Trust, error) {
	d.mu.Lock()
	e := d.users[fp]
	d.mu.Unlock()
	if e != nil && e.user.Address == address {
		return e.user, e.trust, nil
	}
	if u, t, ok := d.rememberedUser(ctx, address, fp); ok {
		return u, t, nil
	}
	u, err := signet.ParseUser(carried.Signet)
	if err != nil {
		return nil, Trust{}, &permanentError{fmt.Errorf("the signet the message carries for %s: %w", address, err)}
	}
	if u.Address != address || !u.Fingerprint().Equal(fp) {
		return nil, Trust{}, &permanentError{fmt.Errorf("the message carries another signet than the one of %s it names", address)}
	}
	domain := signet.DomainOf(address)
	org, t, err := d.Org(ctx, domain)
	if err != nil {
		return nil, Trust{}, err
	}
	if err := u.Verify(org, d.now()); err != nil {
		return nil, Trust{}, &permanentError{fmt.Errorf("the signet of %s does not verify: %w", address, err)}
	}
	if org.LogKey != "" {
		proved, err := d.checkCarried(ctx, org, u, carried)
		if err == nil && !proved {
			err = d.open(ctx, domain, func(s source) error { return d.proveLogged(ctx, s, org, u) })
		}
		if err != nil {
			return nil, Trust{}, err
		}
	}
	d.remember(u, t)
	return u, t, d.mem.put(ctx, signetState(fp), carried.Signet)
}

func (d *Directory) remember(u *signet.User, t Trust) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.users) >= maxCached {
		clear(d.users)
	}
	d.users[u.Fingerprint()] = &userEntry{user: u, trust: t}
}

// rememberedUser is the signet fp of address as this device verified it
// before (proved in its log then), verified again against the current
// organisation signet.
func (d *Directory) rememberedUser(ctx context.Context, address string, fp signet.Fingerprint) (*signet.User, Trust, bool) {
	raw, err := d.mem.get(ctx, signetState(fp))
	if err != nil {
		return nil, Trust{}, false
	}
	u, err := signet.ParseUser(raw)
	if err != nil || u.Address != address || !u.Fingerprint().Equal(fp) {
		return nil, Trust{}, false
	}
	org, t, err := d.Org(ctx, signet.DomainOf(address))
	if err != nil || u.Verify(org, d.now()) != nil {
		return nil, Trust{}, false
	}
	d.remember(u, t)
	return u, t, true
}

func (d *Directory) userFrom(ctx context.Context, s source, address string, fp signet.Fingerprint) (*signet.User, Trust, error) {
	raw, err := s.Signet(ctx, address, fp)
	if errors.Is(err, ErrNoSignet) {
		return nil, Trust{}, err
	}
	if err != nil {
		return nil, Trust{}, fmt.Errorf("fetch the signet of %s: %w", address, err)
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		return nil, Trust{}, &permanentError{fmt.Errorf("signet of %s: %w", address, err)}
	}
	if u.Address != address || (!fp.IsZero() && !u.Fingerprint().Equal(fp)) {
		return nil, Trust{}, &permanentError{fmt.Errorf("got another signet than the one of %s asked for", address)}
	}
	org, t, err := d.orgFrom(ctx, s, signet.DomainOf(address))
	if err != nil {
		return nil, Trust{}, err
	}
	if err := u.Verify(org, d.now()); err != nil {
		return nil, Trust{}, &permanentError{fmt.Errorf("the signet of %s does not verify: %w", address, err)}
	}
	if err := d.proveLogged(ctx, s, org, u); err != nil {
		return nil, Trust{}, err
	}
	return u, t, nil
}
