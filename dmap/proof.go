package dmap

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/argon2"

	"umbra/vault"
)

// Domain-separation labels (spec §4.2, §4.3, §6.2). Each ends in a NUL
// when used, so no label is a prefix of another's message.
const (
	labelLogin        = "umbra-dmap-v1 login"
	labelEnroll       = "umbra-dmap-v1 enroll"
	labelKeyBackup    = "umbra-dmap-v1 key-backup"
	labelAccessToken  = "umbra-dmap-v1 access-token"
	labelRefreshToken = "umbra-dmap-v1 refresh-token"
	labelDeviceID     = "umbra-dmap-v1 device-id"
	labelBackupSalt   = "umbra-dmap-v1 key-backup salt"
	infoAccessKey     = "umbra-dmap-v1 key-backup access key"
)

// TokenSize is the length of an access or refresh token's random bytes.
const TokenSize = 32

// proofMessage is the signed message of spec §4.2:
//
//	label ‖ 0x00 ‖ challenge (32) ‖ len(domain) (uint16) ‖ domain ‖
//	len(address) (uint16) ‖ address ‖ key (32)
func proofMessage(label string, challenge [32]byte, domain, address string, key ed25519.PublicKey) []byte {
	b := make([]byte, 0, len(label)+1+32+2+len(domain)+2+len(address)+len(key))
	b = append(b, label...)
	b = append(b, 0)
	b = append(b, challenge[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(domain)))
	b = append(b, domain...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(address)))
	b = append(b, address...)
	return append(b, key...)
}

// LoginMessage is what a device signs with its device key to log in
// (spec §4.2): the challenge bound to the provider's domain, the account's
// address and the device's public key.
func LoginMessage(challenge [32]byte, domain, address string, deviceKey ed25519.PublicKey) []byte {
	return proofMessage(labelLogin, challenge, domain, address, deviceKey)
}

// EnrollMessage is what the user's signing or recovery key signs to enrol
// a new device key (spec §5.2).
func EnrollMessage(challenge [32]byte, domain, address string, deviceKey ed25519.PublicKey) []byte {
	return proofMessage(labelEnroll, challenge, domain, address, deviceKey)
}

// KeyBackupMessage is what the backup access key signs to fetch a cautious
// account's key backup (spec §6.3).
func KeyBackupMessage(challenge [32]byte, domain, address string, accessKey ed25519.PublicKey) []byte {
	return proofMessage(labelKeyBackup, challenge, domain, address, accessKey)
}

// DeviceID is a device's stable identifier: the unpadded base64url of the
// first 12 bytes of SHA-256(label ‖ 0x00 ‖ key), 16 characters (spec §5.6).
func DeviceID(key ed25519.PublicKey) string {
	h := sha256.New()
	h.Write([]byte(labelDeviceID + "\x00"))
	h.Write(key)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// newToken draws a token's random bytes and returns its wire form and its
// hash under label (spec §4.3).
func newToken(label string) (string, [32]byte, error) {
	var raw [TokenSize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", [32]byte{}, fmt.Errorf("dmap: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw[:]), tokenHash(label, raw[:]), nil
}

// tokenHash is SHA-256(label ‖ 0x00 ‖ raw). The distinct labels keep a
// refresh token from ever matching an access token's hash.
func tokenHash(label string, raw []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(label + "\x00"))
	h.Write(raw)
	return [32]byte(h.Sum(nil))
}

// AccessTokenHash and RefreshTokenHash are what a Backend stores and looks
// up instead of the tokens themselves (raw: the 32 decoded bytes).
func AccessTokenHash(raw []byte) [32]byte  { return tokenHash(labelAccessToken, raw) }
func RefreshTokenHash(raw []byte) [32]byte { return tokenHash(labelRefreshToken, raw) }

// Key backup salt bounds (spec §6.1).
const (
	MinBackupSalt = 16
	MaxBackupSalt = 64
)

// MinBackupParams is the floor for the Argon2id parameters of a backup
// access key (spec §6.4): RFC 9106's second recommended option, t=3,
// m=64 MiB. Clients refuse weaker parameters before deriving anything, so
// a provider that serves weak ones learns nothing cheaper to attack.
func MinBackupParams() vault.Params { return vault.DefaultParams() }

// CheckBackupParams reports whether p is within the vault's bounds and at
// least MinBackupParams in passes and memory.
func CheckBackupParams(p vault.Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	floor := MinBackupParams()
	if p.Time < floor.Time || p.MemoryKiB < floor.MemoryKiB {
		return fmt.Errorf("dmap: key backup parameters t=%d m=%d KiB are below the floor t=%d m=%d KiB",
			p.Time, p.MemoryKiB, floor.Time, floor.MemoryKiB)
	}
	return nil
}

// BackupAccessKey derives the backup access key of spec §6.2 from the
// password, the account's address and the backup salt:
//
//	s    = SHA-256(label ‖ 0x00 ‖ len(address) (uint16) ‖ address ‖ salt)
//	IKM  = Argon2id(password, s, t, m, p, 32)
//	seed = HKDF-SHA256(IKM, salt = "", info, 32)
//
// The address in the Argon2id salt keeps one precomputed guess list from
// serving against several accounts even if a provider reuses salts. It
// refuses parameters weaker than MinBackupParams and salts outside 16 to 64
// bytes before running Argon2id.
func BackupAccessKey(password []byte, address string, salt []byte, p vault.Params) (ed25519.PrivateKey, error) {
	if err := CheckBackupParams(p); err != nil {
		return nil, err
	}
	if len(salt) < MinBackupSalt || len(salt) > MaxBackupSalt {
		return nil, fmt.Errorf("dmap: key backup salt of %d bytes, want %d to %d", len(salt), MinBackupSalt, MaxBackupSalt)
	}
	if len(password) == 0 {
		return nil, vault.ErrEmptyPassword
	}
	h := sha256.New()
	h.Write([]byte(labelBackupSalt + "\x00"))
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(address))))
	h.Write([]byte(address))
	h.Write(salt)
	ikm := argon2.IDKey(password, h.Sum(nil), p.Time, p.MemoryKiB, p.Threads, 32)
	defer clear(ikm)
	seed, err := hkdf.Key(sha256.New, ikm, nil, infoAccessKey, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("dmap: backup access key: %w", err)
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

// NewKeyBackup prepares a cautious account's backup: sealed is the
// vault.Seal output of the device's keys under password, and the access
// key is derived from the same password with a fresh salt and parameters p
// (at least MinBackupParams).
func NewKeyBackup(address string, password, sealed []byte, p vault.Params) (*KeyBackup, error) {
	salt := make([]byte, MinBackupSalt)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("dmap: key backup salt: %w", err)
	}
	k, err := BackupAccessKey(password, address, salt, p)
	if err != nil {
		return nil, err
	}
	return &KeyBackup{
		Vault:     append([]byte(nil), sealed...),
		AccessKey: k.Public().(ed25519.PublicKey),
		Salt:      salt,
		Params:    p,
	}, nil
}
