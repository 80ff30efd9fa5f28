//go:build !race

package main

// nodesKillMessages is the inbound and the outbound stream of
// TestTwoNodesKilled: 2,000 + 2,000, as issue 15 asks.
const nodesKillMessages = 2000
