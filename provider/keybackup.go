package provider

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"umbra/dmap"
	"umbra/vault"
)

// A cautious account's key backup is stored as one opaque blob
// (store.Accounts.SetKeyBackup). Its layout, version 1:
//
//	"UKB1" | Argon2id time (4) | memory KiB (4) | threads (1) |
//	salt length (1) | salt | backup access key (32) | sealed vault
//
// The provider can read the parameters, salt and public access key (it
// needs them to check a device's proof, docs/spec/dmap.md §6); the vault
// stays sealed under the user's password.
var keyBackupMagic = []byte("UKB1")

func encodeKeyBackup(kb dmap.KeyBackup) ([]byte, error) {
	if len(kb.AccessKey) != ed25519.PublicKeySize || len(kb.Salt) == 0 || len(kb.Salt) > 255 || len(kb.Vault) == 0 {
		return nil, fmt.Errorf("%w: key backup fields out of range", dmap.ErrBadField)
	}
	b := append([]byte(nil), keyBackupMagic...)
	b = binary.BigEndian.AppendUint32(b, kb.Params.Time)
	b = binary.BigEndian.AppendUint32(b, kb.Params.MemoryKiB)
	b = append(b, kb.Params.Threads, byte(len(kb.Salt)))
	b = append(b, kb.Salt...)
	b = append(b, kb.AccessKey...)
	return append(b, kb.Vault...), nil
}

var errKeyBackup = errors.New("provider: stored key backup is malformed")

func decodeKeyBackup(b []byte) (dmap.KeyBackup, error) {
	var kb dmap.KeyBackup
	if !bytes.HasPrefix(b, keyBackupMagic) || len(b) < len(keyBackupMagic)+10 {
		return kb, errKeyBackup
	}
	b = b[len(keyBackupMagic):]
	kb.Params = vault.Params{Time: binary.BigEndian.Uint32(b), MemoryKiB: binary.BigEndian.Uint32(b[4:]), Threads: b[8]}
	n := int(b[9])
	b = b[10:]
	if n == 0 || len(b) < n+ed25519.PublicKeySize+1 {
		return kb, errKeyBackup
	}
	kb.Salt = b[:n]
	kb.AccessKey = ed25519.PublicKey(b[n : n+ed25519.PublicKeySize])
	kb.Vault = b[n+ed25519.PublicKeySize:]
	return kb, nil
}
