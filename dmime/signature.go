package dmime

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// Signature inputs (spec §7), per format version. Each is domain-separated
// so a signature made for one purpose, or for one version, can never
// verify for another.
var (
	treeLabel   = [...]string{version1: "umbra-dmime-v1 tree\x00", version2: "umbra-dmime-v2 tree\x00"}
	authorLabel = [...]string{version1: "umbra-dmime-v1 author signature\x00", version2: "umbra-dmime-v2 author signature\x00"}
	originLabel = [...]string{version1: "umbra-dmime-v1 origin signature\x00", version2: "umbra-dmime-v2 origin signature\x00"}
)

// treeRoot hashes the ordered section leaves: a one-level tree, so a reader
// holding the section list can check any one section alone.
func treeRoot(version byte, leaves [][leafLen]byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(treeLabel[version]))
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(leaves))))
	for i := range leaves {
		h.Write(leaves[i][:])
	}
	var r [sha256.Size]byte
	h.Sum(r[:0])
	return r
}

func authorMessage(version byte, root [sha256.Size]byte) []byte {
	return append([]byte(authorLabel[version]), root[:]...)
}

// originMessage is what the origin signs: the content digest, SHA-256 of
// the author signature chunk (v1) or of the section list and author seal
// chunks (v2). The list names the SHA-256 of every section of the core,
// and every reader checks each of them against the bytes it read, so this
// digest covers every byte of the core without a second pass over it.
func originMessage(version byte, digest [sha256.Size]byte) []byte {
	return append([]byte(originLabel[version]), digest[:]...)
}

// encodeSectionList is the leaf count and the leaves: the version 2
// section list, and the start of the version 1 author signature chunk.
func encodeSectionList(leaves [][leafLen]byte) []byte {
	b := make([]byte, 0, 2+len(leaves)*leafLen+sigLen)
	b = binary.BigEndian.AppendUint16(b, uint16(len(leaves)))
	for i := range leaves {
		b = append(b, leaves[i][:]...)
	}
	return b
}

// encodeAuthorSignature is the payload of the version 1 author signature
// chunk: the section list and the Ed25519 signature over the tree root.
func encodeAuthorSignature(leaves [][leafLen]byte, key ed25519.PrivateKey) []byte {
	return append(encodeSectionList(leaves), ed25519.Sign(key, authorMessage(version1, treeRoot(version1, leaves)))...)
}

// Version 2's author seal (spec §7.3): the author signature and the
// author's signet, encrypted for those who hold the content key — the
// author and the recipient — so that neither provider can test candidate
// authors' public keys against the signature (DESIGN §2). Its key is the
// section key of the index after the last section; used once, so its
// nonce is zero; the chunk header is the associated data.

// sealAuthor is the author seal chunk's payload.
func sealAuthor(content *[keyLen]byte, leaves [][leafLen]byte, key ed25519.PrivateKey, c *Carried) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	aead, hdr, err := authorSealAEAD(content, len(leaves), tagLen+c.plainLen())
	if err != nil {
		return nil, err
	}
	pt := c.encode(ed25519.Sign(key, authorMessage(version2, treeRoot(version2, leaves))))
	var nonce [12]byte
	return aead.Seal(nil, nonce[:], pt, hdr[:]), nil
}

// openAuthorSeal opens the author seal: the signature and what it carries.
func openAuthorSeal(content *[keyLen]byte, nLeaves int, payload []byte) ([]byte, *Carried, error) {
	aead, hdr, err := authorSealAEAD(content, nLeaves, len(payload))
	if err != nil {
		return nil, nil, err
	}
	var nonce [12]byte
	pt, err := aead.Open(nil, nonce[:], payload, hdr[:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: author seal", ErrSegmentAuth)
	}
	return decodeCarried(pt)
}

func authorSealAEAD(content *[keyLen]byte, nLeaves, payloadLen int) (cipher.AEAD, [chunkHeaderLen]byte, error) {
	var hdr [chunkHeaderLen]byte
	putChunkHeader(hdr[:], typeAuthorSeal, payloadLen)
	k, err := sectionKey(content, nLeaves, typeAuthorSeal)
	if err != nil {
		return nil, hdr, err
	}
	aead, err := newGCM(k)
	return aead, hdr, err
}

func (p *parser) verifyAuthor(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: author public key of %d bytes", ErrInput, len(pub))
	}
	if p.authorSig == nil {
		return fmt.Errorf("%w: the author signature of a version 2 message is sealed for the author and the recipient", ErrNotPermitted)
	}
	if !ed25519.Verify(pub, authorMessage(p.version(), p.authorRoot), p.authorSig) {
		return fmt.Errorf("%w: message %s", ErrAuthorSignature, p.info.id)
	}
	return nil
}

// verifyOrigin accepts the origin signature if any one of pubs made it:
// the signature does not name its key, and an organisation may hold
// several message-signing SOKs (docs/spec/signet.md §3).
func (p *parser) verifyOrigin(pubs []ed25519.PublicKey) error {
	if len(pubs) == 0 {
		return fmt.Errorf("%w: no origin public key", ErrInput)
	}
	for _, pub := range pubs {
		if len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: origin public key of %d bytes", ErrInput, len(pub))
		}
	}
	if p.originSig == nil {
		return fmt.Errorf("%w: message %s", ErrNoOriginSignature, p.info.id)
	}
	msg := originMessage(p.version(), p.sigSum)
	for _, pub := range pubs {
		if ed25519.Verify(pub, msg, p.originSig) {
			return nil
		}
	}
	return fmt.Errorf("%w: message %s", ErrOriginSignature, p.info.id)
}

// VerifyAuthor checks the whole layout and the author's signature with the
// author's public signing key. It needs no decryption key: the tree covers
// the ciphertext, so the origin provider can check its own user's message.
// Only version 1: a version 2 message seals its author signature
// (ErrNotPermitted; Open as author or recipient checks it).
func VerifyAuthor(r io.Reader, pub ed25519.PublicKey) error {
	p, err := newParser(r, nil)
	if err != nil {
		return err
	}
	defer p.release()
	if err := p.drain(); err != nil {
		return err
	}
	return p.verifyAuthor(pub)
}

// VerifyOrigin checks the whole layout and the origin provider's signature
// with the origin organisation's public message-signing keys (SOKs allowed
// to sign messages; any one may have signed). It needs no decryption key.
func VerifyOrigin(r io.Reader, pubs ...ed25519.PublicKey) error {
	p, err := newParser(r, nil)
	if err != nil {
		return err
	}
	defer p.release()
	if err := p.drain(); err != nil {
		return err
	}
	return p.verifyOrigin(pubs)
}

// SignOrigin copies an author-signed message from src to dst and appends
// the origin signature, made with the origin organisation's signing key
// over every byte up to and including the author signature (through the
// author's tree, spec §7.2). Bytes reach dst while src is checked: on error the caller
// must discard dst.
func SignOrigin(dst io.Writer, src io.Reader, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: origin signing key of %d bytes", ErrInput, len(key))
	}
	p, err := newParser(src, dst)
	if err != nil {
		return err
	}
	defer p.release()
	if err := p.drain(); err != nil {
		return err
	}
	if p.originSig != nil {
		return fmt.Errorf("%w: message %s already has an origin signature", ErrChunkOrder, p.info.id)
	}
	return writeChunk(dst, typeOriginSignature, ed25519.Sign(key, originMessage(p.version(), p.sigSum)))
}

// AppendTrace copies an origin-signed message from src to dst and appends
// a trace chunk. Traces are covered by no signature, so appending one
// breaks none. On error the caller must discard dst.
func AppendTrace(dst io.Writer, src io.Reader, tr Trace) error {
	return appendTrace(dst, src, dst, tr)
}

// MaxTraceChunk is the most bytes a trace chunk takes.
const MaxTraceChunk = chunkHeaderLen + traceFixedLen + maxDomainLen

// TraceChunk returns the chunk that AppendTrace would append to the
// message whose layout Open or Inspect returned, for a server that
// checked the message as it streamed by and stores it followed by this
// chunk, without reading it a second time. The same rules hold: the
// message must carry the origin signature and fewer than the most
// traces.
func TraceChunk(l *Layout, tr Trace) ([]byte, error) {
	if !l.OriginSigned {
		return nil, fmt.Errorf("%w: traces follow the origin signature", ErrNoOriginSignature)
	}
	if len(l.Traces) >= maxTraces {
		return nil, fmt.Errorf("%w: message already has %d traces", ErrInput, maxTraces)
	}
	payload, err := tr.encode()
	if err != nil {
		return nil, err
	}
	var w sliceWriter
	if err := writeChunk(&w, typeTrace, payload); err != nil {
		return nil, err
	}
	return w.b, nil
}

// appendTrace checks the message in src (copying it to tee unless nil)
// and writes a trace chunk to dst.
func appendTrace(tee io.Writer, src io.Reader, dst io.Writer, tr Trace) error {
	payload, err := tr.encode()
	if err != nil {
		return err
	}
	p, err := newParser(src, tee)
	if err != nil {
		return err
	}
	defer p.release()
	if err := p.drain(); err != nil {
		return err
	}
	if p.originSig == nil {
		return fmt.Errorf("%w: traces follow the origin signature", ErrNoOriginSignature)
	}
	if len(p.traces) == maxTraces {
		return fmt.Errorf("%w: message already has %d traces", ErrInput, maxTraces)
	}
	return writeChunk(dst, typeTrace, payload)
}

// sliceWriter appends what is written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func writeChunk(w io.Writer, t byte, payload []byte) error {
	b := make([]byte, chunkHeaderLen, chunkHeaderLen+len(payload))
	putChunkHeader(b, t, len(payload))
	if _, err := w.Write(append(b, payload...)); err != nil {
		return fmt.Errorf("dmime: write chunk 0x%02x: %w", t, err)
	}
	return nil
}
