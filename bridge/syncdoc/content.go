package syncdoc

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Content is the plaintext of a msg document (spec §5.2): a message's
// immutable part, written once by the device that first has the message.
type Content struct {
	Key          string    // message key (CheckKey)
	InternalDate time.Time // IMAP INTERNALDATE; kept to the millisecond and the minute of zone offset
	Security     string    // the bridge's verdict line, e.g. "encrypted; signed=alice@a.test; key=chained"
	MIME         []byte    // the RFC 5322 message, raw
}

// contentHeader is the size of the fixed part before the security line:
// version, key, date, zone, security length.
const contentHeader = 1 + KeyLen + 8 + 2 + 2

// Marshal returns the canonical encoding (spec §5.2):
//
//	0x01 ‖ key (22) ‖ date (int64 BE, unix ms) ‖ zone (int16 BE, minutes east of UTC)
//	‖ len(security) (uint16 BE) ‖ security ‖ len(MIME) (uint32 BE) ‖ MIME
//
// The MIME goes in raw (no base64): messages of hundreds of kilobytes are
// common and a sync should cost their size, not a third more.
func (c *Content) Marshal() ([]byte, error) {
	if err := keyError(c.Key); err != nil {
		return nil, invalid("content", err)
	}
	// Years 1 to 9999 in UTC (RFC 3339's range); checked before UnixMilli,
	// which is undefined far outside it.
	if y := c.InternalDate.UTC().Year(); y < 1 || y > 9999 {
		return nil, invalid("content", fmt.Errorf("internal date %v is outside years 1 to 9999", c.InternalDate))
	}
	ms := c.InternalDate.UnixMilli()
	zone := zoneMinutes(c.InternalDate)
	if zone < -maxZone || zone > maxZone {
		return nil, invalid("content", fmt.Errorf("zone offset of %d minutes", zone))
	}
	if err := checkText("security", c.Security, 0, MaxSecurity); err != nil {
		return nil, invalid("content", err)
	}
	if len(c.MIME) > MaxMIME {
		return nil, invalid("content", fmt.Errorf("MIME is %d bytes, limit %d", len(c.MIME), MaxMIME))
	}
	b := make([]byte, 0, contentHeader+len(c.Security)+4+len(c.MIME))
	b = append(b, formatV1)
	b = append(b, c.Key...)
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(zone)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Security)))
	b = append(b, c.Security...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.MIME)))
	return append(b, c.MIME...), nil
}

// ParseContent decodes a msg plaintext. The returned MIME aliases b.
func ParseContent(b []byte) (*Content, error) {
	r := &reader{what: "content", b: b}
	r.version()
	c := &Content{Key: r.key()}
	ms := r.i64("internal date")
	zone := int(int16(r.u16("zone")))
	if r.err == nil && (ms < minDate || ms > maxDate) {
		r.fail("internal date %d is outside years 1 to 9999", ms)
	}
	if r.err == nil && (zone < -maxZone || zone > maxZone) {
		r.fail("zone offset of %d minutes", zone)
	}
	c.InternalDate = time.UnixMilli(ms).In(time.FixedZone("", zone*60))
	c.Security = string(r.take(r.u16("security length"), "security"))
	if r.err == nil {
		if err := checkText("security", c.Security, 0, MaxSecurity); err != nil {
			r.fail("%v", err)
		}
	}
	n := r.u32("MIME length")
	if r.err == nil && n > MaxMIME {
		r.fail("MIME is %d bytes, limit %d", n, MaxMIME)
	}
	c.MIME = r.take(int(n), "MIME")
	if err := r.end(); err != nil {
		return nil, err
	}
	return c, nil
}
