package imapd

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// systemFlags are the flags a client may set with their canonical case
// (RFC 9051 §2.3.2). \Recent is gone from IMAP4rev2 and never stored.
var systemFlags = []string{`\Answered`, `\Deleted`, `\Draft`, `\Flagged`, `\Seen`}

const flagRecent = `\Recent`

// canonicalFlag returns the stored spelling of f: system flags in their
// canonical case, keywords as given. Flags are case-insensitive (RFC 9051
// §2.3.2), so comparisons use hasFlag.
func canonicalFlag(f imap.Flag) string {
	for _, s := range systemFlags {
		if strings.EqualFold(string(f), s) {
			return s
		}
	}
	if strings.EqualFold(string(f), flagRecent) {
		return flagRecent
	}
	return string(f)
}

// hasFlag reports whether flags holds f, ignoring case.
func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(g string) bool { return strings.EqualFold(g, f) })
}

// storeFlags turns client flags into the sorted, duplicate-free set to
// store, dropping \Recent, which a client cannot set (RFC 3501 §2.3.2).
func storeFlags(in []imap.Flag) []string {
	var out []string
	for _, f := range in {
		c := canonicalFlag(f)
		if c != flagRecent && !hasFlag(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// sameFlags reports whether a and b hold the same flags, in any order.
func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !hasFlag(b, f) {
			return false
		}
	}
	return true
}
