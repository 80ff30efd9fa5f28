package syncdoc

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// KindContact is the kind of a contact document (spec §5.5): the OpenPGP
// state of one correspondent outside Umbra.
const KindContact = "contact"

// MaxContactKey bounds one OpenPGP key in a contact document: the
// transferable public key as pgp.MaxKeySize bounds it.
const MaxContactKey = 64 << 10

// contactIDLabel is the domain separation of the contact id key (spec §1).
const contactIDLabel = "umbra contact id v1"

// ContactID returns the id of address's contact document: "p-" and 16
// bytes of HMAC-SHA256, under a key derived from the storage key, of the
// address in lower case, in unpadded base64url (spec §1). Every device of
// the account finds the same document; the provider cannot tell whose it is.
func (s *Sealer) ContactID(address string) (string, error) {
	k, err := hkdf.Key(sha256.New, s.storage, nil, contactIDLabel, 32)
	if err != nil {
		return "", fmt.Errorf("syncdoc: derive the contact id key: %w", err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(strings.ToLower(address)))
	return "p-" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16]), nil
}

// Contact is the plaintext of a contact document (spec §5.5). Each of its
// three parts carries the time it was learnt, by which MergeContact picks
// the newer one; a part never learnt is zero.
type Contact struct {
	Address string
	// LastSeen is the time of the newest mail from the address (Autocrypt
	// Level 1 §2.3 last_seen).
	LastSeen int64
	// Autocrypt is the key of the newest Autocrypt header, At its
	// autocrypt_timestamp; Mutual is its prefer-encrypt=mutual.
	Autocrypt ContactKey
	Mutual    bool
	// Imported is the key the user imported (`umbra keys import`), At the
	// time of the import.
	Imported ContactKey
	// Published is the key of the address's Web Key Directory, At the
	// time of the look-up (no key: none published then); WKDNext is when to
	// look again.
	Published ContactKey
	WKDNext   int64
	// Pin is the correspondent's Umbra signet this device pinned (the
	// raw signet, at most MaxContactKey bytes), At when it pinned it:
	// first seen, followed along the chain of custody, or trusted by the
	// user (DESIGN §4, the validation ladder). Verified is when the user
	// checked Pin's fingerprint with the correspondent (`umbra keys
	// verify`), 0 if never. Both zero for a correspondent outside Umbra,
	// which then encodes as version 1.
	Pin      ContactKey
	Verified int64
}

// formatV2 is the version byte of a contact that has a pin (spec §5.5).
const formatV2 = 2

// ContactKey is a binary transferable public key (empty: none) and the
// time, in unix milliseconds, it was learnt.
type ContactKey struct {
	At  int64
	Key []byte
}

// Marshal returns the canonical encoding (spec §5.5):
//
//	version ‖ len(address) ‖ address ‖ last_seen (int64 BE, unix ms)
//	‖ autocrypt ‖ mutual (state byte) ‖ imported ‖ published ‖ wkd_next
//	[‖ pin ‖ verified (int64 BE, unix ms)]
//
// where each key part is at (int64 BE, unix ms) ‖ len(key) (uint32 BE) ‖
// key, of at most MaxContactKey bytes. The version is 0x01 without a pin
// and 0x02 with one (the bracketed fields), so a contact has one encoding.
func (c *Contact) Marshal() ([]byte, error) {
	if err := checkText("address", c.Address, 3, MaxName); err != nil {
		return nil, invalid("contact", err)
	}
	for _, v := range []int64{c.LastSeen, c.Autocrypt.At, c.Imported.At, c.Published.At, c.WKDNext, c.Pin.At, c.Verified} {
		if err := checkUpdated(v); err != nil {
			return nil, invalid("contact", err)
		}
	}
	pinned := c.hasPin()
	b := []byte{formatV1}
	if pinned {
		b[0] = formatV2
	}
	b = appendText(b, c.Address)
	b = binary.BigEndian.AppendUint64(b, uint64(c.LastSeen))
	keys := []ContactKey{c.Autocrypt, c.Imported, c.Published}
	for i, k := range keys {
		if b = appendContactKey(b, k); b == nil {
			return nil, invalid("contact", fmt.Errorf("key of %d bytes, limit %d", len(k.Key), MaxContactKey))
		}
		if i == 0 {
			b = appendState(b, c.Mutual)
		}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(c.WKDNext))
	if !pinned {
		return b, nil
	}
	if b = appendContactKey(b, c.Pin); b == nil {
		return nil, invalid("contact", fmt.Errorf("signet of %d bytes, limit %d", len(c.Pin.Key), MaxContactKey))
	}
	return binary.BigEndian.AppendUint64(b, uint64(c.Verified)), nil
}

// hasPin reports whether c has any part of the version 2 fields.
func (c *Contact) hasPin() bool { return c.Pin.At != 0 || len(c.Pin.Key) > 0 || c.Verified != 0 }

// appendContactKey appends a key part; nil if the key is too long.
func appendContactKey(b []byte, k ContactKey) []byte {
	if len(k.Key) > MaxContactKey {
		return nil
	}
	b = binary.BigEndian.AppendUint64(b, uint64(k.At))
	b = binary.BigEndian.AppendUint32(b, uint32(len(k.Key)))
	return append(b, k.Key...)
}

// ParseContact decodes a contact plaintext, of version 1 or 2.
func ParseContact(b []byte) (*Contact, error) {
	r := &reader{what: "contact", b: b}
	version := r.u8("version")
	if r.err == nil && version != formatV1 && version != formatV2 {
		r.err = fmt.Errorf("syncdoc: contact: version %d: %w", version, ErrVersion)
	}
	c := &Contact{Address: r.text("address", 3)}
	c.LastSeen = r.millis("last_seen")
	for i, k := range []*ContactKey{&c.Autocrypt, &c.Imported, &c.Published} {
		r.contactKey(k)
		if i == 0 {
			c.Mutual = r.state()
		}
	}
	c.WKDNext = r.millis("wkd_next")
	if version == formatV2 {
		r.contactKey(&c.Pin)
		c.Verified = r.millis("verified")
		if r.err == nil && !c.hasPin() {
			r.fail("version 2 without a pin")
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return c, nil
}

// contactKey reads a key part.
func (r *reader) contactKey(k *ContactKey) {
	k.At = r.millis("key time")
	n := r.u32("key length")
	if r.err == nil && n > MaxContactKey {
		r.fail("key of %d bytes, limit %d", n, MaxContactKey)
	}
	if key := r.take(int(n), "key"); len(key) > 0 {
		k.Key = bytes.Clone(key)
	}
}

// MergeContact combines two devices' states of one correspondent (spec
// §6.4): the later LastSeen; of each key part, the one learnt later (on
// equal times, the greater key bytes); WKDNext with the published key it
// came with; Verified with the pin it came with. It is commutative and idempotent, so devices converge.
func MergeContact(a, b *Contact) *Contact {
	m := *a
	m.LastSeen = max(a.LastSeen, b.LastSeen)
	if learntLater(b.Autocrypt, a.Autocrypt) {
		m.Autocrypt, m.Mutual = b.Autocrypt, b.Mutual
	} else if !learntLater(a.Autocrypt, b.Autocrypt) && !a.Mutual && b.Mutual {
		m.Mutual = true // the same key and time: either side's mutual
	}
	if learntLater(b.Imported, a.Imported) {
		m.Imported = b.Imported
	}
	if learntLater(b.Published, a.Published) {
		m.Published, m.WKDNext = b.Published, b.WKDNext
	} else if !learntLater(a.Published, b.Published) {
		m.WKDNext = max(a.WKDNext, b.WKDNext)
	}
	// The pin a device made last wins, with its verification; the same
	// pin keeps the later verification. The user's devices trust each
	// other: each followed the chain, or the user, before it pinned.
	if learntLater(b.Pin, a.Pin) {
		m.Pin, m.Verified = b.Pin, b.Verified
	} else if !learntLater(a.Pin, b.Pin) {
		m.Verified = max(a.Verified, b.Verified)
	}
	return &m
}

// learntLater reports whether x was learnt after y (ties broken by the key's
// bytes).
func learntLater(x, y ContactKey) bool {
	if x.At != y.At {
		return x.At > y.At
	}
	return bytes.Compare(x.Key, y.Key) > 0
}
