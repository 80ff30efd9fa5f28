// Package mtasts is SMTP MTA Strict Transport Security (RFC 8461) for the
// relay: it finds whether a recipient domain publishes a policy (a TXT
// record at _mta-sts.<domain>, then the policy itself over HTTPS from
// mta-sts.<domain>), parses it, and says which exchangers it allows.
// Under "enforce" the relay must then deliver only to those, over TLS
// with a certificate valid for the exchanger's name (WebPKI).
//
// Concurrency: a Fetcher is safe for concurrent use; its cache is behind
// a mutex.
package mtasts

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is a policy's mode (RFC 8461 §5).
type Mode string

const (
	Enforce Mode = "enforce"
	Testing Mode = "testing"
	None    Mode = "none"
)

// Policy is a parsed policy (RFC 8461 §3.2).
type Policy struct {
	Mode   Mode
	MX     []string // patterns: "mail.example.com" or "*.example.net"
	MaxAge time.Duration
}

// MaxPolicy bounds a policy body (RFC 8461 §3.3 lets a client limit it;
// 64 KiB is what it suggests).
const MaxPolicy = 64 << 10

// maxMaxAge is RFC 8461 §3.2's ceiling for max_age: a year.
const maxMaxAge = 31557600

// ErrPolicy is wrapped by every parsing error.
var ErrPolicy = errors.New("mtasts: malformed policy")

// Parse parses a policy body: "key: value" lines ended by CRLF or LF.
// version must be STSv1, mode one of the three, max_age 0 to a year, and
// mx present at least once unless the mode is none. Unknown keys are
// ignored (§3.2: for extension).
func Parse(body []byte) (*Policy, error) {
	if len(body) > MaxPolicy {
		return nil, fmt.Errorf("%w: %d bytes", ErrPolicy, len(body))
	}
	p := &Policy{}
	var version, mode, maxAge bool
	for _, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("%w: a line without ':'", ErrPolicy)
		}
		key, val := string(bytes.TrimSpace(k)), string(bytes.TrimSpace(v))
		switch key {
		case "version":
			if version || val != "STSv1" {
				return nil, fmt.Errorf("%w: version %q", ErrPolicy, clip(val))
			}
			version = true
		case "mode":
			if mode {
				return nil, fmt.Errorf("%w: mode twice", ErrPolicy)
			}
			switch Mode(val) {
			case Enforce, Testing, None:
				p.Mode, mode = Mode(val), true
			default:
				return nil, fmt.Errorf("%w: mode %q", ErrPolicy, clip(val))
			}
		case "max_age":
			n, err := strconv.ParseUint(val, 10, 32)
			if maxAge || err != nil || n > maxMaxAge || len(val) > 10 {
				return nil, fmt.Errorf("%w: max_age %q", ErrPolicy, clip(val))
			}
			p.MaxAge, maxAge = time.Duration(n)*time.Second, true
		case "mx":
			pat := strings.ToLower(strings.TrimSuffix(val, "."))
			if !validPattern(pat) {
				return nil, fmt.Errorf("%w: mx %q", ErrPolicy, clip(val))
			}
			p.MX = append(p.MX, pat)
		}
	}
	if !version || !mode || !maxAge {
		return nil, fmt.Errorf("%w: version, mode and max_age are required", ErrPolicy)
	}
	if p.Mode != None && len(p.MX) == 0 {
		return nil, fmt.Errorf("%w: no mx", ErrPolicy)
	}
	return p, nil
}

// validPattern accepts a host name, or "*." and a host name.
func validPattern(p string) bool {
	p = strings.TrimPrefix(p, "*.")
	if p == "" || len(p) > 253 {
		return false
	}
	for _, label := range strings.Split(p, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Allows reports whether the policy lets mail go to exchanger host
// (RFC 8461 §4.1): an exact match, or "*." matching exactly one leftmost
// label.
func (p *Policy) Allows(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if _, after, found := strings.Cut(host, "."); found && after == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
