package dnsrec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"umbra/signet"
)

// ParseError reports a malformed record. Field is the key at fault ("pok",
// "dx", ...) or "record" for the record as a whole; Reason says what is
// wrong in words a domain operator understands.
type ParseError struct {
	Field  string
	Reason string
}

func (e *ParseError) Error() string { return "dnsrec: " + e.Field + ": " + e.Reason }

func fieldErrorf(field, format string, args ...any) *ParseError {
	return &ParseError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// IsCandidate reports whether the character-strings of one TXT record
// belong to this version of the _dime record: their concatenation starts
// with "ver=1" followed by a space, a tab or the end. Other TXT records may
// share the name and are not ours to judge (docs/spec/dns.md §5.3).
func IsCandidate(txt []string) bool {
	const tag = "ver=1"
	var b strings.Builder
	for _, s := range txt {
		b.WriteString(s)
		if b.Len() > len(tag) {
			break
		}
	}
	s := b.String()
	return strings.HasPrefix(s, tag) && (len(s) == len(tag) || s[len(tag)] == ' ' || s[len(tag)] == '\t')
}

// Parse reads one TXT record, given as its character-strings with DNS
// escapes already removed. The strings are concatenated without separators
// (as RFC 7208 §3.3 does for SPF) and the result is checked against every
// rule of docs/spec/dns.md §3–4. Errors are *ParseError.
func Parse(txt []string) (*Record, error) {
	if len(txt) == 0 {
		return nil, fieldErrorf("record", "the TXT record has no strings")
	}
	total := 0
	for i, s := range txt {
		if len(s) > MaxStringLen {
			return nil, fieldErrorf("record", "string %d is %d bytes; a TXT string holds at most %d", i+1, len(s), MaxStringLen)
		}
		total += len(s)
	}
	if total > MaxRecordLen {
		return nil, fieldErrorf("record", "the record is %d bytes; at most %d are allowed", total, MaxRecordLen)
	}
	return parseText(strings.Join(txt, ""))
}

func parseText(s string) (*Record, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == ' ' || c == '\t' || c >= 0x21 && c <= 0x7e && c != '"' && c != '\\') {
			return nil, fieldErrorf("record", "byte %d is %#02x; only printable ASCII other than \" and \\ is allowed", i+1, c)
		}
	}
	if !strings.HasPrefix(s, "ver=") {
		return nil, fieldErrorf("ver", "the record must start with ver=1")
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
	r := &Record{}
	seen := map[string]bool{}
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fieldErrorf("record", "%q is not key=value", clip(f))
		}
		if err := checkKey(key); err != nil {
			return nil, err
		}
		if val == "" {
			return nil, fieldErrorf(key, "has no value")
		}
		p, known := fieldParsers[key]
		if !known {
			// Unknown keys are ignored so that ver=1 can gain optional
			// fields; a field older clients must not ignore needs ver=2
			// (docs/spec/dns.md §4.11).
			continue
		}
		if seen[key] && key != "pok" && key != "sok" {
			return nil, fieldErrorf(key, "appears twice; only pok and sok may repeat")
		}
		seen[key] = true
		if err := p(r, val); err != nil {
			return nil, err
		}
	}
	return r, checkRecord(r, seen)
}

func checkKey(key string) error {
	if key == "" {
		return fieldErrorf("record", "a field has no key before \"=\"")
	}
	if len(key) > maxKeyLen {
		return fieldErrorf("record", "key %q is longer than %d bytes", clip(key), maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_'):
		case c >= 'A' && c <= 'Z':
			return fieldErrorf("record", "key %q: keys are lowercase (write %q)", key, strings.ToLower(key))
		default:
			return fieldErrorf("record", "key %q: a key is a lowercase letter followed by letters, digits, - or _", key)
		}
	}
	return nil
}

// checkRecord applies the rules that span fields, once all are read.
func checkRecord(r *Record, seen map[string]bool) error {
	for _, k := range []string{"pok", "dx", "pol", "exp"} {
		if !seen[k] {
			return fieldErrorf(k, "missing; ver, pok, dx, pol and exp are required")
		}
	}
	for _, s := range r.SOKs {
		for _, p := range r.POKs {
			if bytes.Equal(s, p) {
				return fieldErrorf("sok", "key %s is also a pok; the primary key must not double as an online key", b64.EncodeToString(s))
			}
		}
	}
	return nil
}

var fieldParsers = map[string]func(*Record, string) error{
	"ver": func(r *Record, v string) error {
		if v != "1" {
			return fieldErrorf("ver", "version %q is not supported; this software reads ver=1", clip(v))
		}
		r.Version = Version
		return nil
	},
	"pok": func(r *Record, v string) error {
		var err error
		r.POKs, err = appendKey(r.POKs, "pok", v, MaxPOKs)
		return err
	},
	"sok": func(r *Record, v string) error {
		var err error
		r.SOKs, err = appendKey(r.SOKs, "sok", v, MaxSOKs)
		return err
	},
	"dx": func(r *Record, v string) error {
		hp, err := parseHostPort(v)
		if err != "" {
			return fieldErrorf("dx", "%s", err)
		}
		r.DX = hp
		return nil
	},
	"dmap": func(r *Record, v string) error {
		if err := checkDMAP(v); err != "" {
			return fieldErrorf("dmap", "%s", err)
		}
		r.DMAP = v
		return nil
	},
	"tls": func(r *Record, v string) error {
		b, err := decodeB64(v)
		if err != "" {
			return fieldErrorf("tls", "%s", err)
		}
		if len(b) != 32 {
			return fieldErrorf("tls", "not a SHA-256 pin in base64 (got %d bytes, want 32)", len(b))
		}
		r.TLSPin = b
		return nil
	},
	"fp": func(r *Record, v string) error {
		fp, err := signet.ParseFingerprint(v)
		// Only the compact base64url form fits in a record, and only its
		// canonical spelling, so one fingerprint has one text.
		if len(v) != 43 || err != nil || fp.String() != v {
			return fieldErrorf("fp", "%q is not a signet fingerprint (43 characters of unpadded base64url)", clip(v))
		}
		r.Fingerprint = fp
		return nil
	},
	"pol": func(r *Record, v string) error {
		var err error
		r.Policy, err = ParsePolicy(v)
		return err
	},
	"exp": func(r *Record, v string) error {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || len(v) > 3 || v[0] < '0' || v[0] > '9':
			return fieldErrorf("exp", "%q is not a whole number of days from %d to %d", clip(v), MinExpDays, MaxExpDays)
		case len(v) > 1 && v[0] == '0':
			return fieldErrorf("exp", "%q has a leading zero; write the plain number of days", v)
		}
		if n < MinExpDays || n > MaxExpDays {
			return fieldErrorf("exp", "%d days is outside %d..%d", n, MinExpDays, MaxExpDays)
		}
		r.ExpDays = n
		return nil
	},
	"sub": func(r *Record, v string) error {
		var err error
		r.Subdomain, err = ParseSubdomain(v)
		return err
	},
}

func appendKey(keys []ed25519.PublicKey, field, v string, limit int) ([]ed25519.PublicKey, error) {
	b, why := decodeB64(v)
	if why != "" {
		return nil, fieldErrorf(field, "%s", why)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fieldErrorf(field, "not a 32-byte Ed25519 key in base64 (got %d bytes)", len(b))
	}
	for _, k := range keys {
		if bytes.Equal(k, b) {
			return nil, fieldErrorf(field, "key %s is listed twice", b64.EncodeToString(b))
		}
	}
	if len(keys) == limit {
		return nil, fieldErrorf(field, "more than %d keys", limit)
	}
	return append(keys, ed25519.PublicKey(b)), nil
}

// decodeB64 decodes standard padded base64 (RFC 4648 §4), rejecting
// non-canonical trailing bits, so one value has exactly one spelling.
func decodeB64(v string) ([]byte, string) {
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err == nil {
		return b, ""
	}
	if _, rerr := base64.RawStdEncoding.Strict().DecodeString(v); rerr == nil {
		return nil, "base64 without its = padding; write it padded, as the base64 tool does"
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return nil, fmt.Sprintf("not base64 (standard alphabet A-Z a-z 0-9 + /, padded with =): bad character, padding or trailing bits at position %d", int64(ce)+1)
	}
	return nil, "not base64: " + err.Error()
}

// parseHostPort checks a dx= value and returns it canonical: lowercase
// hostname or normalised IP address, decimal port.
func parseHostPort(v string) (string, string) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return "", fmt.Sprintf("%q has no port; write host:port (DMTP's port is 26)", clip(v))
		}
		return "", fmt.Sprintf("%q is not host:port (an IPv6 address goes in brackets)", clip(v))
	}
	h, why := checkHost(host)
	if why != "" {
		return "", why
	}
	n, why := checkPort(port)
	if why != "" {
		return "", why
	}
	return net.JoinHostPort(h, strconv.Itoa(n)), ""
}

// checkHost accepts an IP address without zone, or a hostname.
func checkHost(host string) (string, string) {
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", fmt.Sprintf("address %q has a zone; zones mean nothing to another host", clip(host))
		}
		return a.String(), ""
	}
	h := strings.ToLower(host)
	if h == "" {
		return "", "the host is empty"
	}
	if why := hostnameProblem(h); why != "" {
		return "", fmt.Sprintf("host %q: %s", clip(host), why)
	}
	return h, ""
}

func checkPort(port string) (int, string) {
	n, err := strconv.Atoi(port)
	if err != nil || port[0] < '0' || port[0] > '9' || n < 1 || n > 65535 {
		return 0, fmt.Sprintf("port %q is not a number from 1 to 65535", clip(port))
	}
	return n, ""
}

// checkDMAP checks a dmap= URL: https, a host, an optional port and path,
// nothing else. It is kept as written; the characters the record allows
// need no escaping.
func checkDMAP(v string) string {
	if len(v) > maxDMAPLen {
		return fmt.Sprintf("the URL is %d bytes; at most %d are allowed", len(v), maxDMAPLen)
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL", clip(v))
	case u.Scheme != "https":
		return fmt.Sprintf("%q is not an https:// URL", clip(v))
	case u.Opaque != "" || u.Host == "":
		return fmt.Sprintf("%q has no host; write https://host/path", clip(v))
	case u.User != nil:
		return fmt.Sprintf("%q has a user name; DMAP URLs carry none", clip(v))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		return fmt.Sprintf("%q has a query or fragment; DMAP's base URL has neither", clip(v))
	}
	if _, why := checkHost(u.Hostname()); why != "" {
		return why
	}
	if p := u.Port(); p != "" {
		if _, why := checkPort(p); why != "" {
			return why
		}
	}
	return ""
}
