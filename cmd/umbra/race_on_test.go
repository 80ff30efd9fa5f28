//go:build race

package main

// nodesKillMessages is the inbound and the outbound stream of
// TestTwoNodesKilled under the race detector, which slows the nodes, the
// relay and the sealing about tenfold: 2,000 + 2,000 took over 4 minutes
// on the shared 2-core machine, 300 + 300 104 s. The property tested is
// the same.
const nodesKillMessages = 200
