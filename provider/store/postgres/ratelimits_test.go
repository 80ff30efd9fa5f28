package postgres

import (
	"sync"
	"testing"
	"time"

	"umbra/ratelimit"
)

// TestRateBucketsAcrossNodes: two nodes count one limit together. Ten
// events of one key, counted concurrently on both, use up a burst of ten
// exactly (the UPSERT is atomic); the key then waits on both nodes, and
// another key does not; the bucket refills with the clock and is swept
// by Checkpoint once full.
func TestRateBucketsAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	now := time.Unix(1_700_000_000, 0) // 2023: the real clock, which Checkpoint sweeps by, is past its refill
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	lim := ratelimit.Limit{Burst: 10, Every: time.Minute}
	bs := []*RateBuckets{ns[0].RateBuckets("login", lim, clock, nil), ns[1].RateBuckets("login", lim, clock, nil)}
	other := ns[0].RateBuckets("backup", lim, clock, nil)

	var wg sync.WaitGroup
	for i := range 9 {
		wg.Go(func() { bs[i%2].Take("10.0.0.1") })
	}
	wg.Wait()
	for i, b := range bs {
		if w := b.Wait("10.0.0.1"); w != 0 {
			t.Fatalf("node %d: wait %v after 9 of 10 events", i+1, w)
		}
	}
	bs[1].Take("10.0.0.1")
	for i, b := range bs {
		if w := b.Wait("10.0.0.1"); w != time.Minute {
			t.Fatalf("node %d: wait %v after 10 of 10 events, want a minute", i+1, w)
		}
	}
	if w := bs[0].Wait("10.0.0.2"); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
	if w := other.Wait("10.0.0.1"); w != 0 {
		t.Fatalf("another limit's bucket waits %v", w)
	}

	mu.Lock()
	now = now.Add(30 * time.Second)
	mu.Unlock()
	if w := bs[1].Wait("10.0.0.1"); w != 30*time.Second {
		t.Fatalf("half a token later: wait %v, want 30s", w)
	}
	// The real clock is far past the bucket's refill: Checkpoint sweeps it.
	if err := ns[0].Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := ns[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM rate_buckets`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d buckets left after the sweep (%v)", left, err)
	}
	if w := bs[0].Wait("10.0.0.1"); w != 0 {
		t.Fatalf("after the sweep: wait %v", w)
	}
}
