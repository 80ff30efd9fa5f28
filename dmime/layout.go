package dmime

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Layout limits (spec §4).
const (
	leafLen = sha256.Size
	sigLen  = 64
	// minLeaves: info, four keyslots, origin, destination, two header
	// sections and padding.
	minLeaves = 10
	maxLeaves = 4096
	// maxBodySections bounds the author's tree (and so the signature chunk).
	maxBodySections = maxLeaves - minLeaves
	// maxHeaderSegments bounds each header section to 2 MiB of plaintext, so
	// a reader may buffer headers.
	maxHeaderSegments = 32
	maxTraces         = 32
)

// stage is the parser's position in the fixed chunk order (spec §4).
type stage int

const (
	stInfo stage = iota
	stKeyslotA
	stKeyslotO
	stKeyslotD
	stKeyslotR
	stOrigin
	stDest
	stCommon
	stOther
	stBody
	stSig
	stSeal   // version 2: after the section list, the author seal
	stSigned // after the author signature (v1) or seal (v2): origin signature or end
	stTraces // after the origin signature: traces or end
)

// expect is the chunk type each single-type stage requires.
var expect = map[stage]byte{
	stInfo: typeInfo, stKeyslotA: typeKeyslotAuthor, stKeyslotO: typeKeyslotOrigin,
	stKeyslotD: typeKeyslotDest, stKeyslotR: typeKeyslotRecip, stOrigin: typeOrigin,
	stDest: typeDestination, stCommon: typeCommonHeaders, stOther: typeOtherHeaders,
	stSig: typeAuthorSignature, stSeal: typeAuthorSeal, stSigned: typeOriginSignature, stTraces: typeTrace,
}

// chunk is a raw chunk placed in the layout.
type chunk struct {
	rawChunk
	section int    // index of the section (tree leaf) it belongs to
	seg     uint32 // segment number inside a segmented section
	last    bool   // last segment of its section (always true for other chunks)
}

// SectionInfo is what anyone can see of one section: its type, how many
// chunks (segments) it spans and its size on the wire.
type SectionInfo struct {
	Type   byte
	Chunks int
	Bytes  int64
}

// parser walks a message, enforcing the layout and computing the author's
// tree leaves and the hash of the signed core as it goes. It never holds
// more than one chunk.
type parser struct {
	cr       *chunkReader
	tee      io.Writer // every byte read is copied here, if set
	stage    stage
	leafH    hash.Hash
	leaves   [][leafLen]byte
	sections []SectionInfo
	info     *info
	leaf0    []byte

	open   bool // inside a segmented section
	seg    uint32
	bodies int

	authorRoot [sha256.Size]byte
	authorSig  []byte            // v1: from the signature chunk; v2: from the opened seal
	digest     hash.Hash         // v2: over the section list and author seal chunks
	listSum    [sha256.Size]byte // v2: SHA-256 of the section list chunk
	seal       []byte            // v2: the author seal chunk's payload
	sigSum     [sha256.Size]byte // the content digest (Layout.Digest)
	coreLen    int64
	originSig  []byte
	traces     []Trace

	c chunk
}

// newParser reads the prelude of r. The caller must call release when done.
func newParser(r io.Reader, tee io.Writer) (*parser, error) {
	p := &parser{cr: newChunkReader(r), tee: tee, leafH: sha256.New()}
	pre, err := p.cr.readPrelude()
	if err == nil {
		err = p.consume(pre)
	}
	if err != nil {
		p.release()
		return nil, err
	}
	return p, nil
}

func (p *parser) release() { p.cr.release() }

// consume feeds read bytes to the tee and the running hashes.
func (p *parser) consume(b []byte) error {
	if p.tee != nil {
		if _, err := p.tee.Write(b); err != nil {
			return fmt.Errorf("dmime: copy: %w", err)
		}
	}
	if p.stage <= stSeal {
		p.coreLen += int64(len(b))
	}
	if p.stage < stSig {
		p.leafH.Write(b)
	}
	return nil
}

func (p *parser) closeLeaf(t byte, chunks uint32) {
	var l [leafLen]byte
	p.leafH.Sum(l[:0])
	p.leafH.Reset()
	p.leaves = append(p.leaves, l)
	p.sections[len(p.sections)-1].Type = t
	p.sections[len(p.sections)-1].Chunks = int(chunks)
}

// next returns the next chunk, or io.EOF at the valid end of the message.
func (p *parser) next() (*chunk, error) {
	c := &p.c
	start := p.cr.off
	if err := p.cr.header(&c.rawChunk); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.atEOF()
		}
		return nil, err
	}
	t := c.typ()
	if p.open {
		if t != p.sections[len(p.sections)-1].Type {
			return nil, fmt.Errorf("%w: chunk 0x%02x inside open section of type 0x%02x", ErrChunkOrder, t, p.sections[len(p.sections)-1].Type)
		}
	} else if err := p.place(t); err != nil {
		return nil, err
	}
	if err := p.cr.payload(&c.rawChunk); err != nil {
		return nil, err
	}
	if err := p.consume(c.hdr[:]); err != nil {
		return nil, err
	}
	if err := p.consume(c.payload); err != nil {
		return nil, err
	}
	n := p.cr.off - start
	c.section = len(p.leaves)
	c.seg, c.last = 0, true
	if segmented(t) {
		return c, p.segment(c, n)
	}
	switch t {
	case typeInfo:
		in, err := decodeInfo(c.payload)
		if err != nil {
			return nil, err
		}
		p.info = in
		p.sections = append(p.sections, SectionInfo{Bytes: n + int64(preludeLen)})
		p.closeLeaf(t, 1)
		p.leaf0 = p.leaves[0][:]
		p.stage++
	case typeKeyslotAuthor, typeKeyslotOrigin, typeKeyslotDest, typeKeyslotRecip:
		p.sections = append(p.sections, SectionInfo{Bytes: n})
		p.closeLeaf(t, 1)
		p.stage++
	case typeAuthorSignature:
		if err := p.authorSignature(c.payload); err != nil {
			return nil, err
		}
		h := sha256.New()
		h.Write(c.hdr[:])
		h.Write(c.payload)
		if p.version() == version1 {
			h.Sum(p.sigSum[:0])
			p.stage = stSigned
			break
		}
		h.Sum(p.listSum[:0])
		p.digest = h
		p.stage = stSeal
	case typeAuthorSeal:
		p.digest.Write(c.hdr[:])
		p.digest.Write(c.payload)
		p.digest.Sum(p.sigSum[:0])
		p.seal = append([]byte(nil), c.payload...)
		p.stage = stSigned
	case typeOriginSignature:
		p.originSig = append([]byte(nil), c.payload...)
		p.stage = stTraces
	case typeTrace:
		tr, err := decodeTrace(c.payload)
		if err != nil {
			return nil, err
		}
		p.traces = append(p.traces, tr)
	}
	return c, nil
}

// place checks that a chunk of type t may start here.
func (p *parser) place(t byte) error {
	if p.stage == stBody {
		switch t {
		case typeDisplay, typeStructure, typeAttachment:
			if p.bodies == maxBodySections {
				return fmt.Errorf("%w: more than %d body sections", ErrChunkOrder, maxBodySections)
			}
			return nil
		case typePadding:
			return nil
		}
		return fmt.Errorf("%w: chunk 0x%02x where a body section or padding must follow", ErrChunkOrder, t)
	}
	if p.stage == stTraces && t == typeTrace && len(p.traces) == maxTraces {
		return fmt.Errorf("%w: more than %d trace chunks", ErrTrailingData, maxTraces)
	}
	if want := expect[p.stage]; t != want {
		return fmt.Errorf("%w: chunk 0x%02x where 0x%02x must follow", ErrChunkOrder, t, want)
	}
	return nil
}

// segment checks the framing of one segment chunk and tracks its section.
func (p *parser) segment(c *chunk, n int64) error {
	t := c.typ()
	if !p.open {
		p.open, p.seg = true, 0
		p.sections = append(p.sections, SectionInfo{Type: t})
	}
	sec := &p.sections[len(p.sections)-1]
	sec.Bytes += n
	c.seg = p.seg
	switch c.payload[0] {
	case 0:
		c.last = false
		if len(c.payload) != maxSegmentPayload {
			return fmt.Errorf("%w: segment %d of section 0x%02x is not last but holds %d bytes", ErrChunkSize, p.seg, t, len(c.payload)-1-tagLen)
		}
		if p.seg == ^uint32(0)-1 {
			return fmt.Errorf("%w: section 0x%02x exceeds 2^32-1 segments", ErrChunkSize, t)
		}
	case 1:
		c.last = true
		if len(c.payload) == 1+tagLen && p.seg != 0 {
			return fmt.Errorf("%w: empty last segment after %d segments in section 0x%02x", ErrMalformed, p.seg, t)
		}
	default:
		return fmt.Errorf("%w: segment flag 0x%02x", ErrMalformed, c.payload[0])
	}
	if (t == typeOrigin || t == typeDestination) && !c.last {
		return fmt.Errorf("%w: section 0x%02x must be one segment", ErrChunkSize, t)
	}
	if (t == typeCommonHeaders || t == typeOtherHeaders) && p.seg == maxHeaderSegments-1 && !c.last {
		return fmt.Errorf("%w: header section over %d segments", ErrChunkSize, maxHeaderSegments)
	}
	p.seg++
	if !c.last {
		return nil
	}
	p.open = false
	p.closeLeaf(t, p.seg)
	switch t {
	case typeDisplay, typeStructure, typeAttachment:
		p.bodies++
	case typePadding:
		p.stage = stSig
	default:
		p.stage++
	}
	return nil
}

func (p *parser) atEOF() error {
	switch {
	case p.open:
		return fmt.Errorf("%w: section 0x%02x has no last segment", ErrTruncated, p.sections[len(p.sections)-1].Type)
	case p.stage >= stSigned:
		return io.EOF
	}
	return fmt.Errorf("%w: ends where chunk 0x%02x must follow", ErrTruncated, expect[p.stage])
}

// version is the message's format version.
func (p *parser) version() byte { return p.cr.version }

// authorSignature checks the tree of the signature chunk (v1) or section
// list (v2) against the leaves computed from the message (spec §7.1,
// §7.3); the signature itself is verified by whoever has the author's key
// and, in version 2, can open the author seal.
func (p *parser) authorSignature(b []byte) error {
	n := int(binary.BigEndian.Uint16(b))
	want := 2 + n*leafLen
	if p.version() == version1 {
		want += sigLen
	}
	if len(b) != want {
		return fmt.Errorf("%w: signature chunk of %d bytes for %d leaves", ErrChunkSize, len(b), n)
	}
	if n != len(p.leaves) {
		return fmt.Errorf("%w: author signed %d sections, message has %d", ErrTreeMismatch, n, len(p.leaves))
	}
	for i := range n {
		if [leafLen]byte(b[2+i*leafLen:]) != p.leaves[i] {
			return fmt.Errorf("%w: section %d (type 0x%02x)", ErrTreeMismatch, i, p.sections[i].Type)
		}
	}
	p.authorRoot = treeRoot(p.version(), p.leaves)
	if p.version() == version1 {
		p.authorSig = append([]byte(nil), b[2+n*leafLen:]...)
	}
	return nil
}

// drain reads the rest of the message, enforcing the layout.
func (p *parser) drain() error {
	for {
		if _, err := p.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// Layout is what every party can see of a message without keys
// (DESIGN §2: sizes, tracing, signatures).
type Layout struct {
	ID           ID
	Version      int   // format version: 1, or 2 with the author signature sealed
	Size         int64 // whole message in bytes
	CoreSize     int64 // bytes covered by the origin signature
	Sections     []SectionInfo
	OriginSigned bool
	Traces       []Trace
	// Digest is SHA-256 of the author signature chunk (v1), or of the
	// section list and author seal chunks (v2): the list names the hash of
	// every section, so it identifies the message's content, ID included,
	// and is what the origin signs (spec §7.2). Providers key
	// idempotent delivery on it rather than on the random ID alone, so a
	// replayed ID with other content is never mistaken for a redelivery.
	Digest [sha256.Size]byte
}

// Inspect parses a message's framing without keys: it enforces the layout
// rules (spec §4, §6), checks the author's tree against the section
// hashes, and reports sizes. It authenticates nothing by itself: use
// VerifyOrigin or Open for that.
func Inspect(r io.Reader) (*Layout, error) {
	p, err := newParser(r, nil)
	if err != nil {
		return nil, err
	}
	defer p.release()
	if err := p.drain(); err != nil {
		return nil, err
	}
	return p.layout(), nil
}

func (p *parser) layout() *Layout {
	return &Layout{
		ID:           p.info.id,
		Version:      int(p.version()),
		Size:         p.cr.off,
		CoreSize:     p.coreLen,
		Sections:     p.sections,
		OriginSigned: p.originSig != nil,
		Traces:       p.traces,
		Digest:       p.sigSum,
	}
}
