package ratelimit

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a Limiter's clock that tests move forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	l := New(Limit{Burst: 3, Every: time.Minute}, clk.now)
	for i := range 3 {
		if w := l.Wait("k"); w != 0 {
			t.Fatalf("attempt %d: wait %v", i, w)
		}
		l.Take("k")
	}
	if w := l.Wait("k"); w <= 59*time.Second || w > time.Minute {
		t.Fatalf("empty bucket: wait %v, want about a minute", w)
	}
	if w := l.Wait("other"); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
	clk.advance(30 * time.Second)
	if w := l.Wait("k"); w <= 29*time.Second || w > 30*time.Second {
		t.Fatalf("half refilled: wait %v", w)
	}
	clk.advance(30 * time.Second)
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("refilled: wait %v", w)
	}
	// Refill never goes above the burst.
	clk.advance(time.Hour)
	for range 3 {
		l.Take("k")
	}
	if w := l.Wait("k"); w == 0 {
		t.Fatal("a long pause raised the bucket above its burst")
	}

	off := New(Limit{Burst: -1, Every: time.Minute}, clk.now)
	for range 10 {
		off.Take("k")
	}
	if w := off.Wait("k"); w != 0 || len(off.m) != 0 {
		t.Fatalf("disabled limiter: wait %v, %d buckets", w, len(off.m))
	}
}

// TestLimiterBounded: the map never grows past maxBuckets; eviction drops
// the refilled buckets first, then arbitrary ones down to 7/8.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	l := New(Limit{Burst: 2, Every: time.Hour}, clk.now)
	for i := range maxBuckets + 100 {
		l.Take(strconv.Itoa(i))
	}
	if n := len(l.m); n > maxBuckets {
		t.Fatalf("%d buckets, bound %d", n, maxBuckets)
	}

	now := clk.now()
	fill := func(full int) {
		clear(l.m)
		for i := range maxBuckets {
			tokens := 1.0
			if i < full {
				tokens = 2
			}
			l.m[strconv.Itoa(i)] = &bucket{tokens: tokens, at: now}
		}
	}
	fill(maxBuckets / 2)
	l.evict(now)
	if n := len(l.m); n != maxBuckets/2 {
		t.Fatalf("%d buckets left, want the %d that were not full", n, maxBuckets/2)
	}
	for k, b := range l.m {
		if b.tokens >= 2 {
			t.Fatalf("full bucket %s kept", k)
		}
	}
	fill(0)
	l.evict(now)
	if n := len(l.m); n != maxBuckets-maxBuckets/8 {
		t.Fatalf("%d buckets left, want %d", n, maxBuckets-maxBuckets/8)
	}
}
