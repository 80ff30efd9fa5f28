package dmime

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Fuzz inputs are (base, op, patch). A valid D/MIME message is at least
// 8 KiB (keyslots and padding), and Go's minimiser is quadratic in input
// size, so the targets do not take whole messages as input: base picks a
// valid message built at start-up (or none: patch is then the whole
// input), and op says where and how patch changes it. The fuzzer so
// explores deep into the format with inputs of a few bytes.

// fuzzBases returns the messages inputs are derived from; index 0 is
// empty.
func fuzzBases(f *testing.F, w *world) [][]byte {
	f.Helper()
	bases := [][]byte{nil}
	for _, name := range []string{"vector-1.dmime", "vector-2.dmime"} {
		if v, err := os.ReadFile(filepath.Join(vectorDir, name)); err == nil {
			bases = append(bases, v)
		}
	}
	for _, m := range []string{simpleMIME, mimeCases()["alternative in mixed with inline image"]} {
		bases = append(bases, w.seal(f, []byte(m)), w.sealWith(f, []byte(m), w.paramsV2()))
	}
	return bases
}

// fuzzInput applies op to a copy of the chosen base: the low two bits of
// op choose overwrite, insert, truncate-and-append or XOR; the rest is
// the position.
func fuzzInput(bases [][]byte, base uint8, op uint32, patch []byte) []byte {
	m := bases[int(base)%len(bases)]
	if len(m) == 0 {
		return patch
	}
	pos := int(op>>2) % (len(m) + 1)
	switch op & 3 {
	case 0:
		out := slices.Clone(m)
		copy(out[pos:], patch)
		return out
	case 1:
		return slices.Concat(m[:pos], patch, m[pos:])
	case 2:
		return slices.Concat(m[:pos], patch)
	default:
		out := slices.Clone(m)
		for i, b := range patch {
			if pos+i < len(out) {
				out[pos+i] ^= b
			}
		}
		return out
	}
}

func addFuzzSeeds(f *testing.F, bases [][]byte) {
	for b := range bases {
		f.Add(uint8(b), uint32(0), []byte(nil)) // each base unchanged
	}
	for _, raw := range []string{"", magic, magic + "\x01", magic + "\x02", magic + "\x01\x01\x00\x00\x71", "\x00\x01\x02"} {
		f.Add(uint8(0), uint32(0), []byte(raw))
	}
	f.Add(uint8(1), uint32(11<<2|3), []byte{0xff})         // flip the message ID
	f.Add(uint8(1), uint32(6<<2), []byte{0x40})            // first chunk type
	f.Add(uint8(2), uint32(4000<<2|2), []byte(nil))        // truncate in a keyslot
	f.Add(uint8(2), uint32(7000<<2|1), []byte{0xF1, 0, 0}) // insert a partial chunk
}

func isSentinel(err error) bool {
	return slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) })
}

// FuzzParseChunks feeds mutated messages to the keyless parser: it must
// never panic, every rejection must carry a sentinel error, and an
// accepted message must account for all its bytes.
func FuzzParseChunks(f *testing.F) {
	bases := fuzzBases(f, newWorld(f))
	addFuzzSeeds(f, bases)
	f.Fuzz(func(t *testing.T, base uint8, op uint32, patch []byte) {
		data := fuzzInput(bases, base, op, patch)
		l, err := Inspect(bytes.NewReader(data))
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if l.Size != int64(len(data)) || l.CoreSize > l.Size || len(l.Sections) < minLeaves {
			t.Fatalf("layout %+v for %d bytes", l, len(data))
		}
		var sum int64
		for _, s := range l.Sections {
			sum += s.Bytes
		}
		if sum >= l.CoreSize {
			t.Fatalf("sections take %d of a %d-byte core", sum, l.CoreSize)
		}
	})
}

// FuzzOpen opens mutated messages as the recipient with fixed keys and
// every check on: no panic, sentinel errors only, and nothing accepted
// unless both signatures verified.
func FuzzOpen(f *testing.F) {
	w := newWorld(f)
	bases := fuzzBases(f, w)
	addFuzzSeeds(f, bases)
	f.Fuzz(func(t *testing.T, base uint8, op uint32, patch []byte) {
		data := fuzzInput(bases, base, op, patch)
		o, err := Open(bytes.NewReader(data), RoleRecipient, w.recip.enc, OpenOptions{
			MIME: io.Discard, AuthorKey: w.authorKeys, OriginKeys: []ed25519.PublicKey{w.origin.pub()}, Recipient: w.recip.addr,
		})
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if !o.AuthorVerified || !o.OriginVerified {
			t.Fatalf("accepted without both signatures: %+v", o)
		}
	})
}
