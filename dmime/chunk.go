package dmime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Wire constants (docs/spec/dmime.md §3).
const (
	// magic and version open every message. Version 2 seals the author
	// signature and the author's signet for the author and the recipient
	// alone (spec §7.3); readers accept both.
	magic      = "DMIME"
	version1   = 1
	version2   = 2
	preludeLen = len(magic) + 1

	// chunkHeaderLen: 1-byte type and 3-byte big-endian payload length.
	chunkHeaderLen = 4
	maxChunkLen    = 1<<24 - 1

	// SegmentSize is the plaintext size of every segment but the last of
	// an encrypted section (spec §6).
	SegmentSize = 64 << 10
	tagLen      = 16
	// segment chunk payload: flag byte, ciphertext, GCM tag.
	maxSegmentPayload = 1 + SegmentSize + tagLen
)

// Chunk types (spec §4). Ranges follow DIME: envelope 0x01–0x1F, metadata
// 0x20–0x3F, display 0x40–0x7F, attachments 0x80–0xDF, signatures and
// trailer 0xE0–0xFF. Every other value is rejected: version 1 has no
// ignorable chunk types.
const (
	typeInfo            = 0x01
	typeKeyslotAuthor   = 0x02
	typeKeyslotOrigin   = 0x03
	typeKeyslotDest     = 0x04
	typeKeyslotRecip    = 0x05
	typeOrigin          = 0x06
	typeDestination     = 0x07
	typeCommonHeaders   = 0x20
	typeOtherHeaders    = 0x21
	typeDisplay         = 0x40
	typeStructure       = 0x41
	typeAttachment      = 0x80
	typePadding         = 0xDF
	typeAuthorSignature = 0xE0 // version 1; in version 2 the section list
	typeAuthorSeal      = 0xE1 // version 2 only
	typeOriginSignature = 0xF0
	typeTrace           = 0xF1
)

// segmented reports whether chunks of type t carry encrypted segments.
func segmented(t byte) bool {
	switch t {
	case typeOrigin, typeDestination, typeCommonHeaders, typeOtherHeaders,
		typeDisplay, typeStructure, typeAttachment, typePadding:
		return true
	}
	return false
}

// maxSealedSignet bounds the author's signet in a version 2 author seal
// (docs/spec/signet.md §2: at most 65,536 bytes).
const maxSealedSignet = 65536

// payloadBounds gives the allowed payload length range of a chunk type in
// a message of the given format version, or ok=false for a type that
// version does not define.
func payloadBounds(t, version byte) (lo, hi int, ok bool) {
	switch {
	case t == typeInfo:
		return infoLen, infoLen, true
	case t == typeKeyslotAuthor || t == typeKeyslotRecip:
		return keyslotLen(t), keyslotLen(t), true
	case t == typeKeyslotOrigin || t == typeKeyslotDest:
		return keyslotLen(t), keyslotLen(t), true
	case segmented(t):
		return 1 + tagLen, maxSegmentPayload, true
	case t == typeAuthorSignature && version == version1:
		return 2 + minLeaves*leafLen + sigLen, 2 + maxLeaves*leafLen + sigLen, true
	case t == typeAuthorSignature:
		return 2 + minLeaves*leafLen, 2 + maxLeaves*leafLen, true
	case t == typeAuthorSeal && version == version2:
		return tagLen + sigLen + itemHeaderLen + 1, tagLen + maxSealPlain, true
	case t == typeOriginSignature:
		return sigLen, sigLen, true
	case t == typeTrace:
		return traceFixedLen + 1, traceFixedLen + maxDomainLen, true
	}
	return 0, 0, false
}

// putChunkHeader writes the 4-byte chunk header into b.
func putChunkHeader(b []byte, t byte, n int) {
	b[0] = t
	b[1] = byte(n >> 16)
	b[2] = byte(n >> 8)
	b[3] = byte(n)
}

// rawChunk is one chunk as read: header and payload. payload is only valid
// until the next read.
type rawChunk struct {
	hdr     [chunkHeaderLen]byte
	payload []byte
}

func (c *rawChunk) typ() byte { return c.hdr[0] }

// chunkReader reads chunks, checking each length against its type before
// reading the payload, so an oversize length never allocates.
type chunkReader struct {
	r       *bufio.Reader
	buf     []byte
	off     int64 // bytes consumed so far
	version byte  // the prelude's format version, once read
}

// newChunkReader reads from r through a pooled buffer; release returns it.
func newChunkReader(r io.Reader) *chunkReader {
	return &chunkReader{r: getReader(r)}
}

func (cr *chunkReader) release() {
	if cr.r != nil {
		putReader(cr.r)
		cr.r = nil
	}
}

// readPrelude reads and checks the magic and version.
func (cr *chunkReader) readPrelude() ([]byte, error) {
	p := make([]byte, preludeLen)
	n, err := io.ReadFull(cr.r, p)
	cr.off += int64(n)
	if err != nil {
		if n > 0 && string(p[:n]) == magic[:min(n, len(magic))] {
			return nil, fmt.Errorf("%w: %d-byte prelude", ErrTruncated, n)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: empty input", ErrTruncated)
		}
		return nil, fmt.Errorf("%w: bad magic", ErrNotDMIME)
	}
	if string(p[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrNotDMIME, p[:len(magic)])
	}
	if v := p[len(magic)]; v != version1 && v != version2 {
		return nil, fmt.Errorf("%w: format version %d", ErrVersion, v)
	}
	cr.version = p[len(magic)]
	return p, nil
}

// next reads one chunk. It returns io.EOF only at a clean chunk boundary.
func (cr *chunkReader) next(c *rawChunk) error {
	if err := cr.header(c); err != nil {
		return err
	}
	return cr.payload(c)
}

// header reads and checks a chunk header: the type must be defined and the
// length within that type's bounds, so an oversize length never allocates.
func (cr *chunkReader) header(c *rawChunk) error {
	n, err := io.ReadFull(cr.r, c.hdr[:])
	cr.off += int64(n)
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: inside a chunk header at offset %d", ErrTruncated, cr.off)
		}
		return fmt.Errorf("dmime: read chunk header: %w", err)
	}
	t := c.hdr[0]
	length := int(c.hdr[1])<<16 | int(c.hdr[2])<<8 | int(c.hdr[3])
	lo, hi, ok := payloadBounds(t, cr.version)
	if !ok {
		return fmt.Errorf("%w: 0x%02x at offset %d", ErrUnknownChunk, t, cr.off-chunkHeaderLen)
	}
	if length < lo || length > hi {
		return fmt.Errorf("%w: type 0x%02x length %d outside [%d, %d]", ErrChunkSize, t, length, lo, hi)
	}
	return nil
}

// payload reads the payload announced by c's header.
func (cr *chunkReader) payload(c *rawChunk) error {
	t := c.typ()
	length := int(c.hdr[1])<<16 | int(c.hdr[2])<<8 | int(c.hdr[3])
	if cap(cr.buf) < length {
		cr.buf = make([]byte, length, max(length, 4096))
	}
	c.payload = cr.buf[:length]
	n, err := io.ReadFull(cr.r, c.payload)
	cr.off += int64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: chunk 0x%02x has %d of %d payload bytes", ErrTruncated, t, n, length)
		}
		return fmt.Errorf("dmime: read chunk 0x%02x: %w", t, err)
	}
	return nil
}
