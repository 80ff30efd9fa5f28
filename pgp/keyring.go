package pgp

import (
	"github.com/ProtonMail/go-crypto/openpgp"
)

// keyring is the openpgp.KeyRing Decrypt works with: our own keys decrypt
// and verify; lookup is asked for a signer's key only, never for the key IDs
// a message is encrypted to (those are other recipients' keys, and asking
// about them would leak them to whatever lookup consults).
type keyring struct {
	own    openpgp.EntityList
	lookup func(keyID uint64) *PublicKey
}

func newKeyring(keys []*Key, lookup func(keyID uint64) *PublicKey) keyring {
	kr := keyring{lookup: lookup}
	for _, k := range keys {
		if k != nil {
			kr.own = append(kr.own, k.entity)
		}
	}
	return kr
}

// KeysById is used for decryption: own keys only.
func (kr keyring) KeysById(id uint64) []openpgp.Key {
	return kr.own.KeysById(id)
}

// KeysByIdUsage is used for verification: own keys, then lookup.
func (kr keyring) KeysByIdUsage(id uint64, usage byte) []openpgp.Key {
	if keys := kr.own.KeysByIdUsage(id, usage); len(keys) > 0 {
		return keys
	}
	if kr.lookup == nil {
		return nil
	}
	pk := kr.lookup(id)
	if pk == nil {
		return nil
	}
	return openpgp.EntityList{pk.entity}.KeysByIdUsage(id, usage)
}

func (kr keyring) DecryptionKeys() []openpgp.Key {
	return kr.own.DecryptionKeys()
}
