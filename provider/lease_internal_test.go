package provider

import (
	"testing"
	"time"

	"umbra/provider/store"
)

// TestLeaseHolds: an entry of a claimed batch is sent only while more
// than a quarter of its lease is left (the relay lease bug of issue 15's
// two-node test: a batch slower than the lease was sent by both nodes).
func TestLeaseHolds(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1e9, 0)
	now := t0
	p := &Provider{cfg: Config{ClaimLease: time.Minute, Now: func() time.Time { return now }}}
	e := store.QueueEntry{LeaseUntil: t0.Add(time.Minute)}
	for _, c := range []struct {
		after time.Duration
		holds bool
	}{{0, true}, {44 * time.Second, true}, {45 * time.Second, false}, {2 * time.Minute, false}} {
		now = t0.Add(c.after)
		if got := p.leaseHolds(e); got != c.holds {
			t.Errorf("%v into a 1-minute lease: holds %v, want %v", c.after, got, c.holds)
		}
	}
}
