package dmime

import (
	"fmt"
	"math/bits"
)

// Padding (spec §9.3). The core of a message (prelude through author
// signature) is padded to the smallest bucket that holds it: at least
// MinBucket bytes, then Padmé sizes (Nikitin et al., "Reducing Metadata
// Leakage from Encrypted Files and Communication with PURBs", PETS 2019):
// a length L is rounded up so that only its top ⌊log2 ⌊log2 L⌋⌋+1 bits may
// be non-zero, which costs at most 12% and leaks O(log log L) bits.
// The padding is a section of zero bytes encrypted under its own key, so
// it is authenticated like any content.

// MinBucket is the smallest padded message core.
const MinBucket = 8 << 10

// bucket returns the padded size of a core of l bytes.
func bucket(l int64) int64 {
	if l <= MinBucket {
		return MinBucket
	}
	e := bits.Len64(uint64(l)) - 1 // ⌊log2 l⌋
	s := bits.Len64(uint64(e))     // ⌊log2 e⌋ + 1
	mask := int64(1)<<(e-s) - 1
	return (l + mask) &^ mask
}

// segmentOverhead is the wire cost of one segment beyond its plaintext.
const segmentOverhead = chunkHeaderLen + 1 + tagLen

// paddingWire is the wire size of a padding section of n plaintext bytes.
func paddingWire(n int64) int64 {
	segs := max(1, (n+SegmentSize-1)/SegmentSize)
	return n + segs*segmentOverhead
}

// paddingLen returns the padding plaintext length for a message whose
// core, without the padding section, is l bytes. Some wire sizes cannot be
// reached (a new segment costs 21 bytes at once); then the next bucket is
// used.
func paddingLen(l int64) (int64, error) {
	target := bucket(l + segmentOverhead)
	for range 8 {
		w := target - l // wire bytes the padding section must take
		segs := max(1, (w+SegmentSize+segmentOverhead-1)/(SegmentSize+segmentOverhead))
		for _, s := range []int64{segs - 1, segs, segs + 1} {
			if n := w - s*segmentOverhead; s >= 1 && n >= 0 && paddingWire(n) == w {
				return n, nil
			}
		}
		target = bucket(target + 1)
	}
	return 0, fmt.Errorf("dmime: no padding reaches a bucket above %d bytes", l) // unreachable for sizes below 2^62
}
