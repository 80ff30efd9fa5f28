package autocrypt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"umbra/pgp"
)

// MaxHeaderSize bounds an Autocrypt header field's value. A minimal
// Ed25519 key is under 1 KiB; large RSA keys with many signatures stay well
// below this.
const MaxHeaderSize = 64 << 10

// PreferEncrypt is the prefer-encrypt attribute (§2.1.1).
type PreferEncrypt int

const (
	NoPreference PreferEncrypt = iota
	Mutual
)

func (p PreferEncrypt) String() string {
	if p == Mutual {
		return "mutual"
	}
	return "nopreference"
}

// Header is a parsed Autocrypt header.
type Header struct {
	Addr          string
	PreferEncrypt PreferEncrypt
	Key           *pgp.PublicKey
}

// ErrCritical is wrapped by Parse's error for an unknown attribute whose
// name does not start with "_" (§2.1: the header must then be ignored).
var ErrCritical = errors.New("autocrypt: unknown critical attribute")

// Parse parses the value of one Autocrypt header field (folded or not).
// addr and keydata are required; prefer-encrypt other than "mutual" means no
// preference; attributes starting with "_" are ignored. The key must parse
// and be usable at time now (pgp.ParsePublicKey).
func Parse(value string, now time.Time) (*Header, error) {
	if len(value) > MaxHeaderSize {
		return nil, fmt.Errorf("autocrypt: header of %d bytes, limit %d", len(value), MaxHeaderSize)
	}
	var h Header
	var keydata string
	seen := map[string]bool{}
	for _, attr := range strings.Split(value, ";") {
		attr = strings.TrimSpace(attr)
		if attr == "" {
			continue
		}
		name, val, ok := strings.Cut(attr, "=")
		if !ok {
			return nil, fmt.Errorf("autocrypt: attribute %.40q has no value", attr)
		}
		name = strings.TrimSpace(name)
		if seen[name] {
			return nil, fmt.Errorf("autocrypt: attribute %.40q repeated", name)
		}
		seen[name] = true
		switch {
		case name == "addr":
			a, err := mail.ParseAddress(strings.TrimSpace(val))
			if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
				return nil, fmt.Errorf("autocrypt: addr %.80q is not an address", val)
			}
			h.Addr = a.Address
		case name == "prefer-encrypt":
			if strings.TrimSpace(val) == "mutual" {
				h.PreferEncrypt = Mutual
			}
		case name == "keydata":
			keydata = val
		case strings.HasPrefix(name, "_"):
			// Non-critical: ignored.
		default:
			return nil, fmt.Errorf("%w %.40q", ErrCritical, name)
		}
	}
	if h.Addr == "" {
		return nil, errors.New("autocrypt: no addr attribute")
	}
	if keydata == "" {
		return nil, errors.New("autocrypt: no keydata attribute")
	}
	bin, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(keydata), ""))
	if err != nil {
		return nil, fmt.Errorf("autocrypt: keydata: %w", err)
	}
	if h.Key, err = pgp.ParsePublicKey(bin, now); err != nil {
		return nil, fmt.Errorf("autocrypt: keydata of %s: %w", h.Addr, err)
	}
	return &h, nil
}

// Format returns the value of an Autocrypt header field for h, folded
// (CRLF and a space before each 76-character line of keydata) so that
// "Autocrypt: " + Format(h) + "\r\n" is a valid RFC 5322 header field.
func Format(h *Header) string {
	var b strings.Builder
	b.WriteString("addr=" + h.Addr + "; ")
	if h.PreferEncrypt == Mutual {
		b.WriteString("prefer-encrypt=mutual; ")
	}
	b.WriteString("keydata=")
	data := base64.StdEncoding.EncodeToString(h.Key.Bytes())
	for len(data) > 0 {
		n := min(76, len(data))
		b.WriteString("\r\n " + data[:n])
		data = data[n:]
	}
	return b.String()
}

// Find picks the Autocrypt header of a message from all its Autocrypt
// header field values (§2.3): the one valid header whose addr is the From
// address. With none, it returns nil and the reasons the others were
// rejected (nil if there were none); with more than one, nil and an error.
// The caller must not look at headers of multipart/report messages at all.
func Find(values []string, from string, now time.Time) (*Header, error) {
	var found []*Header
	var errs []error
	for _, v := range values {
		h, err := Parse(v, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !strings.EqualFold(h.Addr, from) {
			errs = append(errs, fmt.Errorf("autocrypt: addr %s is not the From address %s", h.Addr, from))
			continue
		}
		found = append(found, h)
	}
	switch len(found) {
	case 0:
		return nil, errors.Join(errs...)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("autocrypt: %d valid headers for %s, want one", len(found), from)
}
