package mtasts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"umbra/atomicfile"
)

// The cache on disk (RFC 8461 §5.1: a policy protects only if it is
// remembered, so a restarted relay must not forget it). One JSON file,
// rewritten whole when a policy is learnt: policies are public, and few.

// maxCacheFile bounds the cache file read back.
const maxCacheFile = 16 << 20

type fileEntry struct {
	ID      string    `json:"id"`
	Mode    Mode      `json:"mode"`
	MX      []string  `json:"mx"`
	MaxAge  int64     `json:"max_age"`
	Expires time.Time `json:"expires"`
}

// load reads CacheFile into the cache, once; expired entries are dropped.
// The caller holds f.mu.
func (f *Fetcher) load() error {
	if f.loaded || f.CacheFile == "" {
		return nil
	}
	f.loaded = true
	fh, err := os.Open(f.CacheFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mtasts: cache: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxCacheFile+1))
	if err != nil {
		return fmt.Errorf("mtasts: cache: %w", err)
	}
	if len(data) > maxCacheFile {
		return fmt.Errorf("mtasts: cache %s is over %d bytes", f.CacheFile, maxCacheFile)
	}
	var m map[string]fileEntry
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("mtasts: cache %s: %w", f.CacheFile, err)
	}
	now := f.now()
	f.cache = map[string]cached{}
	for domain, e := range m {
		if !now.Before(e.Expires) || len(f.cache) >= maxCached {
			continue
		}
		switch e.Mode {
		case Enforce, Testing, None:
		default:
			return fmt.Errorf("mtasts: cache %s: %s has mode %q", f.CacheFile, domain, e.Mode)
		}
		f.cache[domain] = cached{id: e.ID, expires: e.Expires,
			policy: &Policy{Mode: e.Mode, MX: e.MX, MaxAge: time.Duration(e.MaxAge) * time.Second}}
	}
	return nil
}

// save writes the cache to CacheFile; the caller holds f.mu.
func (f *Fetcher) save() error {
	if f.CacheFile == "" {
		return nil
	}
	m := make(map[string]fileEntry, len(f.cache))
	for domain, c := range f.cache {
		m[domain] = fileEntry{ID: c.id, Mode: c.policy.Mode, MX: c.policy.MX, MaxAge: int64(c.policy.MaxAge / time.Second), Expires: c.expires}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(f.CacheFile, data); err != nil {
		return fmt.Errorf("mtasts: cache: %w", err)
	}
	return nil
}
