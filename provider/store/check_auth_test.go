package store

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCheckDeviceIDNameKey(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "kt1AynM0cD_WjOG_", strings.Repeat("x", MaxDeviceIDLen)} {
		if err := CheckDeviceID(id); err != nil {
			t.Errorf("CheckDeviceID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", "a b", "a/b", "é", "a\x00", strings.Repeat("x", MaxDeviceIDLen+1)} {
		if err := CheckDeviceID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckDeviceID(%q) = %v, want ErrInvalid", id, err)
		}
	}
	for _, n := range []string{"x", "Alice’s phone 📱", strings.Repeat("é", MaxDeviceNameLen/2)} {
		if err := CheckDeviceName(n); err != nil {
			t.Errorf("CheckDeviceName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "a\nb", "a\tb", "\x7f", "a\u0085b", "\xff", strings.Repeat("n", MaxDeviceNameLen+1), strings.Repeat("é", MaxDeviceNameLen/2) + "x"} {
		if err := CheckDeviceName(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckDeviceName(%q) = %v, want ErrInvalid", n, err)
		}
	}
	if err := CheckDeviceKey(make(ed25519.PublicKey, 32)); err != nil {
		t.Error(err)
	}
	for _, k := range []ed25519.PublicKey{nil, make([]byte, 31), make([]byte, 33), make([]byte, 64)} {
		if err := CheckDeviceKey(k); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckDeviceKey(%d bytes) = %v", len(k), err)
		}
	}
	for _, p := range []string{"login", "enroll", "key-backup", strings.Repeat("p", MaxPurposeLen)} {
		if err := CheckPurpose(p); err != nil {
			t.Errorf("CheckPurpose(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "Login", "key_backup", "log in", strings.Repeat("p", MaxPurposeLen+1)} {
		if err := CheckPurpose(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckPurpose(%q) = %v", p, err)
		}
	}
}

func TestCheckChallengeAndSession(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Challenge{Purpose: "key-backup", Address: "a@example.test", Expires: now}
	if err := CheckChallenge(c); err != nil {
		t.Errorf("a challenge without a key: %v", err)
	}
	c.Key = make([]byte, 0)
	if err := CheckChallenge(c); !errors.Is(err, ErrInvalid) {
		t.Errorf("a challenge with an empty, non-nil key: %v", err)
	}
	s := Session{Issued: now, AccessHash: [32]byte{1}, AccessExpires: now.Add(time.Minute), RefreshHash: [32]byte{2}, RefreshExpires: now.Add(time.Hour)}
	if err := CheckSessionTokens(s); err != nil {
		t.Errorf("a good session: %v", err)
	}
	for what, mutate := range map[string]func(*Session){
		"zero access hash":    func(s *Session) { s.AccessHash = [32]byte{} },
		"equal hashes":        func(s *Session) { s.RefreshHash = s.AccessHash },
		"expired at issue":    func(s *Session) { s.AccessExpires = s.Issued },
		"refresh before":      func(s *Session) { s.RefreshExpires = s.Issued.Add(-1) },
		"issued before epoch": func(s *Session) { s.Issued = time.Unix(-1, 0) },
	} {
		x := s
		mutate(&x)
		if err := CheckSessionTokens(x); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", what, err)
		}
	}
}

// FuzzCheckDevice: the device id and name checks accept exactly what
// docs/spec/store.md §9.1 describes (control characters are Unicode's
// Cc: U+0000–U+001F and U+007F–U+009F), and never panic.
func FuzzCheckDevice(f *testing.F) {
	for _, s := range []string{"kt1AynM0cD_WjOG_", "phone", "a b", "é", "\xff", "a\x00", strings.Repeat("x", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		idOK := len(s) >= 1 && len(s) <= MaxDeviceIDLen && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~:") == ""
		if got := CheckDeviceID(s) == nil; got != idOK {
			t.Fatalf("CheckDeviceID(%q) accepts %v, want %v", s, got, idOK)
		}
		nameOK := len(s) >= 1 && len(s) <= MaxDeviceNameLen && utf8.ValidString(s)
		for _, r := range s {
			if r < 0x20 || r >= 0x7f && r < 0xa0 {
				nameOK = false
			}
		}
		if got := CheckDeviceName(s) == nil; got != nameOK {
			t.Fatalf("CheckDeviceName(%q) accepts %v, want %v", s, got, nameOK)
		}
	})
}
