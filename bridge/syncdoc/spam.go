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

// Spam is the plaintext of a spam document (spec §5.6): what one device
// trained its spam filter with (Plus) and what it took back (Minus), each
// a serialised spam.Model. The filter scores with the sum of every
// device's Plus less every device's Minus: a PN-counter whose halves only
// grow, so merging needs no rule beyond the sum.
type Spam struct {
	Device  string // the writing device's id
	Updated int64  // unix milliseconds of the write, by the writer's clock
	Plus    []byte
	Minus   []byte
}

// Marshal returns the canonical encoding (spec §5.6):
//
//	0x01 ‖ text8 device ‖ updated (i64) ‖ u32 len ‖ plus ‖ u32 len ‖ minus
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
	b := make([]byte, 0, 1+1+len(s.Device)+8+4+len(s.Plus)+4+len(s.Minus))
	b = append(b, formatV1)
	b = appendText(b, s.Device)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Updated))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Plus)))
	b = append(b, s.Plus...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Minus)))
	return append(b, s.Minus...), nil
}

// ParseSpam decodes a spam plaintext. Plus and Minus alias b.
func ParseSpam(b []byte) (*Spam, error) {
	r := &reader{what: "spam", b: b}
	r.version()
	s := &Spam{Device: r.text("device", 1), Updated: r.millis("updated")}
	for _, m := range []*[]byte{&s.Plus, &s.Minus} {
		n := r.u32("model length")
		if r.err == nil && n > MaxSpamModel {
			r.fail("model of %d bytes, limit %d", n, MaxSpamModel)
		}
		*m = r.take(int(n), "model")
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return s, nil
}
