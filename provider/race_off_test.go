//go:build !race

package provider_test

import "time"

// durabilityMessages is the stream the issue asks for.
const durabilityMessages = 2000

// hostileMessages are the legitimate messages of TestHostileLoad
// (issue 11: 1,000).
const hostileMessages = 1000

// hostileRSS bounds the provider's peak RSS in TestHostileLoad (issue
// 11: under 300 MiB).
const hostileRSS = 300 << 20

// hostileRate is how many messages a second alice sends in
// TestHostileLoad, and hostileP99 the bound of their p99 latency from
// her submission to bob's bridge (issue 11: under 2 s).
const (
	hostileRate = 40
	hostileP99  = 2 * time.Second
)

// largeSenders messages of largeSize bytes go to b.test at once in
// TestLargeMessagesStreamed (issue 11: 16 of 64 MiB), and largeRSS bounds
// the provider's peak RSS meanwhile: a quarter of what they amount to
// (the whole gigabyte held in memory took 1,054 MiB).
const (
	largeSenders = 16
	largeSize    = 64 << 20
	largeRSS     = 256 << 20
)

// largeDMAP messages of largeSize go over DMAP at once in
// TestLargeMessagesOverDMAP.
const largeDMAP = 8
