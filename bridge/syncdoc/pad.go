package syncdoc

import (
	"fmt"
	"math/bits"
)

// Padding (spec §4.1). A plaintext of n bytes is followed by one 0x80 byte
// and then zero bytes up to padSize(n+1), the Padmé bucket of Nikitin et
// al., "Reducing Metadata Leakage from Encrypted Files and Communication
// with PURBs" (PETS 2019): a length L is rounded up so that only its top
// ⌊log2 ⌊log2 L⌋⌋+1 bits may be non-zero, costing at most 12% and leaking
// O(log log L) bits of the size. The rounding is the same as dmime's
// (docs/spec/dmime.md §9.3), implemented here once because dmime does not
// export it. The 0x80 marker (ISO/IEC 7816-4 padding) makes the padding
// removable without a length field: the plaintext ends just before the
// last non-zero byte.

const (
	// minPadded is the smallest padded plaintext: a meta document is about
	// a hundred bytes, so every small one looks alike.
	minPadded = 256
	// sealOverhead is what sealing adds to the padded plaintext: the
	// version byte, the nonce and the GCM tag.
	sealOverhead = 1 + nonceLen + tagLen
	// MaxSealed is the largest sealed document: DMAP's default document
	// limit (docs/spec/dmap.md §2.5).
	MaxSealed = 64 << 20
	// maxPadded is the largest padded plaintext; padSize caps at it.
	maxPadded = MaxSealed - sealOverhead
	// MaxPlaintext is the largest plaintext Seal accepts.
	MaxPlaintext = maxPadded - 1
)

// padme returns the Padmé bucket of l ≥ 1.
func padme(l int) int {
	if l < 2 {
		return l
	}
	e := bits.Len(uint(l)) - 1 // ⌊log2 l⌋
	s := bits.Len(uint(e))     // ⌊log2 e⌋ + 1
	mask := 1<<(e-s) - 1
	return (l + mask) &^ mask
}

// padSize is the padded length of a plaintext of n bytes (0 ≤ n ≤
// MaxPlaintext): the bucket of n+1 (the marker), at least minPadded and at
// most maxPadded.
func padSize(n int) int {
	return min(max(padme(n+1), minPadded), maxPadded)
}

// unpad returns the plaintext inside a decrypted padded plaintext, and
// checks that the padding is exactly what padSize gives, so every
// plaintext has one sealed length.
func unpad(p []byte) ([]byte, error) {
	i := len(p) - 1
	for i >= 0 && p[i] == 0 {
		i--
	}
	if i < 0 || p[i] != 0x80 {
		return nil, fmt.Errorf("syncdoc: open: padding has no 0x80 marker: %w", ErrMalformed)
	}
	if want := padSize(i); want != len(p) {
		return nil, fmt.Errorf("syncdoc: open: %d bytes padded to %d, want %d: %w", i, len(p), want, ErrMalformed)
	}
	return p[:i], nil
}
