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
