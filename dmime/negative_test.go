package dmime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// errorClasses names every sentinel error in the language-neutral form the
// spec's §10 and the negative vectors use.
var errorClasses = map[string]error{
	"not_dmime": ErrNotDMIME, "version": ErrVersion, "truncated": ErrTruncated, "unknown_chunk": ErrUnknownChunk,
	"chunk_order": ErrChunkOrder, "chunk_size": ErrChunkSize, "malformed": ErrMalformed, "trailing_data": ErrTrailingData,
	"keyslot": ErrKeyslot, "key_commitment": ErrKeyCommitment, "segment_auth": ErrSegmentAuth,
	"tree_mismatch": ErrTreeMismatch, "author_signature": ErrAuthorSignature, "origin_signature": ErrOriginSignature,
	"no_origin_signature": ErrNoOriginSignature, "wrong_recipient": ErrWrongRecipient, "padding": ErrPadding,
	"not_permitted": ErrNotPermitted, "input": ErrInput,
}

// negativeVector is one entry of testdata/dmime/negative.json.
type negativeVector struct {
	File        string `json:"file"`
	Error       string `json:"error"`
	Description string `json:"description"`
}

// TestNegativeVectors derives the bad-*.bin files from the positive
// vectors by one named change each, checks they are the stored files
// (-update rewrites them), and that the recipient of vector 2 (with the
// origin's key) refuses each with the error class negative.json names.
func TestNegativeVectors(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v1, v2 := read("vector-1.dmime"), read("vector-2.dmime")
	flip := func(msg []byte, off int) []byte {
		b := slices.Clone(msg)
		b[off] ^= 0x01
		return b
	}
	list, seal := findSpan(t, v2, typeAuthorSignature, 0), findSpan(t, v2, typeAuthorSeal, 0)
	osig := findSpan(t, v2, typeOriginSignature, 0)
	display := findSpan(t, v2, typeDisplay, 0)
	relabelled := slices.Clone(v1)
	relabelled[len(magic)] = version2
	v3 := slices.Clone(v2)
	v3[len(magic)] = 3
	cases := []struct {
		v   negativeVector
		msg []byte
	}{
		{negativeVector{"bad-magic.bin", "not_dmime", "vector 2 with the magic DMIMF"}, append([]byte("DMIMF"), v2[len(magic):]...)},
		{negativeVector{"bad-version-3.bin", "version", "vector 2 with format version 3"}, v3},
		{negativeVector{"bad-v1-relabelled.bin", "keyslot", "vector 1 with its version byte set to 2: the prelude is in the keyslots' associated data"}, relabelled},
		{negativeVector{"bad-no-seal.bin", "truncated", "vector 2 cut where the author seal starts"}, v2[:seal.off]},
		{negativeVector{"bad-seal-flipped.bin", "segment_auth", "vector 2 with the last byte of the author seal flipped"}, flip(v2, seal.end-1)},
		{negativeVector{"bad-leaf-flipped.bin", "tree_mismatch", "vector 2 with a bit of the first leaf of the section list flipped"}, flip(v2, list.off+chunkHeaderLen+2)},
		{negativeVector{"bad-body-flipped.bin", "segment_auth", "vector 2 with the last byte of the first display segment flipped"}, flip(v2, display.end-1)},
		{negativeVector{"bad-origin-signature.bin", "origin_signature", "vector 2 with a bit of the origin signature flipped"}, flip(v2, osig.off+chunkHeaderLen)},
		{negativeVector{"bad-no-origin-signature.bin", "no_origin_signature", "vector 2 without the origin signature and trace"}, v2[:osig.off]},
		{negativeVector{"bad-unknown-chunk.bin", "unknown_chunk", "vector 2 with a chunk of the undefined type 0x33 appended"}, append(slices.Clone(v2), 0x33, 0, 0, 0)},
	}
	var manifest []negativeVector
	for _, c := range cases {
		manifest = append(manifest, c.v)
	}
	js, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	if *update {
		for _, c := range cases {
			if err := os.WriteFile(filepath.Join(vectorDir, c.v.File), c.msg, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(vectorDir, "negative.json"), js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(read("negative.json"), js) {
		t.Error("negative.json differs from what the test derives (run with -update after a deliberate change)")
	}
	w := newWorld(t)
	for _, c := range cases {
		stored := read(c.v.File)
		if !slices.Equal(stored, c.msg) {
			t.Errorf("%s differs from what the test derives", c.v.File)
		}
		_, _, err := w.openRecipient(stored)
		want, ok := errorClasses[c.v.Error]
		if !ok || !errors.Is(err, want) {
			t.Errorf("%s (%s): got %v, want %s", c.v.File, c.v.Description, err, c.v.Error)
		}
	}
}
