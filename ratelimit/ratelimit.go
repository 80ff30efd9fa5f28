// Package ratelimit keeps token buckets per key (a client address, a
// device key, an account): Burst events at once, then one more every
// Every. Only counted events take tokens; Wait says how long a key must
// wait before its next attempt is even considered. The memory of one
// Limiter is bounded (maxBuckets). LogHandler applies such limits to log
// records, Guard to password guessing.
//
// Concurrency: a Limiter is safe for concurrent use.
package ratelimit

import (
	"sync"
	"time"
)

// Limit configures a token bucket: Burst attempts at once,
// then one more every Every. A zero Limit takes the default of the field
// it is in; a negative Burst switches the limit off.
type Limit struct {
	Burst int
	Every time.Duration
}

// maxBuckets bounds the memory of one limiter. When it is full, buckets
// that have refilled completely are dropped first (they hold no state
// worth keeping); if none has, arbitrary ones are, which at worst forgets
// some attempts of a client that is already flooding the limiter with
// fresh keys.
const maxBuckets = 1 << 16

// Limiter keeps one token bucket per key.
type Limiter struct {
	lim Limit
	now func() time.Time

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a Limiter of l on the clock now (time.Now if nil).
func New(l Limit, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{lim: l, now: now, m: map[string]*bucket{}}
}

// refill brings b up to date at now and reports whether it is full.
func (l *Limiter) refill(b *bucket, now time.Time) bool {
	if el := now.Sub(b.at); el > 0 {
		b.tokens += float64(el) / float64(l.lim.Every)
		b.at = now
	}
	if b.tokens >= float64(l.lim.Burst) {
		b.tokens = float64(l.lim.Burst)
		return true
	}
	return false
}

// Wait returns 0 if key may try now, else how long until it may.
func (l *Limiter) Wait(key string) time.Duration {
	if l.lim.Burst < 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		return 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.lim.Every))
}

// Take counts one event against key.
func (l *Limiter) Take(key string) {
	if l.lim.Burst < 0 {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.lim.Burst), at: now}
		l.m[key] = b
	}
	l.refill(b, now)
	b.tokens = max(b.tokens-1, 0)
}

// evict frees room: the full buckets, and if that is not enough, arbitrary
// ones down to seven eighths of maxBuckets, so that a flood of fresh keys
// pays for one sweep per maxBuckets/8 insertions, not one per insertion.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.m {
		if l.refill(b, now) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) <= maxBuckets-maxBuckets/8 {
			return
		}
		delete(l.m, k)
	}
}

// Buckets counts events per key against one Limit: a Limiter, in this
// process's memory, or buckets in a database that several processes
// share, so that a limit holds across them (the PostgreSQL store's).
type Buckets interface {
	// Wait returns 0 if key may try now, else how long until it may.
	Wait(key string) time.Duration
	// Take counts one event against key.
	Take(key string)
}

var _ Buckets = (*Limiter)(nil)
