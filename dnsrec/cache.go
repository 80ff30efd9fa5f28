package dnsrec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
	"umbra/atomicfile"
)

// Status is what Cache.Check concluded about a domain (docs/spec/dns.md §6).
type Status int

const (
	// Unknown: the check failed; see the error. Never treat as Legacy.
	Unknown Status = iota
	// Dark: the domain publishes a valid record.
	Dark
	// Legacy: no record, and no dark policy in force from an earlier
	// sighting. Legacy delivery is allowed.
	Legacy
	// Downgrade: no record, but the domain was seen dark and the promise
	// of its exp= field still holds. Treat as an attack: hold the mail.
	Downgrade
)

func (s Status) String() string {
	switch s {
	case Dark:
		return "dark"
	case Legacy:
		return "legacy"
	case Downgrade:
		return "downgrade"
	}
	return "unknown"
}

// Seen is a cached sighting of a dark policy.
type Seen struct {
	Policy   Policy
	ExpDays  int
	LastSeen time.Time // when a record with this policy was last recorded
	Until    time.Time // the policy is in force before this instant
}

// Result is the outcome of Cache.Check.
type Result struct {
	Domain string
	Status Status
	// Answer is the resolver's answer when it gave one (also with some
	// errors: see Resolver.Lookup).
	Answer *Answer
	// Cached is the dark policy in force after this check, if any: for
	// Dark the refreshed sighting, for Downgrade the one being defended,
	// with an error whatever was in force.
	Cached *Seen
}

// sightingResolution: a sighting this soon after the recorded one, with
// the same policy and exp, is not written again. It keeps a busy sender
// from writing the file on every message, at the cost of a window up to
// this much shorter than exp.
const sightingResolution = time.Hour

// Cache is the policy cache of DESIGN §4: a domain once seen with a mixed
// or strict record stays dark for exp days after it was last seen, so a
// record that vanishes is reported as a Downgrade, never as Legacy. It is
// persisted in one JSON file, rewritten atomically on every change.
type Cache struct {
	// Resolver answers the look-ups of Check; it must be set.
	Resolver *Resolver
	// Now is the clock; nil means time.Now. Set it before the first Check.
	Now func() time.Time

	path string
	mu   sync.Mutex // guards seen and the file
	seen map[string]Seen
}

// cacheFile is the file format (docs/spec/dns.md §6.3).
type cacheFile struct {
	Version int                  `json:"version"`
	Domains map[string]cacheSeen `json:"domains"`
}

type cacheSeen struct {
	Policy   string    `json:"pol"`
	ExpDays  int       `json:"exp"`
	LastSeen time.Time `json:"last_seen"`
	Until    time.Time `json:"until"`
}

// OpenCache loads the cache file at path; a missing file is an empty
// cache, created on the first change. A file that cannot be read or does
// not follow the format is an error: forgetting dark policies silently
// would turn every cached domain into a downgrade target.
func OpenCache(path string, res *Resolver) (*Cache, error) {
	c := &Cache{Resolver: res, path: path, seen: map[string]Seen{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dnsrec: policy cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("dnsrec: policy cache %s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("dnsrec: policy cache %s: version %d, want 1", path, f.Version)
	}
	for d, e := range f.Domains {
		p, perr := ParsePolicy(e.Policy)
		switch nd, derr := NormalizeDomain(d); {
		case derr != nil || nd != d:
			return nil, fmt.Errorf("dnsrec: policy cache %s: bad domain %q", path, clip(d))
		case perr != nil || !p.Dark():
			return nil, fmt.Errorf("dnsrec: policy cache %s: %s: bad policy %q", path, d, clip(e.Policy))
		case e.ExpDays < MinExpDays || e.ExpDays > MaxExpDays || e.Until.Before(e.LastSeen):
			return nil, fmt.Errorf("dnsrec: policy cache %s: %s: bad exp or times", path, d)
		}
		c.seen[d] = Seen{Policy: p, ExpDays: e.ExpDays, LastSeen: e.LastSeen, Until: e.Until}
	}
	return c, nil
}

// Check looks the domain up and classifies it as Dark, Legacy or
// Downgrade, updating the cache. Any look-up error other than ErrNoRecord
// (temporary failure, DNSSEC failure, malformed or ambiguous record) is
// returned with Status Unknown: the domain is then neither legacy nor
// usable. A Result is returned whenever the domain name is valid, also
// with an error (a failure to save the cache comes with the real Status).
func (c *Cache) Check(ctx context.Context, domain string) (*Result, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	ans, lerr := c.Resolver.Lookup(ctx, d)

	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	res := &Result{Domain: d, Answer: ans}
	res.Status, res.Cached, err = c.classify(d, ans, lerr, now)
	return res, err
}

// classify applies the rules of docs/spec/dns.md §6.2 to one look-up and
// saves the cache if they changed it. c.mu is held.
func (c *Cache) classify(d string, ans *Answer, lerr error, now time.Time) (Status, *Seen, error) {
	dirty := false
	old, had := c.seen[d]
	if had && !now.Before(old.Until) {
		// The promise ran out: forget it.
		delete(c.seen, d)
		had, dirty = false, true
	}
	var inForce *Seen
	if had {
		inForce = &old
	}
	status := Unknown
	switch {
	case lerr == nil:
		status = Dark
		rec := ans.Record
		// experimental promises nothing, and cannot take back an earlier
		// promise either: that stands until it runs out. A sighting soon
		// after the recorded one changes nothing worth a write.
		if rec.Policy.Dark() && !(had && old.Policy == rec.Policy && old.ExpDays == rec.ExpDays && now.Sub(old.LastSeen) < sightingResolution) {
			s := Seen{Policy: rec.Policy, ExpDays: rec.ExpDays, LastSeen: now, Until: now.Add(rec.Expiry())}
			if had && old.Until.After(s.Until) {
				// A shorter exp= shortens future promises, not the one made.
				s.Until = old.Until
			}
			c.seen[d] = s
			inForce, dirty = &s, true
		}
	case errors.Is(lerr, ErrNoRecord):
		status = Legacy
		if had {
			status = Downgrade
		}
		lerr = nil
	}
	if dirty {
		if err := c.save(); err != nil {
			return status, inForce, errors.Join(lerr, err)
		}
	}
	return status, inForce, lerr
}

// save writes the cache file atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync of the directory, so
// a crash leaves either the old or the new file, never a mix.
func (c *Cache) save() error {
	f := cacheFile{Version: 1, Domains: map[string]cacheSeen{}}
	for d, s := range c.seen {
		f.Domains[d] = cacheSeen{Policy: s.Policy.String(), ExpDays: s.ExpDays, LastSeen: s.LastSeen.UTC(), Until: s.Until.UTC()}
	}
	data, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return fmt.Errorf("dnsrec: policy cache: %w", err)
	}
	if err := atomicfile.Replace(c.path, append(data, '\n')); err != nil {
		return fmt.Errorf("dnsrec: policy cache: %w", err)
	}
	return nil
}
