package dmap

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	l := newLimiter(Limit{Burst: 3, Every: time.Minute}, clk.now)
	for i := range 3 {
		if w := l.wait("k"); w != 0 {
			t.Fatalf("attempt %d: wait %v", i, w)
		}
		l.take("k")
	}
	if w := l.wait("k"); w <= 59*time.Second || w > time.Minute {
		t.Fatalf("empty bucket: wait %v, want about a minute", w)
	}
	if w := l.wait("other"); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
	clk.advance(30 * time.Second)
	if w := l.wait("k"); w <= 29*time.Second || w > 30*time.Second {
		t.Fatalf("half refilled: wait %v", w)
	}
	clk.advance(30 * time.Second)
	if w := l.wait("k"); w != 0 {
		t.Fatalf("refilled: wait %v", w)
	}
	// Refill never goes above the burst.
	clk.advance(time.Hour)
	for range 3 {
		l.take("k")
	}
	if w := l.wait("k"); w == 0 {
		t.Fatal("a long pause raised the bucket above its burst")
	}

	off := newLimiter(Limit{Burst: -1, Every: time.Minute}, clk.now)
	for range 10 {
		off.take("k")
	}
	if w := off.wait("k"); w != 0 || len(off.m) != 0 {
		t.Fatalf("disabled limiter: wait %v, %d buckets", w, len(off.m))
	}
}

// TestLimiterBounded: the map never grows past maxBuckets; eviction drops
// the refilled buckets first, then arbitrary ones down to 7/8.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	l := newLimiter(Limit{Burst: 2, Every: time.Hour}, clk.now)
	for i := range maxBuckets + 100 {
		l.take(strconv.Itoa(i))
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
