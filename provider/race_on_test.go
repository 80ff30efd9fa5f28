//go:build race

package provider_test

// durabilityMessages is smaller under the race detector, which slows the
// whole pipeline about tenfold; the property tested is the same.
const durabilityMessages = 300

// hostileMessages are the legitimate messages of TestHostileLoad; under
// the race detector, fewer (300 took 10 to 57 s on the shared 2-core
// machine, depending on the other work on it).
const hostileMessages = 100

// hostileRSS bounds the provider's peak RSS in TestHostileLoad. The race
// detector's shadow memory multiplies a program's footprint (5–10× by
// its documentation), so the bound without it is the one that matters.
const hostileRSS = 1 << 30

// hostileRate is how many messages a second alice sends in
// TestHostileLoad, and hostileP99 the bound of their p99 latency: none
// under the race detector, whose slowdown is not what the bound is about
// (the latency is logged).
const (
	hostileRate = 5
	hostileP99  = 0
)

// largeSenders, largeSize and largeRSS are those of
// TestLargeMessagesStreamed, smaller under the race detector (whose
// shadow memory also lifts the RSS; the bound without it is the one that
// matters).
const (
	largeSenders = 4
	largeSize    = 8 << 20
	largeRSS     = 1 << 30
)

// largeDMAP is that of TestLargeMessagesOverDMAP, smaller under the race
// detector.
const largeDMAP = 3
