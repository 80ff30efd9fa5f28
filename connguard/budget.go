package connguard

import (
	"errors"
	"sync"
)

// ErrBudget is returned by Budget.Take when the budget cannot cover a
// request now.
var ErrBudget = errors.New("connguard: memory budget exhausted")

// Budget is a count of bytes shared by every connection of a server, for
// memory that follows what clients have sent (a message being received):
// each takes what it is about to hold and gives it back when it lets go.
// A request that does not fit fails at once rather than waits, so a
// client that cannot be served is told so instead of holding its
// connection open. A nil *Budget is unlimited.
//
// Concurrency: a Budget is safe for concurrent use.
type Budget struct {
	max int64

	mu   sync.Mutex
	used int64
	peak int64
}

// NewBudget returns a budget of max bytes; max <= 0 returns nil, no bound.
func NewBudget(max int64) *Budget {
	if max <= 0 {
		return nil
	}
	return &Budget{max: max}
}

// Take reserves n bytes, or returns ErrBudget and reserves nothing.
func (b *Budget) Take(n int64) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.max-b.used {
		return ErrBudget
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return nil
}

// Give returns n bytes taken earlier.
func (b *Budget) Give(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 {
		panic("connguard: Budget.Give of more than was taken")
	}
}

// Used returns the bytes held now and the most ever held at once.
func (b *Budget) Used() (now, peak int64) {
	if b == nil {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

// Max returns the size of the budget; 0 for a nil (unlimited) one.
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max
}
