//go:build !race

package provider_test

// durabilityMessages is the stream the issue asks for.
const durabilityMessages = 2000

// hostileMessages are the legitimate messages of TestHostileLoad
// (issue 11: 1,000).
const hostileMessages = 1000

// hostileRSS bounds the provider's peak RSS in TestHostileLoad (issue
// 11: under 300 MiB).
const hostileRSS = 300 << 20
