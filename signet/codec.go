package signet

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Kind is the 2-byte type at the start of every signet (spec §2). The
// numbers are DIME's.
type Kind uint16

const (
	KindOrg  Kind = 1776
	KindUser Kind = 1789
)

func (k Kind) String() string {
	switch k {
	case KindOrg:
		return "organisation"
	case KindUser:
		return "user"
	}
	return fmt.Sprintf("unknown(%d)", uint16(k))
}

const (
	// MaxSize bounds a whole encoded signet (spec §2).
	MaxSize = 64 << 10
	// headerSize is the type (2 bytes) and the length of what follows (3).
	headerSize = 5
	// fieldHeaderSize is a field's id (1 byte) and data length (2).
	fieldHeaderSize = 3
)

// fieldSpec describes one field id of one kind (spec §3, §4).
type fieldSpec struct {
	name     string
	min, max int // data length bounds
	required bool
}

// field is one decoded field; data aliases the signet's bytes.
type field struct {
	id   byte
	off  int // offset of the field's header within the signet
	data []byte
}

// PeekKind returns the kind of an encoded signet without parsing it.
func PeekKind(b []byte) (Kind, error) {
	if len(b) < headerSize {
		return 0, errorf("header", "truncated: %d bytes, need at least %d", len(b), headerSize)
	}
	return Kind(binary.BigEndian.Uint16(b)), nil
}

// decode splits b into fields, enforcing the framing rules of spec §2: the
// declared length matches exactly, ids are known and strictly ascending,
// every length is in bounds, required fields are present. Fields whose id is
// in optionalHere are allowed to be absent even if required (used for
// signing requests, which stop before the organisation signature).
func decode(b []byte, want Kind, specs map[byte]fieldSpec, absentOK map[byte]bool) ([]field, error) {
	if len(b) > MaxSize {
		return nil, errorf("header", "signet is %d bytes, over the %d-byte limit", len(b), MaxSize)
	}
	kind, err := PeekKind(b)
	if err != nil {
		return nil, err
	}
	if kind != want {
		return nil, errorf("header", "type %s, want %s", kind, want)
	}
	n := int(b[2])<<16 | int(b[3])<<8 | int(b[4])
	if n != len(b)-headerSize {
		return nil, errorf("header", "declared length %d but %d bytes follow (truncated or trailing bytes)", n, len(b)-headerSize)
	}
	var fields []field
	last := -1
	for off := headerSize; off < len(b); {
		if len(b)-off < fieldHeaderSize {
			return nil, errorf("header", "truncated field header at offset %d", off)
		}
		id := b[off]
		size := int(binary.BigEndian.Uint16(b[off+1:]))
		spec, ok := specs[id]
		if !ok {
			return nil, errorf(fmt.Sprintf("field %d", id), "unknown field id for a %s signet", want)
		}
		if int(id) == last {
			return nil, errorf(spec.name, "duplicate field")
		}
		if int(id) < last {
			return nil, errorf(spec.name, "out of order: field %d after field %d", id, last)
		}
		if len(b)-off-fieldHeaderSize < size {
			return nil, errorf(spec.name, "length %d runs past the end of the signet", size)
		}
		if size < spec.min || size > spec.max {
			if spec.min == spec.max {
				return nil, errorf(spec.name, "length %d, must be %d", size, spec.min)
			}
			return nil, errorf(spec.name, "length %d, must be %d to %d", size, spec.min, spec.max)
		}
		fields = append(fields, field{id: id, off: off, data: b[off+fieldHeaderSize : off+fieldHeaderSize+size]})
		last = int(id)
		off += fieldHeaderSize + size
	}
	present := map[byte]bool{}
	for _, f := range fields {
		present[f.id] = true
	}
	for id, spec := range specs {
		if spec.required && !present[id] && !absentOK[id] {
			return nil, errorf(spec.name, "required field missing")
		}
	}
	return fields, nil
}

// builder appends fields in ascending order; finish writes the header.
type builder struct {
	kind Kind
	buf  []byte
}

func newBuilder(k Kind) *builder {
	b := &builder{kind: k, buf: make([]byte, headerSize, 2048)}
	binary.BigEndian.PutUint16(b.buf, uint16(k))
	return b
}

func (b *builder) add(id byte, data []byte) {
	b.buf = append(b.buf, id, byte(len(data)>>8), byte(len(data)))
	b.buf = append(b.buf, data...)
}

// finish sets the length header and returns the signet bytes.
func (b *builder) finish() []byte {
	n := len(b.buf) - headerSize
	b.buf[2], b.buf[3], b.buf[4] = byte(n>>16), byte(n>>8), byte(n)
	return b.buf
}

// signedMessage is what a signature of the given purpose covers (spec §5):
// a context string naming the purpose, the signet type, and the exact bytes
// of every field before the signature field. The length header is left out
// because later signatures change it.
func signedMessage(purpose string, raw []byte, sigFieldOff int) []byte {
	msg := make([]byte, 0, len(sigContext)+len(purpose)+1+2+sigFieldOff)
	msg = append(msg, sigContext...)
	msg = append(msg, purpose...)
	msg = append(msg, 0)
	msg = append(msg, raw[:2]...)
	return append(msg, raw[headerSize:sigFieldOff]...)
}

const sigContext = "umbra signet v1 "

func encodeTime(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.Unix()))
}

func decodeTime(name string, b []byte) (time.Time, error) {
	v := binary.BigEndian.Uint64(b)
	if v > 1<<40 { // beyond year 36000: certainly a mistake
		return time.Time{}, errorf(name, "time %d out of range", v)
	}
	return time.Unix(int64(v), 0).UTC(), nil
}

// Parse decodes a signet of either kind: an *Org, or a *User (certified, or
// a signing request). Like ParseOrg and ParseUser it checks no signature.
func Parse(b []byte) (any, error) {
	kind, err := PeekKind(b)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindOrg:
		return ParseOrg(b)
	case KindUser:
		return parseUser(b, true)
	}
	return nil, errorf("header", "unknown signet type %d", uint16(kind))
}
