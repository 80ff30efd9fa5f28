package store

import (
	"crypto/ed25519"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the login state (docs/spec/store.md §1, §9–§11).
const (
	MaxDeviceIDLen   = 64
	MaxDeviceNameLen = 64
	MaxPurposeLen    = 32
)

// CheckDeviceID accepts a device id: 1 to MaxDeviceIDLen characters from
// the document id alphabet (A–Z a–z 0–9 "-_.~:"), so that it can travel
// in a URL path unescaped (dmap's ids are 16 base64url characters).
func CheckDeviceID(id string) error {
	if len(id) == 0 || len(id) > MaxDeviceIDLen {
		return invalid("device id of %d bytes, must be 1 to %d", len(id), MaxDeviceIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return invalid("device id %q: byte 0x%02x at %d not allowed", clip(id), id[i], i)
		}
	}
	return nil
}

// CheckDeviceName accepts a device name: 1 to MaxDeviceNameLen bytes of
// UTF-8 without control characters (the same rule as DMAP's).
func CheckDeviceName(name string) error {
	if len(name) == 0 || len(name) > MaxDeviceNameLen || !utf8.ValidString(name) {
		return invalid("device name must be 1 to %d bytes of UTF-8", MaxDeviceNameLen)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return invalid("device name %q contains a control character", clip(name))
	}
	return nil
}

// CheckDeviceKey accepts an Ed25519 public key: exactly 32 bytes.
func CheckDeviceKey(k ed25519.PublicKey) error {
	if len(k) != ed25519.PublicKeySize {
		return invalid("device key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
	}
	return nil
}

// CheckPurpose accepts a challenge purpose: 1 to MaxPurposeLen characters
// from a–z 0–9 and "-".
func CheckPurpose(p string) error {
	if len(p) == 0 || len(p) > MaxPurposeLen {
		return invalid("challenge purpose of %d bytes, must be 1 to %d", len(p), MaxPurposeLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return invalid("challenge purpose %q: byte 0x%02x not allowed", clip(p), c)
		}
	}
	return nil
}

// CheckDevice accepts a device to add: every field but LastSeen.
func CheckDevice(d Device) error {
	if err := CheckAddress(d.Account); err != nil {
		return err
	}
	if err := CheckDeviceID(d.ID); err != nil {
		return err
	}
	if err := CheckDeviceKey(d.Key); err != nil {
		return err
	}
	if err := CheckDeviceName(d.Name); err != nil {
		return err
	}
	return CheckTime("device created", d.Created)
}

// CheckChallenge accepts a challenge to put. Its value is not checked:
// any 32 bytes will do, and the caller draws them at random.
func CheckChallenge(c Challenge) error {
	if err := CheckPurpose(c.Purpose); err != nil {
		return err
	}
	if err := CheckAddress(c.Address); err != nil {
		return err
	}
	if c.Key != nil {
		if err := CheckDeviceKey(c.Key); err != nil {
			return err
		}
	}
	return CheckTime("challenge expires", c.Expires)
}

// CheckSessionTokens accepts the token fields of a session to create or
// to refresh into: two distinct non-zero hashes (a zero hash is a caller
// that forgot to set one, never SHA-256 output), valid times, and
// expiry times after the time of issue.
func CheckSessionTokens(s Session) error {
	var zero [32]byte
	if s.AccessHash == zero || s.RefreshHash == zero {
		return invalid("session token hash is all zero")
	}
	if s.AccessHash == s.RefreshHash {
		return invalid("session access and refresh hashes are equal")
	}
	for _, c := range []struct {
		what string
		t    time.Time
	}{{"session issued", s.Issued}, {"access expires", s.AccessExpires}, {"refresh expires", s.RefreshExpires}} {
		if err := CheckTime(c.what, c.t); err != nil {
			return err
		}
	}
	if !s.AccessExpires.After(s.Issued) || !s.RefreshExpires.After(s.Issued) {
		return invalid("session tokens expire (%v, %v) before they are issued (%v)", s.AccessExpires, s.RefreshExpires, s.Issued)
	}
	return nil
}
