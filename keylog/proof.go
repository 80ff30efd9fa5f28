package keylog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// MaxProofHashes bounds a proof: a tree of 2⁶³ records needs at most 63
// hashes for an inclusion proof and about twice that for consistency.
const MaxProofHashes = 128

// ErrProof is wrapped by every proof that does not verify or parse.
var ErrProof = errors.New("keylog: proof does not verify")

// EncodeProof is the wire form of a proof (spec §4): the hashes, 32 bytes
// each, concatenated.
func EncodeProof(p []tlog.Hash) []byte {
	b := make([]byte, 0, len(p)*tlog.HashSize)
	for _, h := range p {
		b = append(b, h[:]...)
	}
	return b
}

// DecodeProof parses EncodeProof's form.
func DecodeProof(b []byte) ([]tlog.Hash, error) {
	if len(b)%tlog.HashSize != 0 || len(b)/tlog.HashSize > MaxProofHashes {
		return nil, fmt.Errorf("%w: %d bytes is not a proof", ErrProof, len(b))
	}
	p := make([]tlog.Hash, len(b)/tlog.HashSize)
	for i := range p {
		copy(p[i][:], b[i*tlog.HashSize:])
	}
	return p, nil
}

// VerifyInclusion checks that record, the index-th of the log, is in the
// tree c names (RFC 6962 §2.1.1).
func VerifyInclusion(c Checkpoint, index int64, record []byte, proof []tlog.Hash) error {
	if index < 0 || index >= c.Size {
		return fmt.Errorf("%w: record %d in a tree of %d", ErrProof, index, c.Size)
	}
	if err := tlog.CheckRecord(proof, c.Size, c.Hash, index, tlog.RecordHash(record)); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	return nil
}

// VerifyConsistency checks that the tree newer names extends the one
// older names (RFC 6962 §2.1.2): nothing older showed was removed or
// changed.
func VerifyConsistency(older, newer Checkpoint, proof []tlog.Hash) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: checkpoints of %q and %q", ErrProof, older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("%w: the newer tree (%d) is smaller than the older (%d)", ErrProof, newer.Size, older.Size)
	}
	if older.Size == newer.Size {
		if older.Hash != newer.Hash {
			return fmt.Errorf("%w: two different trees of size %d", ErrProof, older.Size)
		}
		return nil
	}
	if older.Size == 0 {
		return nil // every tree extends the empty one
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Hash, older.Size, older.Hash); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	return nil
}

// EncodeIndexedProof is an inclusion proof that travels on its own (in a
// D/MIME author seal, docs/spec/keylog.md §10): the record's index and the
// tree size it is proved in, each a big-endian uint64, then the proof.
func EncodeIndexedProof(index, size int64, p []tlog.Hash) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(index))
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	return append(b, EncodeProof(p)...)
}

// DecodeIndexedProof parses EncodeIndexedProof's form.
func DecodeIndexedProof(b []byte) (index, size int64, p []tlog.Hash, err error) {
	if len(b) < 16 || b[0]&0x80 != 0 || b[8]&0x80 != 0 {
		return 0, 0, nil, fmt.Errorf("%w: an indexed proof starts with two uint64 below 2^63", ErrProof)
	}
	index, size = int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))
	p, err = DecodeProof(b[16:])
	return index, size, p, err
}
