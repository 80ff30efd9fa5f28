package vault

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"time"
)

// Field tags of the plaintext key set (spec §5). Each field is
// [tag: 1 byte][length: 2 bytes, big-endian][value]; tags appear in strictly
// ascending order, except that tagRetired may repeat.
const (
	tagAddress    = 1 // UTF-8 address, 1 to 320 bytes
	tagSigning    = 2 // Ed25519 seed
	tagEncryption = 3 // HPKE MLKEM768X25519 private key seed
	tagDevice     = 4 // Ed25519 seed
	tagRecovery   = 5 // Ed25519 seed, optional
	tagStorage    = 6 // account storage key, optional
	tagRetired    = 7 // 8-byte big-endian Unix seconds then the 32-byte seed; repeatable
	tagOpenPGP    = 8 // OpenPGP secret key, 1 to 65535 bytes, optional (added after the first release: old vaults lack it)
)

// fieldNames name the tags in errors, as FormatError.Field.
var fieldNames = [...]string{
	tagAddress:    "keys.address",
	tagSigning:    "keys.signing",
	tagEncryption: "keys.encryption",
	tagDevice:     "keys.device",
	tagRecovery:   "keys.recovery",
	tagStorage:    "keys.storage",
	tagRetired:    "keys.retired",
	tagOpenPGP:    "keys.openpgp",
}

const (
	fieldHeaderSize = 3
	retiredSize     = 8 + seedSize
)

// encodeKeys returns the canonical plaintext of k (spec §5). The caller
// should clear the result after use: it holds every secret.
func encodeKeys(k *Keys) ([]byte, error) {
	if err := k.validate(); err != nil {
		return nil, err
	}
	n := 4*fieldHeaderSize + len(k.Address) + 3*seedSize + len(k.Retired)*(fieldHeaderSize+retiredSize)
	if len(k.Recovery) > 0 {
		n += fieldHeaderSize + seedSize
	}
	if len(k.Storage) > 0 {
		n += fieldHeaderSize + seedSize
	}
	if k.OpenPGP != nil {
		n += fieldHeaderSize + len(k.OpenPGP)
	}
	b := make([]byte, 0, n)
	b = appendField(b, tagAddress, []byte(k.Address))
	b = appendField(b, tagSigning, k.Signing.Seed())
	b = appendField(b, tagEncryption, k.Encryption)
	b = appendField(b, tagDevice, k.Device.Seed())
	if len(k.Recovery) > 0 {
		b = appendField(b, tagRecovery, k.Recovery.Seed())
	}
	if len(k.Storage) > 0 {
		b = appendField(b, tagStorage, k.Storage)
	}
	for _, r := range k.Retired {
		b = append(b, tagRetired, 0, retiredSize)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Created.Unix()))
		b = append(b, r.Seed...)
	}
	if k.OpenPGP != nil {
		b = appendField(b, tagOpenPGP, k.OpenPGP)
	}
	return b, nil
}

func appendField(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// decodeKeys parses a plaintext key set, enforcing the framing rules of
// spec §5 here and the value rules through Keys.validate. The result does
// not alias b, so the caller may clear b.
func decodeKeys(b []byte) (*Keys, error) {
	if len(b) > maxPlaintext {
		return nil, formatErr("keys", "%d bytes, over the %d-byte limit", len(b), maxPlaintext)
	}
	k := new(Keys)
	last := 0
	for off := 0; off < len(b); {
		if len(b)-off < fieldHeaderSize {
			return nil, formatErr("keys", "truncated field header at offset %d", off)
		}
		tag := int(b[off])
		n := int(binary.BigEndian.Uint16(b[off+1:]))
		off += fieldHeaderSize
		if n > len(b)-off {
			return nil, formatErr("keys", "field %d at offset %d declares %d bytes, %d remain", tag, off-fieldHeaderSize, n, len(b)-off)
		}
		v := b[off : off+n]
		off += n
		if tag < tagAddress || tag > tagOpenPGP {
			return nil, formatErr("keys", "unknown field %d", tag)
		}
		if tag < last || tag == last && tag != tagRetired {
			return nil, formatErr("keys", "field %d after field %d: fields must be in ascending order, only %d may repeat", tag, last, tagRetired)
		}
		last = tag
		if err := setField(k, tag, v); err != nil {
			k.Zero()
			return nil, err
		}
	}
	if err := k.validate(); err != nil {
		k.Zero()
		return nil, err
	}
	return k, nil
}

// setField stores one field's value; lengths are checked here because the
// types below cannot hold a wrong-length seed.
func setField(k *Keys, tag int, v []byte) error {
	switch tag {
	case tagAddress:
		k.Address = string(v)
		return nil
	case tagOpenPGP:
		// Its content is checked by package pgp when the bridge uses it;
		// validate checks what the vault can (not a wiped buffer).
		k.OpenPGP = bytes.Clone(v)
		return nil
	case tagRetired:
		if len(v) != retiredSize {
			return formatErr(fieldNames[tag], "%d bytes, want %d", len(v), retiredSize)
		}
		s := binary.BigEndian.Uint64(v)
		if s > maxRetiredSeconds {
			return formatErr(fieldNames[tag], "created %d seconds is after 9999", s)
		}
		k.Retired = append(k.Retired, RetiredKey{Created: time.Unix(int64(s), 0).UTC(), Seed: bytes.Clone(v[8:])})
		return nil
	}
	if len(v) != seedSize {
		return formatErr(fieldNames[tag], "%d bytes, want %d", len(v), seedSize)
	}
	switch tag {
	case tagSigning:
		k.Signing = ed25519.NewKeyFromSeed(v)
	case tagEncryption:
		k.Encryption = bytes.Clone(v)
	case tagDevice:
		k.Device = ed25519.NewKeyFromSeed(v)
	case tagRecovery:
		k.Recovery = ed25519.NewKeyFromSeed(v)
	case tagStorage:
		k.Storage = bytes.Clone(v)
	}
	return nil
}
