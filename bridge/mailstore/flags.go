package mailstore

import (
	"fmt"
	"slices"
	"strings"
)

// systemFlags are the system flags a message may carry, in their
// canonical case (RFC 9051 §2.3.2). \Recent is gone from IMAP4rev2 and is
// dropped; any other backslash flag is refused.
var systemFlags = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`}

const (
	recentFlag  = `\Recent`
	seenFlag    = `\Seen`
	maxFlags    = 64  // flags on one message
	maxFlagSize = 255 // bytes of one keyword
)

// canonicalFlags validates flags and returns them canonical: system flags
// in canonical case, keywords as given, sorted, without duplicates
// (keywords compare case-insensitively, RFC 9051 §2.3.2, and the first
// spelling wins). \Recent is ignored. nil for no flags.
func canonicalFlags(flags []string) ([]string, error) {
	if len(flags) > maxFlags {
		return nil, fmt.Errorf("%w: %d flags (at most %d)", ErrInvalid, len(flags), maxFlags)
	}
	var out []string
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			if strings.EqualFold(f, recentFlag) {
				continue
			}
			i := slices.IndexFunc(systemFlags, func(s string) bool { return strings.EqualFold(s, f) })
			if i < 0 {
				return nil, fmt.Errorf("%w: unknown system flag %q", ErrInvalid, f)
			}
			f = systemFlags[i]
		} else if err := checkAtom(f); err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, f) }) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkAtom checks a keyword is an IMAP atom (RFC 9051 §9: atom-char is
// any CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]").
func checkAtom(f string) error {
	if f == "" || len(f) > maxFlagSize {
		return fmt.Errorf("%w: keyword of %d bytes (1 to %d)", ErrInvalid, len(f), maxFlagSize)
	}
	for i := range len(f) {
		c := f[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return fmt.Errorf("%w: keyword %q is not an IMAP atom", ErrInvalid, f)
		}
	}
	return nil
}

// joinFlags and splitFlags are the stored form: canonical flags joined by
// spaces (atoms contain none).
func joinFlags(flags []string) string { return strings.Join(flags, " ") }

func splitFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}
