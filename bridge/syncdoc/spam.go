package syncdoc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// SpamID is the id of the spam-filter document device writes: one per
// device, so that each document has a single writer and two devices that
// train at once never overwrite each other's counts (spec §5.6). The id
// is derived from the device id, not equal to it, so that the document
// id keeps to characters every DMAP id allows whatever a device id holds.
func SpamID(device string) string {
	h := sha256.Sum256([]byte("umbra spam doc v1\x00" + device))
	return "spam:" + hex.EncodeToString(h[:12])
}

// MaxSpamModel bounds each serialised model of a spam document; the
// bridge prunes rare tokens to stay well below it.
const MaxSpamModel = 16 << 20

// MaxSpamEntries bounds the entries of a spam document (spec §5.6):
// 500 000 of 33 bytes stay beside two full models inside a document.
const MaxSpamEntries = 500_000

// Spam is the plaintext of a spam document (spec §5.6): what one device
// trained its spam filter with (Plus) and what it took back (Minus), each
// a serialised spam.Model. The filter scores with the sum of every
// device's Plus less every device's Minus: a PN-counter whose halves only
// grow, so merging needs no rule beyond the sum. Entries say which
// messages those counts hold, so that any device can take back another's
// training of a message exactly once.
type Spam struct {
	Device  string // the writing device's id
	Updated int64  // unix milliseconds of the write, by the writer's clock
	Plus    []byte
	Minus   []byte
	Entries []SpamEntry // sorted by key, without duplicates
}

// Judgements of a SpamEntry (spec §5.6).
const (
	JudgedSpam    = 's' // the user judged the message spam
	JudgedHam     = 'h' // ... not spam
	JudgedNeither = 'n' // a copy of it was judged instead (the judgement covers every copy)
)

// SpamEntry is the writing device's part in the training of one message
// (spec §5.6): its last judgement of it, and how many times the message's
// tokens are in its Plus less its Minus, per class.
type SpamEntry struct {
	Key    string // message key (CheckKey)
	At     int64  // unix milliseconds of the judgement, by the writer's clock
	Judged byte   // JudgedSpam, JudgedHam or JudgedNeither
	Spam   int8   // net trainings as spam: plus − minus
	Ham    int8   // net trainings as ham
}

// Marshal returns the canonical encoding (spec §5.6):
//
//	0x01 ‖ text8 device ‖ updated (i64) ‖ u32 len ‖ plus ‖ u32 len ‖ minus
//
// and, when there are entries, version 0x02 followed by
//
//	‖ u32 count ‖ { key (22) ‖ at (i64) ‖ judged (u8) ‖ spam (i8) ‖ ham (i8) }
func (s *Spam) Marshal() ([]byte, error) {
	if err := checkText("device", s.Device, 1, MaxName); err != nil {
		return nil, invalid("spam", err)
	}
	if err := checkUpdated(s.Updated); err != nil {
		return nil, invalid("spam", err)
	}
	if len(s.Plus) > MaxSpamModel || len(s.Minus) > MaxSpamModel {
		return nil, invalid("spam", fmt.Errorf("models of %d and %d bytes, limit %d", len(s.Plus), len(s.Minus), MaxSpamModel))
	}
	if err := checkSpamEntries(s.Entries); err != nil {
		return nil, invalid("spam", err)
	}
	b := make([]byte, 0, 1+1+len(s.Device)+8+4+len(s.Plus)+4+len(s.Minus)+4+len(s.Entries)*spamEntryLen)
	b = append(b, formatV1)
	b = appendText(b, s.Device)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Updated))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Plus)))
	b = append(b, s.Plus...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Minus)))
	b = append(b, s.Minus...)
	if len(s.Entries) == 0 {
		return b, nil
	}
	b[0] = formatV2
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Entries)))
	for _, e := range s.Entries {
		b = append(b, e.Key...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.At))
		b = append(b, e.Judged, byte(e.Spam), byte(e.Ham))
	}
	return b, nil
}

// spamEntryLen is the encoded size of a SpamEntry.
const spamEntryLen = KeyLen + 8 + 3

// checkSpamEntries checks the rules of spec §5.6 a writer keeps.
func checkSpamEntries(entries []SpamEntry) error {
	if len(entries) > MaxSpamEntries {
		return fmt.Errorf("%d entries, limit %d", len(entries), MaxSpamEntries)
	}
	for i, e := range entries {
		if err := spamEntryError(e); err != nil {
			return err
		}
		if i > 0 && e.Key <= entries[i-1].Key {
			return fmt.Errorf("entry %q is not above %q (entries are sorted by key, without duplicates)", e.Key, entries[i-1].Key)
		}
	}
	return nil
}

// spamEntryError checks one entry: a valid key, a time ≥ 0, a known
// judgement. Any counts are allowed: a device sets them to whatever
// makes the sum come out (spec §5.6).
func spamEntryError(e SpamEntry) error {
	if err := keyError(e.Key); err != nil {
		return err
	}
	if err := checkUpdated(e.At); err != nil {
		return err
	}
	switch e.Judged {
	case JudgedSpam, JudgedHam, JudgedNeither:
		return nil
	}
	return fmt.Errorf("entry %s: judgement 0x%02x is none of s, h, n", e.Key, e.Judged)
}

// ParseSpam decodes a spam plaintext, of version 1 or 2. Plus and Minus
// alias b.
func ParseSpam(b []byte) (*Spam, error) {
	r := &reader{what: "spam", b: b}
	version := r.u8("version")
	if r.err == nil && version != formatV1 && version != formatV2 {
		r.err = fmt.Errorf("syncdoc: spam: version %d: %w", version, ErrVersion)
	}
	s := &Spam{Device: r.text("device", 1), Updated: r.millis("updated")}
	for _, m := range []*[]byte{&s.Plus, &s.Minus} {
		n := r.u32("model length")
		if r.err == nil && n > MaxSpamModel {
			r.fail("model of %d bytes, limit %d", n, MaxSpamModel)
		}
		*m = r.take(int(n), "model")
	}
	if version == formatV2 {
		r.spamEntries(s)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return s, nil
}

// spamEntries reads the entries of a version 2 spam document: at least
// one, so that each document has one encoding.
func (r *reader) spamEntries(s *Spam) {
	n := r.u32("entry count")
	if r.err == nil && (n == 0 || n > MaxSpamEntries) {
		r.fail("%d entries: 1 to %d in version 2", n, MaxSpamEntries)
	}
	if r.err == nil && int(n) > (len(r.b)-r.off)/spamEntryLen {
		r.fail("%d entries need %d bytes, %d left", n, int(n)*spamEntryLen, len(r.b)-r.off)
	}
	if r.err != nil {
		return
	}
	s.Entries = make([]SpamEntry, n)
	for i := range s.Entries {
		e := &s.Entries[i]
		e.Key, e.At = string(r.take(KeyLen, "key")), r.i64("at")
		if v := r.take(3, "entry"); v != nil {
			e.Judged, e.Spam, e.Ham = v[0], int8(v[1]), int8(v[2])
		}
	}
	if err := checkSpamEntries(s.Entries); err != nil && r.err == nil {
		r.fail("%v", err)
	}
}
