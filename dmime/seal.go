package dmime

import (
	"bufio"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"io"

	"umbra/signet"
)

// Party is one actor as Seal needs it: an address (user address or
// organisation domain), the fingerprint of its signet, and its HPKE
// encryption key (KEM ML-KEM-768+X25519, see KEM).
type Party struct {
	Address     string
	Fingerprint signet.Fingerprint
	Enc         hpke.PublicKey
}

// SealParams are the inputs of Seal.
type SealParams struct {
	// Author is the author's address, user signet fingerprint and
	// encryption key (its keyslot opens the sent copy).
	Author Party
	// AuthorKey is the author's Ed25519 signing key.
	AuthorKey ed25519.PrivateKey
	// Carried, when set, makes Seal write format version 2: the author
	// signature and Carried (the author's signet, the one
	// Author.Fingerprint names, with optional log evidence) are sealed for
	// the author and the recipient (spec §7.3), so the recipient needs no
	// look-up to verify and neither provider sees the signature. When nil,
	// version 1 (the signature in clear; for authors without a user
	// signet, such as a provider's MX).
	Carried *Carried
	// Origin and Destination are the organisations: domain, organisation
	// signet fingerprint, organisation encryption key.
	Origin, Destination Party
	// Recipient is the one recipient: address, user signet fingerprint,
	// encryption key.
	Recipient Party
	// Rand supplies the message ID, the three message keys and nothing
	// else; nil means crypto/rand. HPKE always draws its encapsulation
	// randomness from crypto/rand (tests fix it with
	// testing/cryptotest.SetGlobalRandom).
	Rand io.Reader
}

func (p *SealParams) check() error {
	for _, x := range []struct {
		what string
		p    Party
	}{{"author", p.Author}, {"origin", p.Origin}, {"destination", p.Destination}, {"recipient", p.Recipient}} {
		if err := checkName(x.what+" address", x.p.Address); err != nil {
			return fmt.Errorf("%w: %v", ErrInput, err)
		}
		if x.p.Enc == nil || x.p.Enc.KEM().ID() != KEM().ID() {
			return fmt.Errorf("%w: %s encryption key must be an ML-KEM-768+X25519 key", ErrInput, x.what)
		}
	}
	if len(p.AuthorKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: author signing key of %d bytes", ErrInput, len(p.AuthorKey))
	}
	if p.Carried != nil {
		if err := p.Carried.check(); err != nil {
			return err
		}
		if signet.FingerprintOf(p.Carried.Signet) != p.Author.Fingerprint {
			return fmt.Errorf("%w: the carried signet is not the one Author.Fingerprint names", ErrInput)
		}
	}
	return nil
}

// Seal reads one RFC 5322 message from mime and writes its D/MIME encoding
// for one recipient to w (docs/spec/dmime.md §11). It streams: memory does
// not grow with the message. It returns the message ID. On error, what was
// written to w must be discarded.
func Seal(w io.Writer, mime io.Reader, p SealParams) (ID, error) {
	if err := p.check(); err != nil {
		return ID{}, err
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var id ID
	keys := new(messageKeys)
	for _, b := range [][]byte{id[:], keys.origin[:], keys.dest[:], keys.content[:]} {
		if _, err := io.ReadFull(rnd, b); err != nil {
			return ID{}, fmt.Errorf("dmime: randomness: %w", err)
		}
	}

	version := byte(version1)
	if p.Carried != nil {
		version = version2
	}
	bw := getWriter(w)
	defer putWriter(bw)
	e := newEncoder(bw)
	defer e.release()
	// Leaf 0: prelude and info chunk.
	if err := e.raw(append([]byte(magic), version)); err != nil {
		return ID{}, err
	}
	if err := e.chunk(typeInfo, newInfo(id, keys).encode()); err != nil {
		return ID{}, err
	}
	e.closeLeaf()
	leaf0 := e.leaves[0][:]

	for _, ks := range []struct {
		t  byte
		pk hpke.PublicKey
	}{
		{typeKeyslotAuthor, p.Author.Enc}, {typeKeyslotOrigin, p.Origin.Enc},
		{typeKeyslotDest, p.Destination.Enc}, {typeKeyslotRecip, p.Recipient.Enc},
	} {
		payload, err := sealKeyslot(ks.pk, ks.t, keys, leaf0)
		if err != nil {
			return ID{}, err
		}
		if err := e.chunk(ks.t, payload); err != nil {
			return ID{}, err
		}
		e.closeLeaf()
	}

	origin := OriginInfo{p.Author.Address, p.Author.Fingerprint, p.Destination.Address, p.Destination.Fingerprint}
	if err := e.sealSection(typeOrigin, keys.origin[:], origin.encode()); err != nil {
		return ID{}, err
	}
	dest := DestinationInfo{p.Recipient.Address, p.Recipient.Fingerprint, p.Origin.Address, p.Origin.Fingerprint}
	if err := e.sealSection(typeDestination, keys.dest[:], dest.encode()); err != nil {
		return ID{}, err
	}

	br := bufio.NewReaderSize(mime, 64<<10)
	pieces, err := readHeaderBlock(br)
	if err != nil {
		return ID{}, err
	}
	common, other := encodeHeaderSections(pieces)
	cs := &contentSink{e: e, content: &keys.content, version: version}
	if p.Carried != nil {
		cs.sealPlain = p.Carried.plainLen()
	}
	for _, h := range []struct {
		t byte
		b []byte
	}{{typeCommonHeaders, common}, {typeOtherHeaders, other}} {
		if err := cs.open(h.t); err != nil {
			return ID{}, err
		}
		if err := cs.write(h.b); err != nil {
			return ID{}, err
		}
		if err := cs.end(); err != nil {
			return ID{}, err
		}
	}
	if err := splitBody(br, pieces, cs); err != nil {
		return ID{}, err
	}
	if err := cs.pad(); err != nil {
		return ID{}, err
	}
	if version == version1 {
		if err := e.chunk(typeAuthorSignature, encodeAuthorSignature(e.leaves, p.AuthorKey)); err != nil {
			return ID{}, err
		}
	} else {
		seal, err := sealAuthor(&keys.content, e.leaves, p.AuthorKey, p.Carried)
		if err != nil {
			return ID{}, err
		}
		if err := e.chunk(typeAuthorSignature, encodeSectionList(e.leaves)); err != nil {
			return ID{}, err
		}
		if err := e.chunk(typeAuthorSeal, seal); err != nil {
			return ID{}, err
		}
	}
	if err := bw.Flush(); err != nil {
		return ID{}, fmt.Errorf("dmime: write: %w", err)
	}
	return id, nil
}

// contentSink encrypts the body sections the MIME split produces, each
// under its own key derived from the content key.
type contentSink struct {
	e         *encoder
	content   *[keyLen]byte
	sw        *sectionWriter
	bodies    int
	version   byte
	sealPlain int // v2: the author seal's plaintext length
}

func (c *contentSink) begin(t byte) error {
	if c.bodies == maxBodySections {
		return fmt.Errorf("%w: more than %d MIME sections", ErrInput, maxBodySections)
	}
	c.bodies++
	return c.open(t)
}

func (c *contentSink) open(t byte) error {
	key, err := sectionKey(c.content, len(c.e.leaves), t)
	if err != nil {
		return err
	}
	c.sw, err = c.e.openSection(t, key)
	return err
}

func (c *contentSink) write(p []byte) error {
	_, err := c.sw.Write(p)
	return err
}

func (c *contentSink) end() error { return c.sw.Close() }

// pad writes the padding section: zero bytes that bring the message core
// (everything up to and including the author signature, or in version 2
// the author seal) to a size bucket (spec §9.3).
func (c *contentSink) pad() error {
	sigWire := int64(chunkHeaderLen + 2 + (len(c.e.leaves)+1)*leafLen + sigLen)
	if c.version == version2 {
		// The section list drops the signature; the seal holds it.
		sigWire += chunkHeaderLen + tagLen + int64(c.sealPlain) - sigLen
	}
	n, err := paddingLen(c.e.n + sigWire)
	if err != nil {
		return err
	}
	if err := c.open(typePadding); err != nil {
		return err
	}
	zero := make([]byte, min(n, SegmentSize))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if err := c.write(zero[:k]); err != nil {
			return err
		}
		n -= k
	}
	return c.end()
}
