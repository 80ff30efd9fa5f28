package dmime

import (
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// Cipher suite 1 (spec §2): HPKE base mode with ML-KEM-768+X25519
// (X-Wing), HKDF-SHA256 and AES-256-GCM for keyslots; AES-256-GCM for
// content; Ed25519; SHA-256.
const (
	suiteV1 = 0x01
	keyLen  = 32
	// encLen is the size of an X-Wing encapsulated key
	// (draft-ietf-hpke-pq: 1088-byte ML-KEM-768 ciphertext + 32-byte X25519 share).
	encLen = 1120
	idLen  = 16
	// info chunk: suite, message id, three key commitments.
	infoLen = 1 + idLen + 3*sha256.Size
)

// KEM is the key encapsulation every encryption key in D/MIME must use.
func KEM() hpke.KEM { return hpke.MLKEM768X25519() }

// messageKeys are the three secrets of one message (spec §5): the origin
// chunk key, the destination chunk key, and the content key from which
// every header, body, attachment and padding section key is derived.
type messageKeys struct {
	origin, dest, content [keyLen]byte
}

// keyslotPlain returns the plaintext of the keyslot of chunk type t:
// exactly the keys DESIGN §2 lets that actor use.
func (k *messageKeys) keyslotPlain(t byte) []byte {
	switch t {
	case typeKeyslotOrigin:
		return append([]byte(nil), k.origin[:]...)
	case typeKeyslotDest:
		return append([]byte(nil), k.dest[:]...)
	default: // author and recipient read everything
		b := make([]byte, 0, 3*keyLen)
		b = append(b, k.origin[:]...)
		b = append(b, k.dest[:]...)
		return append(b, k.content[:]...)
	}
}

func keyslotPlainLen(t byte) int {
	if t == typeKeyslotOrigin || t == typeKeyslotDest {
		return keyLen
	}
	return 3 * keyLen
}

func keyslotLen(t byte) int { return encLen + keyslotPlainLen(t) + tagLen }

// keyslotInfo is the HPKE info string: it binds the keyslot to the actor
// it is for, so a keyslot cannot be moved to another actor's position.
func keyslotInfo(t byte) []byte { return append([]byte("umbra-dmime-v1 keyslot "), t) }

// sealKeyslot returns the keyslot chunk payload: enc || HPKE ciphertext,
// with the message's leaf 0 (hash of prelude and info chunk) as AAD so the
// keyslot only opens inside this message.
func sealKeyslot(pk hpke.PublicKey, t byte, keys *messageKeys, leaf0 []byte) ([]byte, error) {
	enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), keyslotInfo(t))
	if err != nil {
		return nil, fmt.Errorf("dmime: keyslot 0x%02x: %w", t, err)
	}
	if len(enc) != encLen {
		return nil, fmt.Errorf("%w: encapsulated key of %d bytes, want %d", ErrInput, len(enc), encLen)
	}
	ct, err := s.Seal(leaf0, keys.keyslotPlain(t))
	if err != nil {
		return nil, fmt.Errorf("dmime: keyslot 0x%02x: %w", t, err)
	}
	return append(enc, ct...), nil
}

// openKeyslot opens the keyslot of type t and checks the keys against the
// commitments of the info chunk.
func openKeyslot(sk hpke.PrivateKey, t byte, payload []byte, in *info, leaf0 []byte) (*messageKeys, error) {
	r, err := hpke.NewRecipient(payload[:encLen], sk, hpke.HKDFSHA256(), hpke.AES256GCM(), keyslotInfo(t))
	if err != nil {
		return nil, fmt.Errorf("%w: keyslot 0x%02x: %v", ErrKeyslot, t, err)
	}
	pt, err := r.Open(leaf0, payload[encLen:])
	if err != nil {
		return nil, fmt.Errorf("%w: keyslot 0x%02x: %v", ErrKeyslot, t, err)
	}
	k := new(messageKeys)
	ok := 1
	switch t {
	case typeKeyslotOrigin:
		copy(k.origin[:], pt)
		ok &= commitEq(commitOrigin, k.origin[:], in.commitOrigin[:])
	case typeKeyslotDest:
		copy(k.dest[:], pt)
		ok &= commitEq(commitDest, k.dest[:], in.commitDest[:])
	default:
		copy(k.origin[:], pt[0:])
		copy(k.dest[:], pt[keyLen:])
		copy(k.content[:], pt[2*keyLen:])
		ok &= commitEq(commitOrigin, k.origin[:], in.commitOrigin[:])
		ok &= commitEq(commitDest, k.dest[:], in.commitDest[:])
		ok &= commitEq(commitContent, k.content[:], in.commitContent[:])
	}
	if ok != 1 {
		return nil, fmt.Errorf("%w: keyslot 0x%02x", ErrKeyCommitment, t)
	}
	return k, nil
}

// Key commitment labels (spec §5). AES-GCM is not key-committing: without
// these, an author could give two readers different keys that decrypt the
// same ciphertext to different plaintexts.
const (
	commitOrigin  = "umbra-dmime-v1 commit origin\x00"
	commitDest    = "umbra-dmime-v1 commit destination\x00"
	commitContent = "umbra-dmime-v1 commit content\x00"
)

func commitment(label string, key []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write(key)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func commitEq(label string, key, want []byte) int {
	c := commitment(label, key)
	return subtle.ConstantTimeCompare(c[:], want)
}

// sectionKey derives the AES-256-GCM key of content section number index
// (its position in the author's tree) of type t (spec §5).
func sectionKey(content *[keyLen]byte, index int, t byte) ([]byte, error) {
	info := make([]byte, 0, 32)
	info = append(info, "umbra-dmime-v1 section"...)
	info = binary.BigEndian.AppendUint16(info, uint16(index))
	info = append(info, t)
	k, err := hkdf.Key(sha256.New, content[:], nil, string(info), keyLen)
	if err != nil {
		return nil, fmt.Errorf("dmime: section %d key: %w", index, err)
	}
	return k, nil
}
