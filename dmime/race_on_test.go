//go:build race

package dmime

// raceEnabled: the race detector slows crypto and hashing about tenfold,
// so the streaming test uses less data (see heap_test.go).
const raceEnabled = true
