package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
)

// Header layout (spec §2). Every field is fixed-size, big-endian.
const (
	magic       = "UMBRAVLT"
	version1    = 1 // the only version
	kdfArgon2id = 1 // Argon2id, version 0x13 (RFC 9106)
	saltSize    = 16
	nonceSize   = 12
	tagSize     = 16
	// headerSize: magic 8, version 1, KDF id 1, time 4, memory 4,
	// threads 1, salt 16, nonce 12, ciphertext length 4.
	headerSize = 8 + 1 + 1 + 4 + 4 + 1 + saltSize + nonceSize + 4

	// MaxFileSize bounds a whole vault, file or bytes (spec §2).
	MaxFileSize = 1 << 20
	// maxPlaintext is the largest key set that fits in MaxFileSize.
	maxPlaintext = MaxFileSize - headerSize - tagSize

	// keyInfo separates the AES key from anything else a later version
	// might derive from the same Argon2id output (spec §3).
	keyInfo = "umbra vault v1 aes-256-gcm key"
)

// header is a parsed vault header.
type header struct {
	params Params
	salt   [saltSize]byte
	nonce  [nonceSize]byte
	ctLen  uint32 // ciphertext length including the GCM tag
}

func (h *header) appendTo(b []byte) []byte {
	b = append(b, magic...)
	b = append(b, version1, kdfArgon2id)
	b = binary.BigEndian.AppendUint32(b, h.params.Time)
	b = binary.BigEndian.AppendUint32(b, h.params.MemoryKiB)
	b = append(b, h.params.Threads)
	b = append(b, h.salt[:]...)
	b = append(b, h.nonce[:]...)
	return binary.BigEndian.AppendUint32(b, h.ctLen)
}

// parseHeader checks everything that can be checked without the password,
// in the order of spec §4, so that no hostile header reaches Argon2id.
func parseHeader(data []byte, lim bounds) (*header, error) {
	if len(data) > MaxFileSize {
		return nil, formatErr("vault", "%d bytes, over the %d-byte limit", len(data), MaxFileSize)
	}
	if len(data) < headerSize {
		return nil, formatErr("header", "truncated: %d bytes, the header alone is %d", len(data), headerSize)
	}
	if string(data[:len(magic)]) != magic {
		return nil, formatErr("header.magic", "not an Umbra vault (no %q at the start)", magic)
	}
	if v := data[8]; v != version1 {
		return nil, formatErr("header.version", "unknown version %d, this program reads version %d", v, version1)
	}
	if id := data[9]; id != kdfArgon2id {
		return nil, formatErr("header.kdf", "unknown key derivation function %d, want %d (Argon2id)", id, kdfArgon2id)
	}
	h := &header{params: Params{
		Time:      binary.BigEndian.Uint32(data[10:]),
		MemoryKiB: binary.BigEndian.Uint32(data[14:]),
		Threads:   data[18],
	}}
	if err := h.params.check(lim); err != nil {
		return nil, err
	}
	copy(h.salt[:], data[19:])
	copy(h.nonce[:], data[19+saltSize:])
	h.ctLen = binary.BigEndian.Uint32(data[headerSize-4:])
	if got := len(data) - headerSize; uint64(h.ctLen) != uint64(got) {
		return nil, formatErr("header.length", "ciphertext length %d but %d bytes follow the header (truncated or trailing bytes)", h.ctLen, got)
	}
	if h.ctLen < tagSize {
		return nil, formatErr("header.length", "ciphertext length %d is shorter than the %d-byte tag", h.ctLen, tagSize)
	}
	return h, nil
}

// deriveKey derives the vault's AES-256 key (spec §3):
// AES key = HKDF-SHA256(IKM = Argon2id(password, salt, t, m, p, 32 bytes),
// salt = empty, info = keyInfo, 32 bytes). The password itself keys nothing.
// The caller clears the result.
func deriveKey(password []byte, h *header) ([]byte, error) {
	ikm := argon2.IDKey(password, h.salt[:], h.params.Time, h.params.MemoryKiB, h.params.Threads, 32)
	defer clear(ikm)
	return hkdf.Key(sha256.New, ikm, nil, keyInfo, 32)
}

// newAEAD returns AES-256-GCM under the derived key.
func newAEAD(password []byte, h *header) (cipher.AEAD, error) {
	key, err := deriveKey(password, h)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts keys under password with Argon2id parameters p and returns
// the vault bytes (spec §2). Salt and nonce are fresh from crypto/rand.
func Seal(password []byte, keys *Keys, p Params) ([]byte, error) {
	data, err := seal(rand.Reader, productionBounds, password, keys, p)
	if err != nil {
		return nil, fmt.Errorf("vault: seal: %w", err)
	}
	return data, nil
}

// Unseal opens vault bytes with password. A wrong password and any change to
// the bytes give ErrWrongPassword; a malformed header gives *FormatError
// before any key derivation runs.
func Unseal(data, password []byte) (*Keys, error) {
	k, err := unseal(data, password, productionBounds)
	if err != nil {
		return nil, fmt.Errorf("vault: unseal: %w", err)
	}
	return k, nil
}

// seal is Seal with its randomness (salt then nonce) and bounds injectable,
// for the test vectors of spec §9 and the fuzz seeds.
func seal(random io.Reader, lim bounds, password []byte, keys *Keys, p Params) ([]byte, error) {
	if len(password) == 0 {
		return nil, ErrEmptyPassword
	}
	if err := p.check(lim); err != nil {
		return nil, err
	}
	pt, err := encodeKeys(keys)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	// Keys.validate bounds a key set far below maxPlaintext (spec §5), so
	// the length fits.
	h := &header{params: p, ctLen: uint32(len(pt) + tagSize)}
	if _, err := io.ReadFull(random, h.salt[:]); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	if _, err := io.ReadFull(random, h.nonce[:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	aead, err := newAEAD(password, h)
	if err != nil {
		return nil, err
	}
	hdr := h.appendTo(make([]byte, 0, headerSize+int(h.ctLen)))
	// The header is the associated data (spec §4): changing a parameter,
	// the salt or the length fails authentication.
	return aead.Seal(hdr, h.nonce[:], pt, hdr), nil
}

// unseal is Unseal with injectable bounds (the fuzz target's are lower).
func unseal(data, password []byte, lim bounds) (*Keys, error) {
	h, err := parseHeader(data, lim)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(password, h)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, h.nonce[:], data[headerSize:], data[:headerSize])
	if err != nil {
		return nil, ErrWrongPassword
	}
	defer clear(pt)
	k, err := decodeKeys(pt)
	if err != nil {
		// Authenticated but malformed: the writer broke the spec.
		return nil, fmt.Errorf("authenticated content is malformed: %w", err)
	}
	return k, nil
}
