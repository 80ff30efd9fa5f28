package dmap

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"umbra/signet"
	"umbra/vault"
)

// Request decoders: strict JSON (strictjson.go), then every field checked
// against its rule in docs/spec/dmap.md. Each returns a validated value or
// an *Error (bad_json, unknown_field, bad_field, bad_signet). They do not
// know the provider's domain; the handler checks that.

// Field limits (spec §2.5).
const (
	maxDeviceName = 64
	maxInvite     = 64
)

var b64 = base64.RawURLEncoding.Strict()

// field decodes a required base64url field of exactly n bytes.
func field(name, s string, n int) ([]byte, error) {
	if s == "" {
		return nil, ErrBadField.With("%s is required", name)
	}
	if len(s) != b64.EncodedLen(n) {
		return nil, ErrBadField.With("%s: %d base64url characters, want %d (%d bytes)", name, len(s), b64.EncodedLen(n), n)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, ErrBadField.With("%s: not unpadded base64url: %v", name, err)
	}
	return b, nil
}

// fieldRange decodes a required base64url field of min to max bytes.
func fieldRange(name, s string, min, max int) ([]byte, error) {
	if s == "" {
		return nil, ErrBadField.With("%s is required", name)
	}
	if len(s) > b64.EncodedLen(max) {
		return nil, ErrBadField.With("%s: over %d bytes", name, max)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, ErrBadField.With("%s: not unpadded base64url: %v", name, err)
	}
	if len(b) < min {
		return nil, ErrBadField.With("%s: %d bytes, want at least %d", name, len(b), min)
	}
	return b, nil
}

func challengeField(s string) ([32]byte, error) {
	b, err := field("challenge", s, 32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(b), nil
}

func keyField(name, s string) (ed25519.PublicKey, error) {
	b, err := field(name, s, ed25519.PublicKeySize)
	return ed25519.PublicKey(b), err
}

func addressField(s string) (string, error) {
	if err := signet.CheckAddress(s); err != nil {
		return "", ErrBadField.With("address: %v", err)
	}
	return s, nil
}

// checkDeviceName: 1 to 64 bytes of UTF-8 without control characters.
func checkDeviceName(name string) error {
	if name == "" || len(name) > maxDeviceName || !utf8.ValidString(name) {
		return ErrBadField.With("device name must be 1 to %d bytes of UTF-8", maxDeviceName)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return ErrBadField.With("device name must not contain control characters")
	}
	return nil
}

// signingRequest decodes a signing request and checks its form and its
// self-signature.
func signingRequest(s string) (*signet.User, error) {
	raw, err := fieldRange("signing_request", s, 1, signet.MaxSize)
	if err != nil {
		return nil, err
	}
	req, err := signet.ParseRequest(raw)
	if err != nil {
		return nil, ErrBadSignet.With("%v", err)
	}
	if err := req.VerifySelf(); err != nil {
		return nil, ErrBadSignet.With("%v", err)
	}
	return req, nil
}

func decodeRegister(data []byte) (Registration, error) {
	var w registerRequest
	if err := decodeJSON(data, &w); err != nil {
		return Registration{}, err
	}
	var r Registration
	var err error
	if r.Address, err = addressField(w.Address); err != nil {
		return r, err
	}
	if w.Invite == "" || len(w.Invite) > maxInvite || strings.IndexFunc(w.Invite, func(c rune) bool { return c < ' ' || c > '~' }) >= 0 {
		return r, ErrBadField.With("invite must be 1 to %d printable ASCII characters", maxInvite)
	}
	r.Invite = w.Invite
	r.Mode = Mode(w.Mode)
	switch {
	case r.Mode != ModeParanoid && r.Mode != ModeCautious:
		return r, ErrBadField.With("mode must be %q or %q", ModeParanoid, ModeCautious)
	case (r.Mode == ModeCautious) != (w.KeyBackup != nil):
		return r, ErrBadField.With("key_backup is required in cautious mode and forbidden in paranoid mode")
	}
	if r.Device.Key, err = keyField("device_key", w.DeviceKey); err != nil {
		return r, err
	}
	if err := checkDeviceName(w.DeviceName); err != nil {
		return r, err
	}
	r.Device.ID, r.Device.Name = DeviceID(r.Device.Key), w.DeviceName
	if r.Request, err = signingRequest(w.SigningRequest); err != nil {
		return r, err
	}
	if r.Request.Address != r.Address {
		return r, ErrBadSignet.With("the request is for %q, not %q", clip(r.Request.Address, 80), r.Address)
	}
	if !r.Request.Prev.IsZero() {
		return r, ErrBadSignet.With("a registration's signet must be the first of its chain")
	}
	if r.Request.SigningKey.Equal(r.Device.Key) {
		return r, ErrBadField.With("device_key must differ from the signet's signing key")
	}
	if w.KeyBackup != nil {
		kb, err := backupFields(w.KeyBackup)
		if err != nil {
			return r, err
		}
		r.Backup = &kb
	}
	return r, nil
}

func backupFields(w *backupWire) (KeyBackup, error) {
	var kb KeyBackup
	var err error
	if kb.Vault, err = fieldRange("vault", w.Vault, 1, vault.MaxFileSize); err != nil {
		return kb, err
	}
	if kb.AccessKey, err = keyField("access_key", w.AccessKey); err != nil {
		return kb, err
	}
	if kb.Salt, err = fieldRange("salt", w.Salt, MinBackupSalt, MaxBackupSalt); err != nil {
		return kb, err
	}
	kb.Params = vault.Params{Time: w.Params.Time, MemoryKiB: w.Params.MemoryKiB, Threads: w.Params.Threads}
	if err := CheckBackupParams(kb.Params); err != nil {
		return kb, ErrBadField.With("params: %v", err)
	}
	return kb, nil
}

func decodeKeyBackup(data []byte) (KeyBackup, error) {
	var w backupWire
	if err := decodeJSON(data, &w); err != nil {
		return KeyBackup{}, err
	}
	return backupFields(&w)
}

func decodeChallenge(data []byte) (Challenge, error) {
	var w challengeRequest
	if err := decodeJSON(data, &w); err != nil {
		return Challenge{}, err
	}
	var c Challenge
	var err error
	if c.Address, err = addressField(w.Address); err != nil {
		return c, err
	}
	c.Purpose = Purpose(w.Purpose)
	if c.Purpose != PurposeLogin && c.Purpose != PurposeEnroll {
		return c, ErrBadField.With("purpose must be %q or %q", PurposeLogin, PurposeEnroll)
	}
	c.Key, err = keyField("key", w.Key)
	return c, err
}

// proof is a decoded login, enroll or key-backup proof.
type proof struct {
	address   string
	key       ed25519.PublicKey // the device key; nil for key-backup
	challenge [32]byte
	signature []byte
	name      string // enroll: the device name
	recovery  bool   // enroll: signed by the recovery key, not the signing key
}

func decodeLogin(data []byte) (proof, error) {
	var w loginRequest
	if err := decodeJSON(data, &w); err != nil {
		return proof{}, err
	}
	p, err := proofFields(w.Address, w.Challenge, w.Signature)
	if err != nil {
		return p, err
	}
	p.key, err = keyField("device_key", w.DeviceKey)
	return p, err
}

func proofFields(address, challenge, sig string) (proof, error) {
	var p proof
	var err error
	if p.address, err = addressField(address); err != nil {
		return p, err
	}
	if p.challenge, err = challengeField(challenge); err != nil {
		return p, err
	}
	p.signature, err = field("signature", sig, ed25519.SignatureSize)
	return p, err
}

func decodeEnroll(data []byte) (proof, error) {
	var w enrollRequest
	if err := decodeJSON(data, &w); err != nil {
		return proof{}, err
	}
	p, err := proofFields(w.Address, w.Challenge, w.Signature)
	if err != nil {
		return p, err
	}
	if p.key, err = keyField("device_key", w.DeviceKey); err != nil {
		return p, err
	}
	if err := checkDeviceName(w.DeviceName); err != nil {
		return p, err
	}
	p.name = w.DeviceName
	switch w.Signer {
	case "signing":
	case "recovery":
		p.recovery = true
	default:
		return p, ErrBadField.With(`signer must be "signing" or "recovery"`)
	}
	return p, nil
}

func decodeBackupChallenge(data []byte) (string, error) {
	var w backupChallengeRequest
	if err := decodeJSON(data, &w); err != nil {
		return "", err
	}
	return addressField(w.Address)
}

func decodeBackupFetch(data []byte) (proof, error) {
	var w backupFetchRequest
	if err := decodeJSON(data, &w); err != nil {
		return proof{}, err
	}
	return proofFields(w.Address, w.Challenge, w.Signature)
}

func decodeRefresh(data []byte) ([]byte, error) {
	var w refreshRequest
	if err := decodeJSON(data, &w); err != nil {
		return nil, err
	}
	return field("refresh_token", w.RefreshToken, TokenSize)
}

func decodeRename(data []byte) (string, error) {
	var w renameRequest
	if err := decodeJSON(data, &w); err != nil {
		return "", err
	}
	return w.Name, checkDeviceName(w.Name)
}

// decodeRotate decodes a rotation; the handler checks that it is for the
// authenticated account.
func decodeRotate(data []byte) (*signet.User, error) {
	var w rotateRequest
	if err := decodeJSON(data, &w); err != nil {
		return nil, err
	}
	req, err := signingRequest(w.SigningRequest)
	if err != nil {
		return nil, err
	}
	if req.Prev.IsZero() {
		return nil, ErrBadSignet.With("a rotation's signet must succeed the current one")
	}
	return req, nil
}
