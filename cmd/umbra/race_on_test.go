//go:build race

package main

// importMessages is the size of TestImportKilledAndResumed's corpus: under
// the race detector, which slows the import about tenfold, fewer.
const importMessages = 300

// importRSS bounds the peak RSS of each `umbra import` child. The race
// detector's shadow memory multiplies a program's footprint (5–10× by
// its documentation), so the bound without it is the one that matters.
const importRSS = 1 << 30

// nodesKillMessages is the inbound and the outbound stream of
// TestTwoNodesKilled under the race detector, which slows the nodes, the
// relay and the sealing about tenfold: 2,000 + 2,000 took over 4 minutes
// on the shared 2-core machine, 300 + 300 104 s. The property tested is
// the same.
const nodesKillMessages = 200
