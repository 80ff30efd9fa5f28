package dmime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"unicode/utf8"

	"umbra/signet"
)

// ID identifies a message: 16 random bytes chosen by the author, in the
// clear info chunk and covered by both signatures (spec §5.1). Every party
// can read it without keys; redelivery of the same message carries the
// same ID.
type ID [idLen]byte

// String is the lowercase hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MessageID reads the ID from the start of an encoded message: it consumes
// only the prelude and the info chunk (129 bytes), so it is cheap enough
// for a server to call before storing. It does not authenticate anything.
func MessageID(r io.Reader) (ID, error) {
	cr := newChunkReader(io.LimitReader(r, int64(preludeLen+chunkHeaderLen+infoLen)))
	defer cr.release()
	if _, err := cr.readPrelude(); err != nil {
		return ID{}, err
	}
	var c rawChunk
	if err := cr.next(&c); err != nil {
		if err == io.EOF {
			return ID{}, fmt.Errorf("%w: no info chunk", ErrTruncated)
		}
		return ID{}, err
	}
	if c.typ() != typeInfo {
		return ID{}, fmt.Errorf("%w: first chunk is 0x%02x, want info 0x%02x", ErrChunkOrder, c.typ(), typeInfo)
	}
	in, err := decodeInfo(c.payload)
	if err != nil {
		return ID{}, err
	}
	return in.id, nil
}

// info is the clear info chunk (spec §5.1).
type info struct {
	id                                      ID
	commitOrigin, commitDest, commitContent [sha256.Size]byte
}

func newInfo(id ID, k *messageKeys) *info {
	return &info{
		id:            id,
		commitOrigin:  commitment(commitOrigin, k.origin[:]),
		commitDest:    commitment(commitDest, k.dest[:]),
		commitContent: commitment(commitContent, k.content[:]),
	}
}

func (in *info) encode() []byte {
	b := make([]byte, 0, infoLen)
	b = append(b, suiteV1)
	b = append(b, in.id[:]...)
	b = append(b, in.commitOrigin[:]...)
	b = append(b, in.commitDest[:]...)
	return append(b, in.commitContent[:]...)
}

func decodeInfo(p []byte) (*info, error) {
	if len(p) != infoLen {
		return nil, fmt.Errorf("%w: info chunk of %d bytes", ErrChunkSize, len(p))
	}
	if p[0] != suiteV1 {
		return nil, fmt.Errorf("%w: cipher suite %d", ErrVersion, p[0])
	}
	in := new(info)
	p = p[1:]
	p = p[copy(in.id[:], p):]
	p = p[copy(in.commitOrigin[:], p):]
	p = p[copy(in.commitDest[:], p):]
	copy(in.commitContent[:], p)
	return in, nil
}

// OriginInfo is the origin chunk (spec §5.3): what the origin provider
// learns. Author and recipient see it too.
type OriginInfo struct {
	Author                 string // author address
	AuthorFingerprint      signet.Fingerprint
	DestinationDomain      string
	DestinationFingerprint signet.Fingerprint // destination organisation signet
}

// DestinationInfo is the destination chunk (spec §5.3): what the
// destination provider learns. Author and recipient see it too.
type DestinationInfo struct {
	Recipient            string // recipient address
	RecipientFingerprint signet.Fingerprint
	OriginDomain         string
	OriginFingerprint    signet.Fingerprint // origin organisation signet
}

const maxNameLen = 254 // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets

// checkName accepts an address or domain: 1 to 254 bytes of UTF-8 with no
// space, control character or DEL. The roles canonicalise addresses before
// they reach this package; this check only keeps the encoding sound.
func checkName(what, s string) error {
	if len(s) == 0 || len(s) > maxNameLen {
		return fmt.Errorf("%s of %d bytes (want 1..%d)", what, len(s), maxNameLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not UTF-8", what, s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%s %q contains a space or control character", what, s)
		}
	}
	return nil
}

// encodePair encodes two (name, fingerprint) pairs: the layout shared by
// the origin and the destination chunk.
func encodePair(n1 string, f1 signet.Fingerprint, n2 string, f2 signet.Fingerprint) []byte {
	b := make([]byte, 0, 2+len(n1)+len(n2)+64)
	b = append(b, byte(len(n1)))
	b = append(b, n1...)
	b = append(b, f1[:]...)
	b = append(b, byte(len(n2)))
	b = append(b, n2...)
	return append(b, f2[:]...)
}

func decodePair(p []byte, what string) (n1 string, f1 signet.Fingerprint, n2 string, f2 signet.Fingerprint, err error) {
	take := func() (string, signet.Fingerprint, error) {
		var f signet.Fingerprint
		if len(p) < 1 || len(p) < 1+int(p[0])+len(f) {
			return "", f, fmt.Errorf("%w: %s chunk too short", ErrMalformed, what)
		}
		n := string(p[1 : 1+int(p[0])])
		copy(f[:], p[1+int(p[0]):])
		p = p[1+int(p[0])+len(f):]
		if err := checkName(what+" name", n); err != nil {
			return "", f, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return n, f, nil
	}
	if n1, f1, err = take(); err != nil {
		return
	}
	if n2, f2, err = take(); err != nil {
		return
	}
	if len(p) != 0 {
		err = fmt.Errorf("%w: %d trailing bytes in %s chunk", ErrMalformed, len(p), what)
	}
	return
}

func (o *OriginInfo) encode() []byte {
	return encodePair(o.Author, o.AuthorFingerprint, o.DestinationDomain, o.DestinationFingerprint)
}

func decodeOrigin(p []byte) (*OriginInfo, error) {
	a, af, d, df, err := decodePair(p, "origin")
	if err != nil {
		return nil, err
	}
	return &OriginInfo{Author: a, AuthorFingerprint: af, DestinationDomain: d, DestinationFingerprint: df}, nil
}

func (d *DestinationInfo) encode() []byte {
	return encodePair(d.Recipient, d.RecipientFingerprint, d.OriginDomain, d.OriginFingerprint)
}

func decodeDestination(p []byte) (*DestinationInfo, error) {
	r, rf, o, of, err := decodePair(p, "destination")
	if err != nil {
		return nil, err
	}
	return &DestinationInfo{Recipient: r, RecipientFingerprint: rf, OriginDomain: o, OriginFingerprint: of}, nil
}
