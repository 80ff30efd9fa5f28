package store

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"umbra/signet"
)

// Limits every implementation enforces (docs/spec/store.md §1). Protocol layers
// enforce their own, smaller limits before calling the store; these only
// keep a bug or a hostile client from filling the disk with one call.
const (
	MaxDataSize      = 128 << 20     // a document, a queued message
	MaxDeliverBuffer = 1 << 20       // the most of one message or document being stored held in memory at once (Mailbox.Deliver, Mailbox.Put, Queue.Enqueue)
	MaxSignetSize    = 64 << 10      // an encoded user or organisation signet
	MaxKeylogRecord  = 64 << 10      // a record of the transparency log: a signet
	MaxKeyBackupSize = 1<<20 + 4<<10 // a vault of vault.MaxFileSize (1 MiB) and the provider's encoding of the other dmap.KeyBackup fields
	MaxBounceToSize  = 4 << 10
	MaxDocIDLen      = 128
	MaxKindLen       = 32
	MaxOwnerLen      = 128
	MaxLastError     = 1000 // bytes kept of a Reschedule error text
	MaxPage          = 1000 // entries per Changes or Claim call
	MaxHistory       = 1000 // signets per History call
)

// Times are stored to the nanosecond as a signed 64-bit count from the
// Unix epoch, so every implementation accepts exactly this range.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, 1<<63-1)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CheckAddress accepts a canonical account address (signet.CheckAddress).
func CheckAddress(a string) error {
	if err := signet.CheckAddress(a); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// CheckDomain accepts a canonical domain name (signet.CheckDomain).
func CheckDomain(d string) error {
	if err := signet.CheckDomain(d); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// CheckDocID accepts a document id: 1 to MaxDocIDLen characters from
// A–Z a–z 0–9 and "-_.~:", so that ids can travel in URLs and log lines
// without escaping (docs/spec/store.md §4.1). Clients choose ids; this is the parser
// of that outside input.
func CheckDocID(id string) error {
	if len(id) == 0 || len(id) > MaxDocIDLen {
		return invalid("document id of %d bytes, must be 1 to %d", len(id), MaxDocIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return invalid("document id %q: byte 0x%02x at %d not allowed", clip(id), id[i], i)
		}
	}
	return nil
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~:", c) >= 0
}

// CheckKind accepts a document kind: 1 to MaxKindLen characters from
// a–z 0–9 and "-".
func CheckKind(k string) error {
	if len(k) == 0 || len(k) > MaxKindLen {
		return invalid("document kind of %d bytes, must be 1 to %d", len(k), MaxKindLen)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return invalid("document kind %q: byte 0x%02x not allowed", clip(k), c)
		}
	}
	return nil
}

// CheckMode accepts the modes an account can be activated in.
func CheckMode(m Mode) error {
	if m != ModeParanoid && m != ModeCautious {
		return invalid("mode %q, must be %q or %q", clip(string(m)), ModeParanoid, ModeCautious)
	}
	return nil
}

// CheckSize rejects a blob longer than max; what names it in the error.
func CheckSize(what string, b []byte, max int) error {
	if len(b) > max {
		return invalid("%s of %d bytes, limit %d", what, len(b), max)
	}
	return nil
}

// CheckOwner accepts a claim owner: 1 to MaxOwnerLen bytes of UTF-8.
func CheckOwner(o string) error {
	if len(o) == 0 || len(o) > MaxOwnerLen || !utf8.ValidString(o) {
		return invalid("claim owner must be 1 to %d bytes of UTF-8", MaxOwnerLen)
	}
	return nil
}

// CheckTime accepts a time that is not zero and lies between the Unix
// epoch and the year 2262 (nanoseconds in a signed 64-bit integer).
func CheckTime(what string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return invalid("%s %s outside 1970 to 2262", what, t.Format(time.RFC3339))
	}
	return nil
}

// Limit clamps a page size to max; n must be positive.
func Limit(n, max int) (int, error) {
	if n <= 0 {
		return 0, invalid("limit %d, must be positive", n)
	}
	return min(n, max), nil
}

// TruncateError cuts an error text to MaxLastError bytes of valid UTF-8.
func TruncateError(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxLastError {
		return s
	}
	s = s[:MaxLastError]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// NewDocID returns a fresh document id for a delivered message: 16 random
// bytes in unpadded base64url (22 characters). Random rather than derived
// from the MessageID so that no id a client may have chosen is ever taken.
func NewDocID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documentation)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// clip shortens hostile input quoted in errors.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

// CheckCollected is ErrResync when a change listing since lies before
// the account's collected sequence number: a tombstone numbered above
// since is gone, so the caller would miss a deletion. Since 0 reads
// everything there is and misses nothing; since equal to collected has
// seen the highest collected change itself (docs/spec/store.md §4.5).
func CheckCollected(address string, since, collected int64) error {
	if since > 0 && since < collected {
		return fmt.Errorf("%w: changes of %s since %d: tombstones up to %d were collected", ErrResync, address, since, collected)
	}
	return nil
}
