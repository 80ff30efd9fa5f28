// Package backoff is Umbra's one exponential back-off: the wait before a
// retry doubles from a base up to a ceiling. The provider's relay queue,
// the bridge's outbox and the bridge's sync loops all wait by it.
//
// A Policy is a plain value, safe for concurrent use.
package backoff

import "time"

// Policy is an exponential back-off: Base before the first retry, twice
// the wait before each later one, never more than Max.
type Policy struct {
	Base, Max time.Duration
}

// Delay is the wait after failure n (n ≥ 1; a smaller n counts as 1):
// Base·2^(n−1), at most Max.
func (p Policy) Delay(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}
