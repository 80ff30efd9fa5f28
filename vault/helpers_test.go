package vault

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"
)

// tinyBounds are the fuzz target's bounds, far below productionBounds so a
// fuzz input costs at most a 64 KiB, two-pass Argon2id. The lower bound,
// 8 KiB, is Argon2's own minimum for one lane; only tests use it.
var tinyBounds = bounds{minMemoryKiB: 8, maxMemoryKiB: 64, maxTime: 2, maxThreads: 2}

// tinyParams are the smallest parameters tinyBounds allow.
var tinyParams = Params{Time: 1, MemoryKiB: 8, Threads: 1}

var testPassword = []byte("correct horse battery staple")

// seedOf returns 32 bytes that are b repeated; distinct b give distinct,
// non-zero seeds.
func seedOf(b byte) []byte { return bytes.Repeat([]byte{b}, seedSize) }

// fixedKeys returns a full key set built from fixed seeds: every field,
// including two retired keys.
func fixedKeys() *Keys {
	return &Keys{
		Address:    "alice@a.test",
		Signing:    ed25519.NewKeyFromSeed(seedOf(1)),
		Encryption: seedOf(2),
		Device:     ed25519.NewKeyFromSeed(seedOf(3)),
		Recovery:   ed25519.NewKeyFromSeed(seedOf(4)),
		Storage:    seedOf(5),
		Retired: []RetiredKey{
			{Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Seed: seedOf(6)},
			{Created: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), Seed: seedOf(7)},
		},
	}
}

// minimalKeys returns a key set with only the required fields.
func minimalKeys() *Keys {
	return &Keys{
		Address:    "b@b.test",
		Signing:    ed25519.NewKeyFromSeed(seedOf(11)),
		Encryption: seedOf(12),
		Device:     ed25519.NewKeyFromSeed(seedOf(13)),
	}
}

func assertKeysEqual(t *testing.T, got, want *Keys) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keys differ:\n got %+v\nwant %+v", got, want)
	}
}
