package vault

import (
	"testing"
	"time"
)

// benchmarkUnlock measures Unseal, which is Argon2id, HKDF, AES-GCM and the
// key-set decoder: what a user waits for when the bridge starts.
func benchmarkUnlock(b *testing.B, p Params) {
	data, err := Seal(testPassword, fixedKeys(), p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		k, err := Unseal(data, testPassword)
		if err != nil {
			b.Fatal(err)
		}
		k.Zero()
	}
}

// BenchmarkUnlockDefault: DefaultParams (t=3, m=64 MiB, p=4; RFC 9106 §4).
func BenchmarkUnlockDefault(b *testing.B) { benchmarkUnlock(b, DefaultParams()) }

// BenchmarkUnlockMinimal: MinimalParams (t=1, m=8 MiB, p=1), the floor.
func BenchmarkUnlockMinimal(b *testing.B) { benchmarkUnlock(b, MinimalParams()) }

// BenchmarkDecodeKeys: the plaintext decoder alone, on a key set with all
// fields and a year of retired keys (12).
func BenchmarkDecodeKeys(b *testing.B) {
	k := fixedKeys()
	k.Retired = nil
	for i := range 12 {
		k.Retired = append(k.Retired, RetiredKey{Created: time.Unix(int64(1e9+i*30*86400), 0), Seed: seedOf(byte(100 + i))})
	}
	pt, err := encodeKeys(k)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeKeys(pt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecoveryKey: phrase check, BIP-39 PBKDF2 (2048 rounds) and HKDF.
func BenchmarkRecoveryKey(b *testing.B) {
	for b.Loop() {
		if _, err := RecoveryKey(vectorPhrase); err != nil {
			b.Fatal(err)
		}
	}
}
