package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzPassword opens every FuzzOpen seed.
var fuzzPassword = []byte("fuzz")

// sealTiny seals k under fuzzPassword with tinyParams and a fixed salt and
// nonce, so seeds are the same every run.
func sealTiny(tb testing.TB, k *Keys, p Params) []byte {
	tb.Helper()
	random := bytes.NewReader(bytes.Repeat([]byte{0x5a}, saltSize+nonceSize))
	data, err := seal(random, tinyBounds, fuzzPassword, k, p)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// FuzzOpen feeds arbitrary vault bytes to unseal with a fixed password. It
// must never panic; whatever opens must be canonical: sealing the result
// again with the same salt, nonce and parameters gives the same bytes.
// tinyBounds keep each input's Argon2id under 64 KiB: an input asking for
// more is refused before the KDF, like a hostile file in production.
func FuzzOpen(f *testing.F) {
	full := sealTiny(f, fixedKeys(), tinyParams)
	f.Add(full)
	f.Add(sealTiny(f, minimalKeys(), tinyParams))
	withPGP := fixedKeys()
	withPGP.OpenPGP = []byte("an OpenPGP secret key")
	f.Add(sealTiny(f, withPGP, tinyParams))
	f.Add(sealTiny(f, minimalKeys(), Params{Time: 2, MemoryKiB: 16, Threads: 2}))
	f.Add(full[:headerSize])
	f.Add(full[:len(full)-1])
	f.Add(append(bytes.Clone(full), 0))
	f.Add(withParams(full, Params{Time: 1, MemoryKiB: 1 << 20, Threads: 1}))
	f.Add([]byte("UMBRAVLT"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := unseal(data, fuzzPassword, tinyBounds)
		if err != nil {
			if k != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		h, err := parseHeader(data, tinyBounds)
		if err != nil {
			t.Fatalf("opened, but the header does not parse: %v", err)
		}
		again, err := seal(bytes.NewReader(append(h.salt[:], h.nonce[:]...)), tinyBounds, fuzzPassword, k, h.params)
		if err != nil {
			t.Fatalf("opened keys do not seal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("not canonical:\n in  %x\n out %x", data, again)
		}
	})
}

// FuzzDecodeKeys feeds arbitrary plaintext to the key-set decoder: no
// panic, and anything accepted encodes back to exactly the same bytes (one
// encoding per value, spec §5).
func FuzzDecodeKeys(f *testing.F) {
	for _, k := range []*Keys{fixedKeys(), minimalKeys()} {
		b, err := encodeKeys(k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(b, 0))
	}
	f.Add([]byte{})
	f.Add([]byte{tagAddress, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKeys(b)
		if err != nil {
			return
		}
		again, err := encodeKeys(k)
		if err != nil {
			t.Fatalf("decoded keys do not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, again)
		}
	})
}

// FuzzPhrase feeds arbitrary text to the recovery phrase check (user
// input): no panic, a *PhraseError on rejection, and an accepted phrase
// checks its own words back.
func FuzzPhrase(f *testing.F) {
	f.Add(vectorPhrase)
	f.Add(strings.ToUpper(vectorPhrase))
	f.Add("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art")
	f.Add("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
	f.Add("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo")
	f.Add("")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, phrase string) {
		err := CheckPhrase(phrase)
		if err != nil {
			var pe *PhraseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *PhraseError", err)
			}
			return
		}
		words := strings.Fields(strings.ToLower(phrase))
		if !CheckWords(phrase, []int{1, PhraseWords}, []string{words[0], words[PhraseWords-1]}) {
			t.Fatal("an accepted phrase does not check its own words")
		}
	})
}
