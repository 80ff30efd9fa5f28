//go:build race

package main

// importMessages is the size of TestImportKilledAndResumed's corpus: under
// the race detector, which slows the import about tenfold, fewer.
const importMessages = 300

// importRSS bounds the peak RSS of each `umbra import` child. The race
// detector's shadow memory multiplies a program's footprint (5–10× by
// its documentation), so the bound without it is the one that matters.
const importRSS = 1 << 30
