package dnsrec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"umbra/dnsrec/dnstest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache(t *testing.T, path string, srv *dnstest.Server, clk *clock) *Cache {
	t.Helper()
	c, err := OpenCache(path, newResolver(srv))
	if err != nil {
		t.Fatal(err)
	}
	c.Now = clk.Now
	return c
}

func check(t *testing.T, c *Cache, domain string, want Status) *Result {
	t.Helper()
	res, err := c.Check(context.Background(), domain)
	if err != nil {
		t.Fatalf("Check(%s): %v", domain, err)
	}
	if res.Status != want {
		t.Fatalf("Check(%s) = %v, want %v", domain, res.Status, want)
	}
	return res
}

// TestDowngrade walks DESIGN §4: a domain seen dark whose record vanishes
// is a downgrade for exp days after it was last seen, then legacy.
func TestDowngrade(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "policy.json")
	c := newCache(t, path, srv, clk)

	check(t, c, "a.test", Legacy) // never seen
	srv.AddTXT("_dime.a.test", testRecord(t, PolicyStrict, 30).TXT()...)
	res := check(t, c, "a.test", Dark)
	seen := clk.Now()
	if res.Answer == nil || res.Answer.Record.Policy != PolicyStrict || res.Cached == nil || !res.Cached.Until.Equal(seen.Add(30*24*time.Hour)) {
		t.Fatalf("dark result %+v", res)
	}

	srv.Remove("_dime.a.test")
	clk.Add(10 * 24 * time.Hour)
	res = check(t, c, "a.test", Downgrade)
	if s := res.Cached; s == nil || !s.LastSeen.Equal(seen) || !s.Until.Equal(seen.Add(30*24*time.Hour)) || s.Policy != PolicyStrict {
		t.Fatalf("downgrade result %+v", res.Cached)
	}

	// The promise survives a restart: a new Cache on the same file.
	c2 := newCache(t, path, srv, clk)
	check(t, c2, "a.test", Downgrade)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file: %v, mode %v; want 0600", err, fi.Mode())
	}

	// One second before the end it still holds; at the end it is gone.
	clk.Add(20*24*time.Hour - time.Second)
	check(t, c2, "a.test", Downgrade)
	clk.Add(time.Second)
	if res := check(t, c2, "a.test", Legacy); res.Cached != nil {
		t.Errorf("expired policy still reported: %+v", res.Cached)
	}
	if n := len(readCacheFile(t, path).Domains); n != 0 {
		t.Errorf("expired entry still in the file (%d entries)", n)
	}
}

func readCacheFile(t *testing.T, path string) cacheFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCacheRefresh(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "policy.json")
	c := newCache(t, path, srv, clk)
	day := 24 * time.Hour
	start := clk.Now()

	srv.AddTXT("_dime.a.test", testRecord(t, PolicyStrict, 30).TXT()...)
	check(t, c, "a.test", Dark)
	// Seen again within the resolution: nothing recorded.
	clk.Add(30 * time.Minute)
	if res := check(t, c, "a.test", Dark); !res.Cached.LastSeen.Equal(start) {
		t.Errorf("sighting after 30 min recorded: %+v", res.Cached)
	}
	// Seen again later: the window moves.
	clk.Add(2 * time.Hour)
	if res := check(t, c, "a.test", Dark); !res.Cached.LastSeen.Equal(clk.Now()) || !res.Cached.Until.Equal(clk.Now().Add(30*day)) {
		t.Errorf("sighting after 2.5 h not recorded: %+v", res.Cached)
	}
	if f := readCacheFile(t, path); !f.Domains["a.test"].LastSeen.Equal(clk.Now()) {
		t.Errorf("file not updated: %+v", f.Domains)
	}
	promised := clk.Now().Add(30 * day)

	// A shorter exp= does not shorten the promise already made.
	srv.Remove("_dime.a.test")
	srv.AddTXT("_dime.a.test", testRecord(t, PolicyMixed, 2).TXT()...)
	clk.Add(day)
	if res := check(t, c, "a.test", Dark); res.Cached.Policy != PolicyMixed || !res.Cached.Until.Equal(promised) {
		t.Errorf("after exp=2: %+v, want until %v", res.Cached, promised)
	}

	// experimental neither creates nor cancels a promise.
	srv.Remove("_dime.a.test")
	srv.AddTXT("_dime.a.test", testRecord(t, PolicyExperimental, 30).TXT()...)
	if res := check(t, c, "a.test", Dark); res.Cached == nil || !res.Cached.Until.Equal(promised) {
		t.Errorf("experimental record: cached %+v", res.Cached)
	}
	srv.Remove("_dime.a.test")
	check(t, c, "a.test", Downgrade)

	srv.AddTXT("_dime.e.test", testRecord(t, PolicyExperimental, 30).TXT()...)
	if res := check(t, c, "e.test", Dark); res.Cached != nil {
		t.Errorf("experimental record cached: %+v", res.Cached)
	}
	srv.Remove("_dime.e.test")
	check(t, c, "e.test", Legacy)
}

// TestCacheErrors: failures other than "no record" are never Legacy, and
// they report the policy in force.
func TestCacheErrors(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	c := newCache(t, filepath.Join(t.TempDir(), "policy.json"), srv, clk)

	srv.AddTXT("_dime.a.test", testRecord(t, PolicyStrict, 30).TXT()...)
	check(t, c, "a.test", Dark)
	srv.Remove("_dime.a.test")
	srv.Fail("_dime.a.test", dns.RcodeServerFailure)
	res, err := c.Check(context.Background(), "a.test")
	if !errors.Is(err, ErrTemporary) || res == nil || res.Status != Unknown || res.Cached == nil {
		t.Errorf("SERVFAIL: %v, %+v", err, res)
	}
	srv.Remove("_dime.a.test")
	srv.AddTXT("_dime.a.test", "ver=1 pok=broken")
	res, err = c.Check(context.Background(), "a.test")
	var pe *ParseError
	if !errors.As(err, &pe) || res.Status != Unknown || res.Cached == nil || res.Answer == nil {
		t.Errorf("malformed: %v, %+v", err, res)
	}

	srv.Fail("_dime.b.test", dns.RcodeServerFailure)
	if res, err := c.Check(context.Background(), "b.test"); !errors.Is(err, ErrTemporary) || res.Status != Unknown || res.Cached != nil {
		t.Errorf("SERVFAIL, never seen: %v, %+v", err, res)
	}
	if res, err := c.Check(context.Background(), "b..test"); err == nil || res != nil {
		t.Errorf("invalid domain: %v, %+v", err, res)
	}
}

func TestCacheFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	later := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	entry := func(domain, pol string, exp int) string {
		return fmt.Sprintf(`{"version":1,"domains":{%q:{"pol":%q,"exp":%d,"last_seen":%q,"until":%q}}}`, domain, pol, exp, now, later)
	}
	for name, text := range map[string]string{
		"not-json":     "{",
		"version":      `{"version":2,"domains":{}}`,
		"domain":       entry("A.test", "strict", 30),
		"policy":       entry("a.test", "experimental", 30),
		"exp":          entry("a.test", "strict", 0),
		"times":        fmt.Sprintf(`{"version":1,"domains":{"a.test":{"pol":"strict","exp":30,"last_seen":%q,"until":%q}}}`, later, now),
		"unknown-name": entry("a..test", "strict", 30),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCache(p, nil); err == nil {
			t.Errorf("%s: OpenCache accepted %s", name, text)
		}
	}
	p := filepath.Join(dir, "good")
	if err := os.WriteFile(p, []byte(entry("a.test", "strict", 30)), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := OpenCache(p, nil); err != nil || c.seen["a.test"].Policy != PolicyStrict {
		t.Errorf("OpenCache(good) = %v", err)
	}
	// A cache in a directory that does not exist cannot be saved: the
	// sighting is reported with the error.
	srv := dnstest.NewServer(t)
	srv.AddTXT("_dime.a.test", testRecord(t, PolicyStrict, 30).TXT()...)
	c, err := OpenCache(filepath.Join(dir, "missing", "policy.json"), newResolver(srv))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Check(context.Background(), "a.test"); err == nil || res.Status != Dark {
		t.Errorf("unsaveable cache: %v, %+v", err, res)
	}
}

// TestCacheConcurrent runs checks from many goroutines (meaningful under
// -race) and checks every sighting reached the file.
func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	path := filepath.Join(t.TempDir(), "policy.json")
	c := newCache(t, path, srv, &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	const n = 16
	for i := range n {
		srv.AddTXT(fmt.Sprintf("_dime.d%d.test", i), testRecord(t, PolicyStrict, 30).TXT()...)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		wg.Go(func() {
			res, err := c.Check(context.Background(), fmt.Sprintf("d%d.test", i%n))
			if err == nil && res.Status != Dark {
				err = fmt.Errorf("status %v", res.Status)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := len(readCacheFile(t, path).Domains); got != n {
		t.Errorf("%d domains in the file, want %d", got, n)
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	for s, want := range map[Status]string{Unknown: "unknown", Dark: "dark", Legacy: "legacy", Downgrade: "downgrade"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}
