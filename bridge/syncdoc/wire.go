package syncdoc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file holds what the three plaintext encodings share (spec §5.1): the
// errors, the bounds, a bounded reader and the text rules.

var (
	// ErrAuth: a sealed document does not authenticate: it was altered, or
	// it is opened with the wrong storage key, id, kind or revision.
	ErrAuth = errors.New("syncdoc: document does not authenticate")
	// ErrVersion: a sealed document or plaintext of a version this
	// implementation does not know.
	ErrVersion = errors.New("syncdoc: unsupported version")
	// ErrMalformed: bytes that break the encoding: truncated, oversize,
	// out of range, not canonical or with trailing bytes.
	ErrMalformed = errors.New("syncdoc: malformed document")
	// ErrInvalid: a value given to Marshal, Seal or CheckKey breaks a rule.
	ErrInvalid = errors.New("syncdoc: invalid value")
)

// Bounds of the encodings (spec §5.1).
const (
	MaxName     = 255             // bytes of a mailbox or folder name, a flag, a device id
	MaxFlags    = 64              // flags of one message
	MaxFolders  = 10000           // entries of the folders document
	MaxSecurity = 1024            // bytes of a security verdict line
	MaxMIME     = 64<<20 - 4096   // bytes of a message, so that its sealed document fits DMAP's default 64 MiB
	minDate     = -62135596800000 // 0001-01-01T00:00:00Z in unix milliseconds
	maxDate     = 253402300799999 // 9999-12-31T23:59:59.999Z
	maxZone     = 24*60 - 1       // minutes of a time zone offset
	formatV1    = 1               // the version byte of every plaintext encoding
)

// reader consumes a plaintext. The first error sticks and every later read
// returns zero values, so a parser reads straight through and checks once.
type reader struct {
	what string // the document, for error messages
	b    []byte
	off  int
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("syncdoc: %s: at byte %d: %s: %w", r.what, r.off, fmt.Sprintf(format, args...), ErrMalformed)
	}
}

// take returns the next n bytes (aliasing the input).
func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("%s: needs %d bytes, %d left", field, n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8(field string) int {
	if v := r.take(1, field); v != nil {
		return int(v[0])
	}
	return 0
}

func (r *reader) u16(field string) int {
	if v := r.take(2, field); v != nil {
		return int(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if v := r.take(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) i64(field string) int64 {
	if v := r.take(8, field); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// version reads and checks the leading version byte.
func (r *reader) version() {
	if len(r.b) == 0 {
		r.fail("empty")
		return
	}
	if v := r.u8("version"); v != formatV1 {
		r.err = fmt.Errorf("syncdoc: %s: version %d: %w", r.what, v, ErrVersion)
	}
}

// key reads a message key.
func (r *reader) key() string {
	k := string(r.take(KeyLen, "key"))
	if r.err == nil {
		if err := keyError(k); err != nil {
			r.fail("%v", err)
		}
	}
	return k
}

// state reads the state byte: bit 0 is "deleted", the others must be 0.
func (r *reader) state() bool {
	s := r.u8("state")
	if s&^1 != 0 {
		r.fail("state byte 0x%02x has unknown bits", s)
	}
	return s == 1
}

// millis reads a non-negative unix time in milliseconds (an "updated").
func (r *reader) millis(field string) int64 {
	v := r.i64(field)
	if v < 0 {
		r.fail("%s %d is negative", field, v)
	}
	return v
}

// text reads a length-prefixed (one byte) string and checks it with
// checkText.
func (r *reader) text(field string, minLen int) string {
	s := string(r.take(r.u8(field+" length"), field))
	if r.err == nil {
		if err := checkText(field, s, minLen, MaxName); err != nil {
			r.fail("%v", err)
		}
	}
	return s
}

// end checks that every byte was consumed and returns the sticky error.
func (r *reader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.off)
	}
	return r.err
}

// checkText enforces the rule for every string field: minLen to maxLen
// bytes of valid UTF-8 without control characters (Unicode Cc), so a name
// cannot smuggle line breaks into an IMAP answer or a log line.
func checkText(field, s string, minLen, maxLen int) error {
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("%s is %d bytes, want %d to %d", field, len(s), minLen, maxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for i, c := range s {
		if unicode.IsControl(c) {
			return fmt.Errorf("%s has control character U+%04X at byte %d", field, c, i)
		}
	}
	return nil
}

// invalid wraps a Marshal-side rule violation.
func invalid(what string, err error) error {
	return fmt.Errorf("syncdoc: %s: %v: %w", what, err, ErrInvalid)
}

// appendText appends a one-byte length and s (checked by the caller).
func appendText(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// appendState appends the state byte.
func appendState(b []byte, deleted bool) []byte {
	if deleted {
		return append(b, 1)
	}
	return append(b, 0)
}

// checkUpdated checks an "updated" time in unix milliseconds.
func checkUpdated(ms int64) error {
	if ms < 0 {
		return fmt.Errorf("updated %d is negative", ms)
	}
	return nil
}

// zoneMinutes is t's offset from UTC in whole minutes (IMAP's
// date-time carries ±HHMM, RFC 9051 §9; seconds of historic local mean
// times are dropped).
func zoneMinutes(t time.Time) int {
	_, off := t.Zone()
	return off / 60
}
