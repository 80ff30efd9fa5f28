package dmime

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// Segments (spec §6). An encrypted section is a run of chunks of one type,
// each carrying one segment: a clear flag byte (0 = more follow, 1 = last)
// and the AES-256-GCM ciphertext of the segment under the section's key,
// with the STREAM nonce (Hoang, Reyhanitabar, Rogaway, Vizár 2015)
//
//	nonce = 7 zero bytes || segment counter (uint32, big-endian) || flag
//
// and the chunk header as associated data. Each key encrypts one section
// only, so the nonce prefix can be constant; the counter stops reordering
// and the flag stops truncation at a segment boundary.

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("dmime: aes: %w", err)
	}
	return cipher.NewGCM(b)
}

func segmentNonce(n *[12]byte, seg uint32, last bool) {
	*n = [12]byte{}
	binary.BigEndian.PutUint32(n[7:11], seg)
	if last {
		n[11] = 1
	}
}

// encoder writes chunks and keeps the author's tree: one SHA-256 leaf per
// section over the section's exact wire bytes (spec §7).
type encoder struct {
	w      *bufio.Writer
	leaf   hash.Hash
	leaves [][sha256.Size]byte
	n      int64  // bytes written
	out    []byte // chunk assembly buffer
	pt     []byte // plaintext of the open section's pending segment

	outBuf, ptBuf *[]byte
}

func newEncoder(w *bufio.Writer) *encoder {
	e := &encoder{w: w, leaf: sha256.New(), outBuf: getSegBuf(), ptBuf: getSegBuf()}
	e.out = *e.outBuf
	e.pt = (*e.ptBuf)[:0:SegmentSize]
	return e
}

// release returns the encoder's buffers (plaintext wiped) to the pool.
func (e *encoder) release() {
	putSegBuf(e.outBuf)
	putSegBuf(e.ptBuf)
}

// raw writes bytes that belong to the current leaf.
func (e *encoder) raw(b []byte) error {
	e.leaf.Write(b)
	n, err := e.w.Write(b)
	e.n += int64(n)
	if err != nil {
		return fmt.Errorf("dmime: write: %w", err)
	}
	return nil
}

func (e *encoder) closeLeaf() {
	var l [sha256.Size]byte
	e.leaf.Sum(l[:0])
	e.leaf.Reset()
	e.leaves = append(e.leaves, l)
}

// chunk writes one chunk with a clear payload into the current leaf.
func (e *encoder) chunk(t byte, payload []byte) error {
	var h [chunkHeaderLen]byte
	putChunkHeader(h[:], t, len(payload))
	if err := e.raw(h[:]); err != nil {
		return err
	}
	return e.raw(payload)
}

// sectionWriter encrypts one section as it is written. Only one section is
// open at a time; it shares the encoder's buffers.
type sectionWriter struct {
	e     *encoder
	typ   byte
	aead  cipher.AEAD
	seg   uint32
	nonce [12]byte
}

func (e *encoder) openSection(t byte, key []byte) (*sectionWriter, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	e.pt = e.pt[:0]
	return &sectionWriter{e: e, typ: t, aead: a}, nil
}

// Write buffers p and emits every segment that is known not to be the
// last one (a full segment is only emitted once more data follows).
func (s *sectionWriter) Write(p []byte) (int, error) {
	total := len(p)
	e := s.e
	for len(p) > 0 {
		if len(e.pt) == SegmentSize {
			if err := s.emit(e.pt, false); err != nil {
				return total - len(p), err
			}
			e.pt = e.pt[:0]
		}
		if len(e.pt) == 0 && len(p) > SegmentSize {
			// Whole segment straight from the caller's buffer: no copy.
			if err := s.emit(p[:SegmentSize], false); err != nil {
				return total - len(p), err
			}
			p = p[SegmentSize:]
			continue
		}
		n := copy(e.pt[len(e.pt):SegmentSize], p)
		e.pt = e.pt[:len(e.pt)+n]
		p = p[n:]
	}
	return total, nil
}

// Close emits the last segment and closes the section's leaf.
func (s *sectionWriter) Close() error {
	if err := s.emit(s.e.pt, true); err != nil {
		return err
	}
	s.e.pt = s.e.pt[:0]
	s.e.closeLeaf()
	return nil
}

func (s *sectionWriter) emit(pt []byte, last bool) error {
	if s.seg == ^uint32(0) {
		return fmt.Errorf("%w: section 0x%02x exceeds 2^32-1 segments", ErrInput, s.typ)
	}
	out := s.e.out
	n := 1 + len(pt) + tagLen
	putChunkHeader(out, s.typ, n)
	out[chunkHeaderLen] = 0
	if last {
		out[chunkHeaderLen] = 1
	}
	segmentNonce(&s.nonce, s.seg, last)
	s.aead.Seal(out[chunkHeaderLen+1:chunkHeaderLen+1], s.nonce[:], pt, out[:chunkHeaderLen])
	s.seg++
	return s.e.raw(out[:chunkHeaderLen+n])
}

// sealSection writes a whole small section in one call.
func (e *encoder) sealSection(t byte, key, plaintext []byte) error {
	s, err := e.openSection(t, key)
	if err != nil {
		return err
	}
	if _, err := s.Write(plaintext); err != nil {
		return err
	}
	return s.Close()
}

// segmentOpener decrypts the segments of one section in order.
type segmentOpener struct {
	typ   byte
	aead  cipher.AEAD
	nonce [12]byte
}

func newSegmentOpener(t byte, key []byte) (*segmentOpener, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &segmentOpener{typ: t, aead: a}, nil
}

// open authenticates and decrypts segment c (number seg of its section)
// into dst[:0]. Nothing is returned unless the tag verifies.
func (o *segmentOpener) open(dst []byte, c *chunk) ([]byte, error) {
	segmentNonce(&o.nonce, c.seg, c.last)
	pt, err := o.aead.Open(dst[:0], o.nonce[:], c.payload[1:], c.hdr[:])
	if err != nil {
		return nil, fmt.Errorf("%w: section %d (type 0x%02x) segment %d", ErrSegmentAuth, c.section, c.typ(), c.seg)
	}
	return pt, nil
}
