package syncdoc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"umbra/dmap"
)

// Sealed form (spec §4):
//
//	version (1 byte, 0x01) ‖ nonce (12 bytes) ‖ AES-256-GCM(padded plaintext) with its 16-byte tag
//
// The key is HKDF-SHA256 of the storage key for one document id (spec
// §3); the associated data binds the version, the id, the kind and the
// revision (spec §4.2), so the provider cannot swap documents, serve an
// old revision as a newer one, or relabel a kind.

const (
	sealVersion   = 1
	nonceLen      = 12
	tagLen        = 16
	keyLabel      = "umbra sync document key v1\x00" // HKDF info prefix, spec §3
	storageKeyLen = 32
	minSealed     = sealOverhead + minPadded
)

// Sealer seals and opens the documents of one account. It holds a copy of
// the storage key and derives each document's key when it is needed,
// keeping no derived key between calls.
type Sealer struct {
	storage []byte
	rand    io.Reader // nonces; crypto/rand.Reader except in the vector test
}

// NewSealer returns a Sealer for the 32-byte account storage key
// (vault.Keys.Storage).
func NewSealer(storageKey []byte) (*Sealer, error) {
	if len(storageKey) != storageKeyLen {
		return nil, fmt.Errorf("syncdoc: storage key is %d bytes, want %d: %w", len(storageKey), storageKeyLen, ErrInvalid)
	}
	return &Sealer{storage: append([]byte(nil), storageKey...), rand: rand.Reader}, nil
}

// docKey derives the key of document id (spec §3): HKDF-SHA256 (RFC 5869)
// with the storage key as input keying material, no salt, and info
// "umbra sync document key v1" ‖ 0x00 ‖ id; 32 bytes.
func (s *Sealer) docKey(id string) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, s.storage, nil, keyLabel+id, 32)
	if err != nil {
		return nil, fmt.Errorf("syncdoc: derive key of %s: %w", id, err)
	}
	return k, nil
}

// aead returns the AES-256-GCM instance for document id.
func (s *Sealer) aead(id string) (cipher.AEAD, error) {
	k, err := s.docKey(id)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("syncdoc: key of %s: %w", id, err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("syncdoc: key of %s: %w", id, err)
	}
	return g, nil
}

// checkName checks the id, kind and revision a document is sealed under:
// an id and kind DMAP accepts (docs/spec/dmap.md §2.5) and a revision ≥ 1,
// the revision the document has once stored (expected revision + 1).
func checkName(op, id, kind string, revision int64) error {
	if err := dmap.CheckDocID(id); err != nil {
		return fmt.Errorf("syncdoc: %s: %w: %w", op, ErrInvalid, err)
	}
	if err := dmap.CheckKind(kind); err != nil {
		return fmt.Errorf("syncdoc: %s: %w: %w", op, ErrInvalid, err)
	}
	if revision < 1 {
		return fmt.Errorf("syncdoc: %s %s: revision %d is below 1: %w", op, id, revision, ErrInvalid)
	}
	return nil
}

// additionalData is the GCM associated data (spec §4.2):
// version ‖ len(id) ‖ id ‖ len(kind) ‖ kind ‖ revision (8 bytes, big endian),
// the lengths one byte each (ids ≤ 128, kinds ≤ 32 bytes).
func additionalData(id, kind string, revision int64) []byte {
	ad := make([]byte, 0, 1+1+len(id)+1+len(kind)+8)
	ad = append(ad, sealVersion, byte(len(id)))
	ad = append(ad, id...)
	ad = append(ad, byte(len(kind)))
	ad = append(ad, kind...)
	return binary.BigEndian.AppendUint64(ad, uint64(revision))
}

// Seal pads and encrypts plaintext as document id of the given kind at
// revision (the revision the provider will give it: the PUT's expected
// revision + 1).
func (s *Sealer) Seal(id, kind string, revision int64, plaintext []byte) ([]byte, error) {
	if err := checkName("seal", id, kind, revision); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("syncdoc: seal %s: plaintext is %d bytes, limit %d: %w", id, len(plaintext), MaxPlaintext, ErrInvalid)
	}
	g, err := s.aead(id)
	if err != nil {
		return nil, err
	}
	p := padSize(len(plaintext))
	out := make([]byte, 1+nonceLen+p, 1+nonceLen+p+tagLen)
	out[0] = sealVersion
	nonce := out[1 : 1+nonceLen]
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("syncdoc: seal %s: nonce: %w", id, err)
	}
	body := out[1+nonceLen:]
	copy(body, plaintext)
	body[len(plaintext)] = 0x80 // the rest is already zero
	// In place: body's storage becomes the ciphertext (cipher.AEAD allows
	// exact overlap of dst and plaintext).
	return g.Seal(out[:1+nonceLen], nonce, body, additionalData(id, kind, revision)), nil
}

// Open authenticates and decrypts sealed as document id of the given kind
// at revision (the Umbra-Revision the provider answered), and returns the
// plaintext without its padding. Any change to sealed, or a wrong storage
// key, id, kind or revision, gives ErrAuth; an unknown version byte
// ErrVersion; a length outside the possible ones ErrMalformed.
func (s *Sealer) Open(id, kind string, revision int64, sealed []byte) ([]byte, error) {
	if err := checkName("open", id, kind, revision); err != nil {
		return nil, err
	}
	if len(sealed) < minSealed || len(sealed) > MaxSealed {
		return nil, fmt.Errorf("syncdoc: open %s: sealed document is %d bytes, want %d to %d: %w", id, len(sealed), minSealed, MaxSealed, ErrMalformed)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("syncdoc: open %s: sealed version %d: %w", id, sealed[0], ErrVersion)
	}
	g, err := s.aead(id)
	if err != nil {
		return nil, err
	}
	padded, err := g.Open(nil, sealed[1:1+nonceLen], sealed[1+nonceLen:], additionalData(id, kind, revision))
	if err != nil {
		return nil, fmt.Errorf("syncdoc: open %s (%s, revision %d): %w", id, kind, revision, ErrAuth)
	}
	return unpad(padded)
}
