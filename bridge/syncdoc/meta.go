package syncdoc

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Meta is the plaintext of a meta document (spec §5.3): a message's mutable
// state, rewritten by any device that changes it.
type Meta struct {
	Key     string   // message key (CheckKey)
	Mailbox string   // mailbox name; may be empty only when Deleted
	Flags   []string // IMAP flags; a set (Marshal sorts, ParseMeta returns them sorted)
	Deleted bool     // expunged on some device; sticky (spec §6.2)
	Updated int64    // unix milliseconds of the change, by the writer's clock
	Device  string   // the writing device's id (docs/spec/dmap.md §5.6); may be empty
}

// Marshal returns the canonical encoding (spec §5.3):
//
//	0x01 ‖ key (22) ‖ state (bit 0: deleted) ‖ updated (int64 BE, unix ms)
//	‖ len(device) ‖ device ‖ len(mailbox) ‖ mailbox ‖ count(flags) ‖ { len(flag) ‖ flag }
//
// with one-byte lengths and counts and the flags in increasing byte order
// without duplicates.
func (m *Meta) Marshal() ([]byte, error) {
	if err := keyError(m.Key); err != nil {
		return nil, invalid("meta", err)
	}
	if err := checkUpdated(m.Updated); err != nil {
		return nil, invalid("meta", err)
	}
	if err := checkText("device", m.Device, 0, MaxName); err != nil {
		return nil, invalid("meta", err)
	}
	if err := checkText("mailbox", m.Mailbox, mailboxMin(m.Deleted), MaxName); err != nil {
		return nil, invalid("meta", err)
	}
	flags := slices.Compact(slices.Sorted(slices.Values(m.Flags)))
	if len(flags) > MaxFlags {
		return nil, invalid("meta", fmt.Errorf("%d flags, limit %d", len(flags), MaxFlags))
	}
	n := 1 + KeyLen + 1 + 8 + 1 + len(m.Device) + 1 + len(m.Mailbox) + 1
	for _, f := range flags {
		if err := flagError(f); err != nil {
			return nil, invalid("meta", err)
		}
		n += 1 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, formatV1)
	b = append(b, m.Key...)
	b = appendState(b, m.Deleted)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Updated))
	b = appendText(b, m.Device)
	b = appendText(b, m.Mailbox)
	b = append(b, byte(len(flags)))
	for _, f := range flags {
		b = appendText(b, f)
	}
	return b, nil
}

// mailboxMin is the shortest mailbox name allowed: a live message is in a
// mailbox; a deleted one need not say where it was.
func mailboxMin(deleted bool) int {
	if deleted {
		return 0
	}
	return 1
}

// ParseMeta decodes a meta plaintext.
func ParseMeta(b []byte) (*Meta, error) {
	r := &reader{what: "meta", b: b}
	r.version()
	m := &Meta{Key: r.key()}
	m.Deleted = r.state()
	m.Updated = r.millis("updated")
	m.Device = r.text("device", 0)
	m.Mailbox = r.text("mailbox", mailboxMin(m.Deleted))
	n := r.u8("flag count")
	if r.err == nil && n > MaxFlags {
		r.fail("%d flags, limit %d", n, MaxFlags)
	}
	for i := 0; i < n && r.err == nil; i++ {
		f := string(r.take(r.u8("flag length"), "flag"))
		if r.err != nil {
			break
		}
		if err := flagError(f); err != nil {
			r.fail("flag %d: %v", i, err)
		} else if i > 0 && f <= m.Flags[i-1] {
			r.fail("flag %q is not above %q (flags are sorted, without duplicates)", f, m.Flags[i-1])
		}
		m.Flags = append(m.Flags, f)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return m, nil
}

// CheckFlag accepts an IMAP flag as RFC 9051 §9 writes it: an atom, or
// "\" and an atom (a system flag or flag-extension), of at most MaxName
// bytes. An atom is one or more ASCII characters from 0x21 to 0x7E other
// than the atom-specials ( ) { % * " \ ].
func CheckFlag(f string) error {
	if err := flagError(f); err != nil {
		return fmt.Errorf("syncdoc: %w: %v", ErrInvalid, err)
	}
	return nil
}

// flagError is CheckFlag without the package's prefix, for the codecs.
func flagError(f string) error {
	a := strings.TrimPrefix(f, `\`)
	if a == "" || len(f) > MaxName {
		return fmt.Errorf("flag %q must be 1 to %d bytes of an IMAP atom", f, MaxName)
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return fmt.Errorf("flag %q: byte 0x%02x is not allowed in an IMAP atom", f, c)
		}
	}
	return nil
}
