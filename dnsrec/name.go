package dnsrec

import (
	"fmt"
	"net/netip"
	"strings"
)

// NormalizeDomain checks a domain name given by a user or a peer and
// returns it in the form this package stores and compares: lowercase, no
// trailing dot. It must be a DNS hostname of letter-digit-hyphen labels
// (RFC 1123 §2.1; internationalised names in their xn-- A-label form) short
// enough that "_dime." plus the name fits DNS's 255-byte name limit.
func NormalizeDomain(domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if d == "" {
		return "", fmt.Errorf("dnsrec: domain name is empty")
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Errorf("dnsrec: domain %q: an IP address is not a domain name", clip(domain))
	}
	// The wire form of _dime.<d>. is len("_dime.")+len(d)+2 bytes, at
	// most 255 (RFC 1035 §3.1); 253 is the usual limit for d itself.
	if max := 253 - len(dimeLabel) - 1; len(d) > max {
		return "", fmt.Errorf("dnsrec: domain %q is %d bytes; at most %d fit under %s", clip(domain), len(d), max, dimeLabel)
	}
	if why := hostnameProblem(d); why != "" {
		return "", fmt.Errorf("dnsrec: domain %q: %s", clip(domain), why)
	}
	return d, nil
}

// dimeLabel is the label the record lives under (docs/spec/dns.md §2).
const dimeLabel = "_dime"

// hostnameProblem says what is wrong with a lowercase hostname without a
// trailing dot, or returns "" when it is fine.
func hostnameProblem(h string) string {
	if len(h) > 253 {
		return fmt.Sprintf("the name is %d bytes; DNS allows 253", len(h))
	}
	if strings.HasSuffix(h, ".") {
		return "it ends with a dot; write the name without it"
	}
	for label := range strings.SplitSeq(h, ".") {
		switch {
		case label == "":
			return "it has an empty label (two dots in a row, or a leading dot)"
		case len(label) > 63:
			return fmt.Sprintf("label %q is %d bytes; DNS allows 63", clip(label), len(label))
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				if c >= 0x80 {
					return "it is not ASCII; write an internationalised name in its xn-- form"
				}
				return fmt.Sprintf("label %q has %q; only letters, digits and hyphens are allowed", clip(label), c)
			}
		}
	}
	return ""
}

// clip shortens hostile or mistaken input quoted in an error message so it
// cannot flood a log line.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
