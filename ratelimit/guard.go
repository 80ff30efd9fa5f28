package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Guard slows and caps password guessing at a login that has no better key
// than the whole service (the bridge's IMAP and SMTP listen on loopback
// only, so every client has the same address): each failure in a row
// doubles the delay before the failure is answered, from MinDelay up to
// MaxDelay, and past Limit's burst of failures every attempt is refused at
// once, before the password is checked, until the bucket refills. A
// success ends the run of failures.
//
// The owner's mail client can be delayed by someone guessing on the same
// machine, but for at most the refill time of one token, and the guesser
// gets Limit's rate at most: with the defaults, 20 guesses, then one every
// 6 s.
type Guard struct {
	MinDelay, MaxDelay time.Duration
	lim                *Limiter

	mu    sync.Mutex
	fails int // failures in a row
}

// ErrTooManyFailures is returned by Check while the cap holds.
var ErrTooManyFailures = errors.New("too many failed logins")

// NewGuard returns a Guard with l as the cap on failures (its key is the
// whole service), delays of 500 ms doubling up to 16 s, on the clock now
// (time.Now if nil).
func NewGuard(l Limit, now func() time.Time) *Guard {
	return &Guard{MinDelay: 500 * time.Millisecond, MaxDelay: 16 * time.Second, lim: New(l, now)}
}

// DefaultGuardLimit: 20 failures at once, then one every 6 s (10 a minute).
var DefaultGuardLimit = Limit{Burst: 20, Every: 6 * time.Second}

const guardKey = "login"

// Check runs one login attempt: ok checks the credentials. Over the cap it
// returns ErrTooManyFailures (wrapped, with how long to wait) without
// calling ok; a failure is answered after the delay (or when ctx ends)
// with the error ok returned.
func (g *Guard) Check(ctx context.Context, ok func() error) error {
	if w := g.lim.Wait(guardKey); w > 0 {
		return fmt.Errorf("%w: try again in %v", ErrTooManyFailures, w.Round(time.Second))
	}
	err := ok()
	g.mu.Lock()
	if err == nil {
		g.fails = 0
		g.mu.Unlock()
		return nil
	}
	delay := g.MinDelay << min(g.fails, 16)
	g.fails++
	g.mu.Unlock()
	g.lim.Take(guardKey)
	t := time.NewTimer(min(delay, g.MaxDelay))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return err
}
