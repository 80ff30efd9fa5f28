//go:build !race

package main

// importMessages is the size of TestImportKilledAndResumed's corpus.
const importMessages = 2000

// importRSS bounds the peak RSS of each `umbra import` child, whatever
// the number of messages (`umbra bench import --n 100000` stays under it
// too; docs/benchmarks.md).
const importRSS = 200 << 20

// nodesKillMessages is the inbound and the outbound stream of
// TestTwoNodesKilled: 2,000 + 2,000, as issue 15 asks.
const nodesKillMessages = 2000
