package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGuard: failures in a row are answered later and later; past the
// burst, attempts are refused without checking the password; a success
// resets the delay; time refills the bucket.
func TestGuard(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	g := NewGuard(Limit{Burst: 4, Every: time.Minute}, clk.now)
	g.MinDelay, g.MaxDelay = time.Millisecond, 4*time.Millisecond
	bad := errors.New("wrong password")
	checked := 0
	try := func(good bool) (time.Duration, error) {
		start := time.Now()
		err := g.Check(context.Background(), func() error {
			checked++
			if good {
				return nil
			}
			return bad
		})
		return time.Since(start), err
	}
	var delays []time.Duration
	for range 3 {
		d, err := try(false)
		if !errors.Is(err, bad) {
			t.Fatalf("a wrong password: %v", err)
		}
		delays = append(delays, d)
	}
	if delays[2] < 4*time.Millisecond || delays[1] < 2*time.Millisecond {
		t.Fatalf("delays %v do not double", delays)
	}
	if _, err := try(true); err != nil {
		t.Fatalf("the right password: %v", err)
	}
	try(false)
	if g.fails != 1 {
		t.Fatalf("after a success and a failure, %d failures in a row", g.fails)
	}
	// Four failures taken: the fifth attempt is refused unchecked.
	before := checked
	if _, err := try(true); !errors.Is(err, ErrTooManyFailures) || checked != before {
		t.Fatalf("over the cap: %v, checked %d more", err, checked-before)
	}
	clk.advance(time.Minute)
	if _, err := try(true); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
}
