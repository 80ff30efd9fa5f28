package pgp

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// MaxKeySize bounds a serialised key (armored or binary) given to
// ParsePublicKey or ParsePrivateKey.
const MaxKeySize = 64 << 10

// Errors of key parsing; the returned errors wrap one of these so callers can
// tell them apart with errors.Is.
var (
	ErrMalformedKey    = errors.New("pgp: malformed key")
	ErrKeyTooLarge     = errors.New("pgp: key too large")
	ErrKeyExpired      = errors.New("pgp: key expired or not yet valid")
	ErrKeyRevoked      = errors.New("pgp: key revoked")
	ErrNoEncryptionKey = errors.New("pgp: key has no usable encryption subkey")
	ErrNoSigningKey    = errors.New("pgp: key has no usable signing key")
)

// PublicKey is a correspondent's (or one's own) transferable public key
// (RFC 9580 §10.1).
type PublicKey struct {
	entity *openpgp.Entity
}

// Key is a private key of our own: a PublicKey plus its unprotected secret
// key material.
type Key struct {
	PublicKey
}

// config is the one set of algorithm choices used everywhere; now is the
// clock the operation is judged against.
func config(now time.Time) *packet.Config {
	return &packet.Config{
		Algorithm:     packet.PubKeyAlgoEdDSA,
		Curve:         packet.Curve25519,
		DefaultHash:   crypto.SHA256,
		DefaultCipher: packet.CipherAES256,
		Time:          func() time.Time { return now },
		// Decompression bombs: no message may inflate past what Decrypt
		// would accept at all.
		MaxDecompressedMessageSize: int64Ptr(MaxMessageSize),
	}
}

func int64Ptr(v int64) *int64 { return &v }

// GenerateKey makes a v4 key for address: Ed25519 primary key (sign,
// certify), X25519 encryption subkey, one user ID "<address>", no expiry
// (the bridge rotates keys itself), created at now.
func GenerateKey(address string, now time.Time) (*Key, error) {
	if address == "" || strings.ContainsAny(address, "()<>\x00\r\n") {
		return nil, fmt.Errorf("pgp: generate key: invalid address %q", address)
	}
	e, err := openpgp.NewEntity("", "", address, config(now))
	if err != nil {
		return nil, fmt.Errorf("pgp: generate key for %s: %w", address, err)
	}
	return &Key{PublicKey{e}}, nil
}

// Fingerprint is the key's v4 fingerprint, 40 upper-case hex digits as
// GnuPG prints it.
func (k *PublicKey) Fingerprint() string {
	return fmt.Sprintf("%X", k.entity.PrimaryKey.Fingerprint)
}

// HasKeyID reports whether the primary key or one of the subkeys has the
// 64-bit key ID id (RFC 4880 §12.2), as a signature's issuer names it.
func (k *PublicKey) HasKeyID(id uint64) bool {
	if k.entity.PrimaryKey.KeyId == id {
		return true
	}
	for _, s := range k.entity.Subkeys {
		if s.PublicKey.KeyId == id {
			return true
		}
	}
	return false
}

// Created is when the primary key was made.
func (k *PublicKey) Created() time.Time {
	return k.entity.PrimaryKey.CreationTime
}

// Addresses returns the e-mail addresses of the key's user IDs.
func (k *PublicKey) Addresses() []string {
	var out []string
	for _, id := range k.entity.Identities {
		if id.UserId != nil && id.UserId.Email != "" {
			out = append(out, id.UserId.Email)
		}
	}
	return out
}

// HasAddress reports whether one of the key's valid (not revoked) user IDs
// names address, compared without regard to ASCII case.
func (k *PublicKey) HasAddress(address string, now time.Time) bool {
	for _, id := range k.entity.Identities {
		if id.UserId != nil && strings.EqualFold(id.UserId.Email, address) && !id.Revoked(now) {
			return true
		}
	}
	return false
}

// CanEncrypt reports whether at time now the key is valid and has a usable
// encryption subkey (it may have expired or been revoked since it was parsed).
func (k *PublicKey) CanEncrypt(now time.Time) bool {
	_, ok := k.entity.EncryptionKey(now)
	return ok
}

// Bytes is the binary transferable public key (no secret material).
func (k *PublicKey) Bytes() []byte {
	var b bytes.Buffer
	if err := k.entity.Serialize(&b); err != nil {
		// Serialising a parsed or generated entity into memory cannot
		// fail; a failure is a bug in the library.
		panic(fmt.Sprintf("pgp: serialise public key: %v", err))
	}
	return b.Bytes()
}

// Armored is the ASCII-armored public key (RFC 9580 §6.2).
func (k *PublicKey) Armored() []byte {
	return armorBytes(openpgp.PublicKeyType, k.Bytes())
}

// Public returns the public half of the key.
func (k *Key) Public() *PublicKey {
	return &k.PublicKey
}

// PrivateBytes is the binary transferable secret key, unprotected: it is
// meant for Umbra's vault, which encrypts it.
func (k *Key) PrivateBytes() []byte {
	var b bytes.Buffer
	if err := k.entity.SerializePrivateWithoutSigning(&b, nil); err != nil {
		panic(fmt.Sprintf("pgp: serialise private key: %v", err))
	}
	return b.Bytes()
}

func armorBytes(blockType string, data []byte) []byte {
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		panic(fmt.Sprintf("pgp: armor into memory: %v", err))
	}
	return b.Bytes()
}

// ParsePublicKey parses one transferable public key, armored or binary, of at
// most MaxKeySize bytes, and checks that at time now it is neither expired nor
// revoked and has a usable encryption subkey. Secret keys are refused.
func ParsePublicKey(data []byte, now time.Time) (*PublicKey, error) {
	e, err := parseKey(data, openpgp.PublicKeyType, now)
	if err != nil {
		return nil, err
	}
	if e.PrivateKey != nil {
		return nil, fmt.Errorf("%w: contains secret key material", ErrMalformedKey)
	}
	return &PublicKey{e}, nil
}

// ParsePrivateKey parses what PrivateBytes wrote (binary or armored), with the
// same checks as ParsePublicKey; it also needs a usable signing key and
// unprotected secret material for both.
func ParsePrivateKey(data []byte, now time.Time) (*Key, error) {
	e, err := parseKey(data, openpgp.PrivateKeyType, now)
	if err != nil {
		return nil, err
	}
	sign, ok := e.SigningKey(now)
	if !ok {
		return nil, ErrNoSigningKey
	}
	enc, _ := e.EncryptionKey(now)
	for _, k := range []openpgp.Key{sign, enc} {
		if k.PrivateKey == nil || k.PrivateKey.Dummy() {
			return nil, fmt.Errorf("%w: no secret material for key %s", ErrMalformedKey, k.PublicKey.KeyIdString())
		}
		if k.PrivateKey.Encrypted {
			return nil, fmt.Errorf("%w: secret key %s is passphrase-protected", ErrMalformedKey, k.PublicKey.KeyIdString())
		}
	}
	return &Key{PublicKey{e}}, nil
}

// ParsePublicKeys parses concatenated transferable public keys (as a Web Key
// Directory may serve them, a revoked one beside its successor), at most
// MaxKeySize bytes in all, and returns those that pass ParsePublicKey's
// checks at time now. With none, the error wraps every reason.
func ParsePublicKeys(data []byte, now time.Time) ([]*PublicKey, error) {
	list, err := readKeys(data, openpgp.PublicKeyType)
	if err != nil {
		return nil, err
	}
	var keys []*PublicKey
	var errs []error
	for _, e := range list {
		err := checkKey(e, now)
		if err == nil && e.PrivateKey != nil {
			err = fmt.Errorf("%w: contains secret key material", ErrMalformedKey)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, &PublicKey{e})
	}
	if len(keys) == 0 {
		return nil, errors.Join(errs...)
	}
	return keys, nil
}

// parseKey reads exactly one key and checks it.
func parseKey(data []byte, armorType string, now time.Time) (*openpgp.Entity, error) {
	list, err := readKeys(data, armorType)
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("%w: %d keys, want exactly 1", ErrMalformedKey, len(list))
	}
	if err := checkKey(list[0], now); err != nil {
		return nil, err
	}
	return list[0], nil
}

// readKeys reads the keys of data, armored (with armorType) or binary.
func readKeys(data []byte, armorType string) (openpgp.EntityList, error) {
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrKeyTooLarge, len(data), MaxKeySize)
	}
	var r io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN ")) {
		block, err := armor.Decode(r)
		if err != nil {
			return nil, fmt.Errorf("%w: armor: %v", ErrMalformedKey, err)
		}
		if block.Type != armorType {
			return nil, fmt.Errorf("%w: armor type %q, want %q", ErrMalformedKey, block.Type, armorType)
		}
		r = block.Body
	}
	list, err := openpgp.ReadKeyRing(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	return list, nil
}

// checkKey checks that at time now e is neither revoked nor expired and can
// encrypt.
func checkKey(e *openpgp.Entity, now time.Time) error {
	if e.Revoked(now) {
		return fmt.Errorf("%w: %X", ErrKeyRevoked, e.PrimaryKey.Fingerprint)
	}
	sig, _ := e.PrimarySelfSignature()
	if sig == nil {
		return fmt.Errorf("%w: no valid self-signature", ErrMalformedKey)
	}
	if e.PrimaryKey.KeyExpired(sig, now) || sig.SigExpired(now) {
		return fmt.Errorf("%w: %X", ErrKeyExpired, e.PrimaryKey.Fingerprint)
	}
	if _, ok := e.EncryptionKey(now); !ok {
		return fmt.Errorf("%w: %X", ErrNoEncryptionKey, e.PrimaryKey.Fingerprint)
	}
	return nil
}
