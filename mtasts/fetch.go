package mtasts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fetcher finds and caches domains' policies (RFC 8461 §3, §5.1).
type Fetcher struct {
	// LookupTXT answers the _mta-sts TXT query (the relay's resolver).
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// HTTP fetches policies; it must validate certificates (WebPKI) and
	// must not follow redirects (§3.3). Nil: a client that does both.
	HTTP *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CacheFile, if set, keeps the cache across restarts (persist.go).
	CacheFile string

	mu     sync.Mutex
	cache  map[string]cached
	loaded bool // CacheFile read
}

type cached struct {
	id      string
	policy  *Policy
	expires time.Time
}

// fetchTimeout bounds fetching one policy (§3.3 suggests at least a
// minute; a relay that waits longer holds a worker).
const fetchTimeout = 60 * time.Second

// maxCached bounds the cache; past it, it starts over.
const maxCached = 4096

// Policy returns domain's policy, or nil when it publishes none. A cached
// policy is used until it expires or the TXT record's id changes; when
// the TXT record vanishes a cached policy still applies until it expires
// (§5.1: that is the point of caching). An error means no policy could be
// established now although one may exist: the caller treats that as it
// would a policy in testing mode.
func (f *Fetcher) Policy(ctx context.Context, domain string) (*Policy, error) {
	now := f.now()
	f.mu.Lock()
	err := f.load()
	c, ok := f.cache[domain]
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	id, err := f.recordID(ctx, domain)
	switch {
	case err != nil && ok && now.Before(c.expires):
		return c.policy, nil
	case err != nil:
		return nil, err
	case id == "" && ok && now.Before(c.expires):
		return c.policy, nil
	case id == "":
		return nil, nil
	case ok && id == c.id && now.Before(c.expires):
		return c.policy, nil
	}
	p, err := f.fetch(ctx, domain)
	if err != nil {
		if ok && now.Before(c.expires) {
			return c.policy, nil // keep the cached one (§5.1)
		}
		return nil, err
	}
	f.mu.Lock()
	if f.cache == nil || len(f.cache) >= maxCached {
		f.cache = map[string]cached{}
	}
	f.cache[domain] = cached{id: id, policy: p, expires: now.Add(p.MaxAge)}
	err = f.save()
	f.mu.Unlock()
	return p, err
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// recordID returns the id of domain's "v=STSv1" TXT record, "" if it has
// none (§3.1: exactly one; several count as none).
func (f *Fetcher) recordID(ctx context.Context, domain string) (string, error) {
	txts, err := f.LookupTXT(ctx, "_mta-sts."+domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("mtasts: TXT _mta-sts.%s: %w", domain, err)
	}
	var ids []string
	for _, t := range txts {
		if !strings.HasPrefix(t, "v=STSv1;") && t != "v=STSv1" {
			continue
		}
		for _, field := range strings.Split(t, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(field), "="); ok && k == "id" && v != "" && len(v) <= 32 {
				ids = append(ids, v)
			}
		}
	}
	if len(ids) != 1 {
		return "", nil
	}
	return ids[0], nil
}

// fetch gets https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.3).
func (f *Fetcher) fetch(ctx context.Context, domain string) (*Policy, error) {
	cl := f.HTTP
	if cl == nil {
		cl = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://mta-sts."+domain+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mtasts: policy of %s: %w", domain, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mtasts: policy of %s: HTTP %d", domain, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("mtasts: policy of %s: Content-Type %q", domain, clip(resp.Header.Get("Content-Type")))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicy+1))
	if err != nil {
		return nil, fmt.Errorf("mtasts: policy of %s: %w", domain, err)
	}
	return Parse(body)
}
