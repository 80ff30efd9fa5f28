package syncdoc

import (
	"bytes"
	"fmt"
)

// KindKeyring is the kind of the keyring document (spec §5.7): the
// account's current signing and encryption keys, for its other devices
// after a rotation (DESIGN §4).
const KindKeyring = "keyring"

// KeyringID is the id of the account's one keyring document.
const KeyringID = "keyring"

// seedLen is the length of each key seed in a keyring.
const seedLen = 32

// Keyring is the plaintext of the keyring document (spec §5.7): the keys
// a device is rotating the account to, written before the provider
// certifies them. A device that finds them in the account's current
// signet adopts them, retiring its encryption key (docs/spec/vault.md §5).
type Keyring struct {
	Signing    []byte // the signing key's 32-byte Ed25519 seed
	Encryption []byte // the encryption key's 32-byte HPKE seed
}

// Marshal returns the canonical encoding (spec §5.7):
//
//	0x01 ‖ signing seed (32) ‖ encryption seed (32)
func (k *Keyring) Marshal() ([]byte, error) {
	if len(k.Signing) != seedLen || len(k.Encryption) != seedLen {
		return nil, invalid("keyring", fmt.Errorf("seeds of %d and %d bytes, want %d", len(k.Signing), len(k.Encryption), seedLen))
	}
	b := make([]byte, 0, 1+2*seedLen)
	b = append(b, formatV1)
	b = append(b, k.Signing...)
	return append(b, k.Encryption...), nil
}

// ParseKeyring decodes a keyring plaintext. The seeds it returns are
// copies: the caller clears them when done.
func ParseKeyring(b []byte) (*Keyring, error) {
	r := &reader{what: "keyring", b: b}
	r.version()
	k := &Keyring{}
	k.Signing = bytes.Clone(r.take(seedLen, "signing seed"))
	k.Encryption = bytes.Clone(r.take(seedLen, "encryption seed"))
	if err := r.end(); err != nil {
		return nil, err
	}
	return k, nil
}
