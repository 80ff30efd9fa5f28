package signet

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
)

// Fingerprint identifies one signet: SHA-256 of its complete canonical
// encoding, signatures included (docs/spec/signet.md §7).
type Fingerprint [32]byte

// FingerprintOf returns the fingerprint of an encoded signet.
func FingerprintOf(encoded []byte) Fingerprint { return sha256.Sum256(encoded) }

// String is the compact machine form: unpadded base64url, 43 characters.
// It is what DNS records, DMTP commands and logs carry.
func (f Fingerprint) String() string { return base64.RawURLEncoding.EncodeToString(f[:]) }

// humanEncoding is RFC 4648 base32 without padding: no 0/1/8 to confuse
// with O/I/B, and case-insensitive, so it can be read aloud.
var humanEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Human is the form a person compares aloud or on paper: the 52 base32
// characters of the fingerprint in 13 groups of 4, such as
// "MFRG GZDF MZTW Q2LK ...".
func (f Fingerprint) Human() string {
	s := humanEncoding.EncodeToString(f[:])
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// Equal compares in constant time.
func (f Fingerprint) Equal(g Fingerprint) bool { return subtle.ConstantTimeCompare(f[:], g[:]) == 1 }

// IsZero reports whether f is the zero value (no fingerprint).
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

// ParseFingerprint accepts the machine form (base64url) or the human form
// (base32, any case, spaces and dashes ignored).
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	if len(s) == 43 {
		// Strict: the unused low bits of the last character must be
		// zero, so one fingerprint has one spelling.
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err == nil && len(b) == len(f) {
			copy(f[:], b)
			return f, nil
		}
	}
	clean := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	if len(clean) == 52 {
		b, err := humanEncoding.DecodeString(clean)
		// One spelling per fingerprint: the unused low bits of the last
		// character are zero (base32 has no Strict mode).
		if err == nil && len(b) == len(f) && humanEncoding.EncodeToString(b) == clean {
			copy(f[:], b)
			return f, nil
		}
	}
	return f, fmt.Errorf("signet: fingerprint %q is neither 43 base64url nor 52 base32 characters", truncate(s, 80))
}

// truncate shortens s for error messages so that hostile input cannot
// flood a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
