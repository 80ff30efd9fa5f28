package signet

import (
	"crypto/hpke"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"
)

// KEM is the HPKE KEM of every encryption key in suite v1 (DESIGN §3):
// ML-KEM-768 with X25519, a post-quantum hybrid.
func KEM() hpke.KEM { return hpke.MLKEM768X25519() }

// EncKeySize is the size of a serialised suite-v1 encryption public key.
const EncKeySize = 1216

func parseEncKey(name string, b []byte) (hpke.PublicKey, error) {
	pk, err := KEM().NewPublicKey(b)
	if err != nil {
		return nil, &Error{Field: name, Rule: "not a valid ML-KEM-768+X25519 public key", Err: err}
	}
	return pk, nil
}

// CheckDomain reports whether d is a domain name in the canonical form
// signets carry (spec §4.1): lower-case ASCII letters, digits and hyphens in
// dot-separated labels of 1 to 63 characters, no leading or trailing hyphen
// or dot, at most 253 characters, at least two labels. Internationalised
// names are carried in their A-label (xn--) form.
func CheckDomain(d string) error {
	if len(d) == 0 || len(d) > 253 {
		return fmt.Errorf("domain %q: length %d, must be 1 to 253", truncate(d, 80), len(d))
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q: needs at least two labels", d)
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return fmt.Errorf("domain %q: empty or over-long label", d)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain %q: label %q starts or ends with a hyphen", d, l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("domain %q: character %q not allowed (lower-case letters, digits, hyphen)", truncate(d, 80), c)
			}
		}
	}
	return nil
}

// CheckAddress reports whether a is an address in canonical form (spec
// §4.1): a local part of 1 to 64 bytes of UTF-8 without spaces, control
// characters, '@', '<', '>' or quotes, then '@' and a canonical domain.
func CheckAddress(a string) error {
	local, domain, ok := strings.Cut(a, "@")
	if !ok {
		return fmt.Errorf("address %q: no '@'", truncate(a, 80))
	}
	if len(local) == 0 || len(local) > 64 {
		return fmt.Errorf("address %q: local part length %d, must be 1 to 64", truncate(a, 80), len(local))
	}
	if !utf8.ValidString(local) {
		return fmt.Errorf("address %q: local part is not UTF-8", truncate(a, 80))
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("@<>\"\\", r) {
			return fmt.Errorf("address %q: character %q not allowed in the local part", truncate(a, 80), r)
		}
	}
	if err := CheckDomain(domain); err != nil {
		return fmt.Errorf("address %q: %w", truncate(a, 80), err)
	}
	return nil
}

// DomainOf returns the domain of an address.
func DomainOf(address string) string {
	_, d, _ := strings.Cut(address, "@")
	return d
}

// checkHostPort validates a DMTP endpoint "host:port" (spec §3).
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	return CheckDomain(host)
}
