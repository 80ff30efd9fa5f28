package sqlite

import (
	"testing"

	"umbra/provider/store/storetest"
)

// FuzzMailbox runs the conformance suite's model-checking fuzzer on one
// SQLite store (a fresh account per input).
//
//	go test -run '^$' -fuzz '^FuzzMailbox$' -fuzztime 10s ./provider/store/sqlite
func FuzzMailbox(f *testing.F) {
	storetest.FuzzMailbox(f, openTest(f, f.TempDir()))
}

// FuzzLogin runs the conformance suite's model-checking fuzzer of
// devices, sessions and challenges on one SQLite store.
//
//	go test -run '^$' -fuzz '^FuzzLogin$' -fuzztime 10s ./provider/store/sqlite
func FuzzLogin(f *testing.F) {
	storetest.FuzzLogin(f, openTest(f, f.TempDir()))
}
