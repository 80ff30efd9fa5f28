package mailstore

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Delimiter is the mailbox hierarchy delimiter (RFC 9051 §5.1.1).
const Delimiter = "/"

// maxNameLen bounds a mailbox name in bytes.
const maxNameLen = 255

// canonicalName checks a mailbox name and returns its canonical form:
// INBOX is case-insensitive (RFC 9051 §5.1), so a first component
// spelt "inbox" in any case becomes "INBOX" (its children too, as most
// servers do). The rules: non-empty, at most maxNameLen bytes, valid
// UTF-8, no control characters, no empty component (no leading, trailing
// or doubled "/"), and no LIST wildcards "*" and "%" (RFC 9051 §5.1
// advises against them, and a client could not LIST such a mailbox
// exactly).
func canonicalName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty mailbox name", ErrInvalid)
	}
	if len(name) > maxNameLen {
		return "", fmt.Errorf("%w: mailbox name of %d bytes (at most %d)", ErrInvalid, len(name), maxNameLen)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: mailbox name is not UTF-8", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '*' || r == '%' {
			return "", fmt.Errorf("%w: mailbox name %q contains %q", ErrInvalid, name, r)
		}
	}
	parts := strings.Split(name, Delimiter)
	for _, p := range parts {
		if p == "" {
			return "", fmt.Errorf("%w: mailbox name %q has an empty component", ErrInvalid, name)
		}
	}
	if strings.EqualFold(parts[0], Inbox) {
		parts[0] = Inbox
	}
	return strings.Join(parts, Delimiter), nil
}

// parents returns the superior names of name, outermost first:
// "a/b/c" gives "a", "a/b".
func parents(name string) []string {
	var ps []string
	for i := range len(name) {
		if name[i] == Delimiter[0] {
			ps = append(ps, name[:i])
		}
	}
	return ps
}
