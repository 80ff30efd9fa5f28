package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

const (
	// seedSize is the length of every stored secret: Ed25519 seeds
	// (RFC 8032 §5.1.5), the MLKEM768X25519 HPKE private key (its
	// SerializePrivateKey form is a 32-byte seed) and the storage key.
	seedSize = 32
	// maxAddressLen bounds Keys.Address in bytes (64-byte local part, "@",
	// 255-byte domain).
	maxAddressLen = 320
	// MaxRetired bounds Keys.Retired: 30-day rotation fills it in over 300
	// years, and a vault stays far below MaxFileSize (spec §5).
	MaxRetired = 4096
	// MaxOpenPGP bounds Keys.OpenPGP: a field length is 16 bits (spec §5).
	// An Ed25519/X25519 key is about 300 bytes.
	MaxOpenPGP = 0xffff
	// maxRetiredSeconds is 9999-12-31T23:59:59Z, the last representable
	// creation time of a retired key (spec §5).
	maxRetiredSeconds = 253402300799
)

// Keys are the private keys of one account on one device (spec §5). Signing
// and encryption keys are separate keys, as everywhere in Umbra.
type Keys struct {
	// Address is the account's address, e.g. "alice@a.test".
	Address string
	// Signing is the user signet's signing key.
	Signing ed25519.PrivateKey
	// Encryption is the 32-byte seed of the current HPKE MLKEM768X25519
	// private key; EncryptionKey turns it into an hpke.PrivateKey.
	Encryption []byte
	// Device is this device's key, used to log in to DMAP.
	Device ed25519.PrivateKey
	// Recovery is the account's recovery key, or nil. The recommended
	// practice is nil: the key is then kept only as the recovery phrase, so
	// someone holding the vault and its password (or a provider holding a
	// "cautious" backup and guessing the password) still cannot restart the
	// signet chain. Store it only if the user chooses convenience over that.
	Recovery ed25519.PrivateKey
	// Storage is the account storage key (32 random bytes) from which the
	// bridge's local store and synced documents derive their keys (DESIGN
	// §7), or nil if the account has none yet.
	Storage []byte
	// Retired are earlier encryption keys kept after rotation to open mail
	// sealed to them, oldest first, until that mail has been re-encrypted to
	// the storage key (DESIGN §4, rotation).
	Retired []RetiredKey
	// OpenPGP is the account's OpenPGP secret key for mail with the legacy
	// world (docs/spec/legacy-pgp.md §1), as pgp.Key.PrivateBytes writes it
	// (a binary transferable secret key, unprotected: the vault is its
	// protection), or nil for an account made before it existed. The vault
	// stores it opaquely; package pgp parses it.
	OpenPGP []byte
}

// RetiredKey is an encryption key replaced by rotation.
type RetiredKey struct {
	// Created is when the key was made. It is stored in whole seconds, so
	// a vault gives back Created truncated to the second, in UTC.
	Created time.Time
	// Seed is the 32-byte seed of the HPKE MLKEM768X25519 private key.
	Seed []byte
}

// GenerateKeys makes new signing, encryption, device and storage keys for
// address from crypto/rand. Recovery stays nil: it comes from a recovery
// phrase (NewPhrase, RecoveryKey).
func GenerateKeys(address string) (*Keys, error) {
	if err := checkAddress(address); err != nil {
		return nil, fmt.Errorf("vault: generate keys: %w", err)
	}
	_, signing, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("vault: generate signing key: %w", err)
	}
	_, device, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("vault: generate device key: %w", err)
	}
	enc, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("vault: generate encryption key: %w", err)
	}
	encSeed, err := enc.Bytes()
	if err != nil {
		return nil, fmt.Errorf("vault: serialise encryption key: %w", err)
	}
	storage := make([]byte, seedSize)
	rand.Read(storage) // crypto/rand.Read never fails (Go 1.24+)
	return &Keys{Address: address, Signing: signing, Encryption: encSeed, Device: device, Storage: storage}, nil
}

// Rotated returns a copy of k whose signing key is signing and whose
// encryption key is the seed enc, with k's encryption key appended to the
// retired keys at created (DESIGN §4: rotation; spec §5), raised to one
// second after the newest retired key's time when it is not later, since
// those times must increase. The copy shares no memory with k, which is
// unchanged.
func (k *Keys) Rotated(signing ed25519.PrivateKey, enc []byte, created time.Time) *Keys {
	created = created.UTC().Truncate(time.Second)
	if n := len(k.Retired); n > 0 && !created.After(k.Retired[n-1].Created) {
		created = k.Retired[n-1].Created.Add(time.Second)
	}
	next := &Keys{
		Address:    k.Address,
		Signing:    slices.Clone(signing),
		Encryption: slices.Clone(enc),
		Device:     slices.Clone(k.Device),
		Recovery:   slices.Clone(k.Recovery),
		Storage:    slices.Clone(k.Storage),
		OpenPGP:    slices.Clone(k.OpenPGP),
		Retired:    make([]RetiredKey, 0, len(k.Retired)+1),
	}
	for _, r := range k.Retired {
		next.Retired = append(next.Retired, RetiredKey{Created: r.Created, Seed: slices.Clone(r.Seed)})
	}
	next.Retired = append(next.Retired, RetiredKey{Created: created, Seed: slices.Clone(k.Encryption)})
	return next
}

// EncryptionKey returns the current HPKE private key.
func (k *Keys) EncryptionKey() (hpke.PrivateKey, error) {
	return hpkeKey(k.Encryption)
}

// EncryptionKey returns the retired HPKE private key.
func (r RetiredKey) EncryptionKey() (hpke.PrivateKey, error) {
	return hpkeKey(r.Seed)
}

func hpkeKey(seed []byte) (hpke.PrivateKey, error) {
	if len(seed) != seedSize {
		return nil, fmt.Errorf("vault: encryption key seed is %d bytes, want %d", len(seed), seedSize)
	}
	return hpke.MLKEM768X25519().NewPrivateKey(seed)
}

// Zero overwrites every secret in k with zeros. Call it when the keys are no
// longer needed; copies made elsewhere (for instance inside an
// hpke.PrivateKey) are not reached.
func (k *Keys) Zero() {
	clear(k.Signing)
	clear(k.Encryption)
	clear(k.Device)
	clear(k.Recovery)
	clear(k.Storage)
	for _, r := range k.Retired {
		clear(r.Seed)
	}
	clear(k.OpenPGP)
}

// validate checks every rule of spec §5. The encoder runs it before writing
// and the decoder after reading, so both sides enforce one set of rules.
func (k *Keys) validate() error {
	if k == nil {
		return formatErr("keys", "no keys given")
	}
	if err := checkAddress(k.Address); err != nil {
		return err
	}
	if err := checkEd25519("keys.signing", k.Signing, false); err != nil {
		return err
	}
	if err := checkSeed("keys.encryption", k.Encryption, false); err != nil {
		return err
	}
	if err := checkEd25519("keys.device", k.Device, false); err != nil {
		return err
	}
	if err := checkEd25519("keys.recovery", k.Recovery, true); err != nil {
		return err
	}
	if err := checkSeed("keys.storage", k.Storage, true); err != nil {
		return err
	}
	// One key, one role: a signing seed reused as the device or recovery
	// key would let one compromise stand for another.
	if bytes.Equal(k.Signing.Seed(), k.Device.Seed()) ||
		len(k.Recovery) > 0 && (bytes.Equal(k.Recovery.Seed(), k.Signing.Seed()) || bytes.Equal(k.Recovery.Seed(), k.Device.Seed())) {
		return formatErr("keys", "signing, device and recovery keys must be distinct keys")
	}
	if len(k.Retired) > MaxRetired {
		return formatErr("keys.retired", "%d retired keys, at most %d", len(k.Retired), MaxRetired)
	}
	var prev int64 = -1
	for i, r := range k.Retired {
		field := fmt.Sprintf("keys.retired[%d]", i)
		s := r.Created.Unix()
		if s < 0 || s > maxRetiredSeconds {
			return formatErr(field, "created %v is outside 1970 to 9999", r.Created)
		}
		if s <= prev {
			return formatErr(field, "created %v is not after the previous retired key", r.Created.UTC())
		}
		prev = s
		if err := checkSeed(field, r.Seed, false); err != nil {
			return err
		}
	}
	if len(k.OpenPGP) > MaxOpenPGP {
		return formatErr("keys.openpgp", "%d bytes, at most %d", len(k.OpenPGP), MaxOpenPGP)
	}
	if k.OpenPGP != nil && allZero(k.OpenPGP) {
		return formatErr("keys.openpgp", "empty or all zero bytes (a wiped key?)")
	}
	return nil
}

func checkAddress(a string) error {
	if a == "" {
		return formatErr("keys.address", "missing")
	}
	if len(a) > maxAddressLen {
		return formatErr("keys.address", "%d bytes, want 1 to %d", len(a), maxAddressLen)
	}
	if !utf8.ValidString(a) {
		return formatErr("keys.address", "not valid UTF-8")
	}
	for _, r := range a {
		if r < 0x20 || r == 0x7f {
			return formatErr("keys.address", "contains control character %U", r)
		}
	}
	return nil
}

// checkSeed: 32 bytes, not all zero (an all-zero seed is the mark of a
// buffer that was wiped by Zero and then saved by mistake).
func checkSeed(field string, s []byte, optional bool) error {
	if len(s) == 0 {
		if optional {
			return nil
		}
		return formatErr(field, "missing")
	}
	if len(s) != seedSize {
		return formatErr(field, "%d bytes, want %d", len(s), seedSize)
	}
	if allZero(s) {
		return formatErr(field, "all zero bytes (a wiped key?)")
	}
	return nil
}

// checkEd25519: a 64-byte private key whose public half is the one its
// seed gives, since only the seed is stored.
func checkEd25519(field string, k ed25519.PrivateKey, optional bool) error {
	if len(k) == 0 {
		if optional {
			return nil
		}
		return formatErr(field, "missing")
	}
	if len(k) != ed25519.PrivateKeySize {
		return formatErr(field, "%d bytes, want %d", len(k), ed25519.PrivateKeySize)
	}
	if err := checkSeed(field, k.Seed(), false); err != nil {
		return err
	}
	derived := ed25519.NewKeyFromSeed(k.Seed())
	defer clear(derived)
	if !bytes.Equal(derived[ed25519.SeedSize:], k[ed25519.SeedSize:]) {
		return formatErr(field, "public half does not match the seed")
	}
	return nil
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}
