package spam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The serialised form of a Model (MarshalBinary):
//
//	"UMSPAM" version(1 byte, 1)
//	uvarint nSpam, uvarint nHam, uvarint number of tokens
//	per token, in byte order, each once:
//	  uvarint bytes shared with the previous token, uvarint length of the
//	  rest, the rest, uvarint spam count, uvarint ham count
//
// Sorted tokens share long prefixes ("subject:..."), which the shared
// length leaves out. The encoding of a model is unique: decoding checks
// the order, the counts and that nothing follows, so a model read back
// and written again gives the same bytes.
const (
	magic   = "UMSPAM"
	version = 1
)

// MaxEncodedSize bounds a serialised model: a model of a few million
// distinct tokens, far more than years of one person's mail give.
const MaxEncodedSize = 64 << 20

// ErrInvalid is wrapped by every error of UnmarshalBinary.
var ErrInvalid = errors.New("spam: invalid serialised model")

// MarshalBinary returns the model's serialised form.
func (m *Model) MarshalBinary() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := make([]string, 0, len(m.tokens))
	for t := range m.tokens {
		keys = append(keys, t)
	}
	slices.Sort(keys)
	b := append([]byte(magic), version)
	b = binary.AppendUvarint(b, uint64(m.nSpam))
	b = binary.AppendUvarint(b, uint64(m.nHam))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	prev := ""
	for _, t := range keys {
		shared := commonPrefix(prev, t)
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(t)-shared))
		b = append(b, t[shared:]...)
		c := m.tokens[t]
		b = binary.AppendUvarint(b, uint64(c.spam))
		b = binary.AppendUvarint(b, uint64(c.ham))
		prev = t
	}
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("spam: model of %d tokens serialises to %d bytes, over %d", len(keys), len(b), MaxEncodedSize)
	}
	return b, nil
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// UnmarshalBinary replaces the model with the serialised one in b.
func (m *Model) UnmarshalBinary(b []byte) error {
	nm, err := decode(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nSpam, m.nHam, m.tokens = nm.nSpam, nm.nHam, nm.tokens
	return nil
}

func decode(b []byte) (*Model, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%d bytes, at most %d", len(b), MaxEncodedSize)
	}
	if !strings.HasPrefix(string(b), magic) || len(b) < len(magic)+1 {
		return nil, errors.New("not a serialised spam model")
	}
	if v := b[len(magic)]; v != version {
		return nil, fmt.Errorf("version %d, want %d", v, version)
	}
	d := decoder{b: b[len(magic)+1:]}
	m := New()
	m.nSpam = d.count("spam messages")
	m.nHam = d.count("ham messages")
	n := d.uvarint("token count")
	// Each token takes at least 5 bytes; a count beyond that is a lie
	// that would make the map's size hint allocate for nothing.
	if d.err == nil && n > uint64(len(d.b))/5 {
		return nil, fmt.Errorf("%d tokens in %d bytes", n, len(d.b))
	}
	m.tokens = make(map[string]counts, n)
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		shared := d.uvarint("shared length")
		rest := d.uvarint("token length")
		if d.err != nil {
			break
		}
		if shared > uint64(len(prev)) || shared+rest > MaxTokenLen || rest > uint64(len(d.b)) {
			return nil, fmt.Errorf("token %d: bad lengths %d+%d", i, shared, rest)
		}
		t := prev[:shared] + string(d.b[:rest])
		d.b = d.b[rest:]
		if t <= prev || t == "" || commonPrefix(prev, t) != int(shared) {
			return nil, fmt.Errorf("token %d: %q out of order or not prefix-compressed", i, t)
		}
		// A token's count may exceed its class's message count: Untrain
		// of a message never trained lowers the one but not the other.
		c := counts{spam: d.count("spam count"), ham: d.count("ham count")}
		if d.err == nil && c == (counts{}) {
			return nil, fmt.Errorf("token %q counted nowhere", t)
		}
		m.tokens[t] = c
		prev = t
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last token", len(d.b))
	}
	return m, nil
}

// decoder reads uvarints; after the first error every read returns 0.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%s: truncated or overlong number", what)
		return 0
	}
	// A number written with more bytes than it needs would give a model
	// two encodings.
	if n != len(binary.AppendUvarint(nil, v)) {
		d.err = fmt.Errorf("%s: number not in its shortest form", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a 32-bit count.
func (d *decoder) count(what string) uint32 {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(^uint32(0)) {
		d.err = fmt.Errorf("%s %d over 32 bits", what, v)
		return 0
	}
	return uint32(v)
}
