package dmime

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
)

// span is one chunk's place in an encoded message.
type span struct {
	off, end int // chunk header start, payload end
	typ      byte
}

// chunkSpans lists the chunks of a well-formed message.
func chunkSpans(t testing.TB, msg []byte) []span {
	t.Helper()
	var out []span
	for off := preludeLen; off < len(msg); {
		if off+chunkHeaderLen > len(msg) {
			t.Fatalf("chunk header past end at %d", off)
		}
		n := int(msg[off+1])<<16 | int(msg[off+2])<<8 | int(msg[off+3])
		out = append(out, span{off, off + chunkHeaderLen + n, msg[off]})
		off += chunkHeaderLen + n
	}
	return out
}

func findSpan(t testing.TB, msg []byte, typ byte, nth int) span {
	t.Helper()
	for _, s := range chunkSpans(t, msg) {
		if s.typ == typ {
			if nth == 0 {
				return s
			}
			nth--
		}
	}
	t.Fatalf("no chunk 0x%02x", typ)
	return span{}
}

// replace returns msg with [s.off, s.end) replaced by b.
func replace(msg []byte, s span, b []byte) []byte {
	return slices.Concat(msg[:s.off], b, msg[s.end:])
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

var sentinels = []error{ErrNotDMIME, ErrVersion, ErrTruncated, ErrUnknownChunk, ErrChunkOrder, ErrChunkSize,
	ErrMalformed, ErrTrailingData, ErrKeyslot, ErrKeyCommitment, ErrSegmentAuth, ErrTreeMismatch,
	ErrAuthorSignature, ErrOriginSignature, ErrNoOriginSignature, ErrWrongRecipient, ErrPadding}

// expectedFlipError says which error a flipped byte at off must cause
// when the recipient opens the message, or nil where several structural
// errors are possible (chunk headers: the framing itself changes).
func expectedFlipError(msg []byte, spans []span, off int) error {
	if off < len(magic) {
		return ErrNotDMIME
	}
	if off < preludeLen {
		return ErrVersion
	}
	for _, s := range spans {
		if off >= s.end {
			continue
		}
		p := off - s.off - chunkHeaderLen
		if p < 0 {
			return nil
		}
		switch {
		case s.typ == typeInfo && p == 0:
			return ErrVersion
		case s.typ == typeInfo, s.typ == typeKeyslotRecip:
			return ErrKeyslot // the info chunk is the keyslot's AAD
		case s.typ >= typeKeyslotAuthor && s.typ <= typeKeyslotDest:
			return ErrTreeMismatch // not opened by the recipient; the tree catches it
		case segmented(s.typ) && p == 0:
			return ErrChunkSize // a last segment claims to be a full one
		case segmented(s.typ):
			return ErrSegmentAuth
		case s.typ == typeAuthorSignature && p < 2:
			return nil // leaf count: size or tree error
		case s.typ == typeAuthorSignature && msg[len(magic)] == version2:
			return ErrTreeMismatch // the section list has no signature
		case s.typ == typeAuthorSeal:
			return ErrSegmentAuth
		case s.typ == typeAuthorSignature && p < s.end-s.off-chunkHeaderLen-sigLen:
			return ErrTreeMismatch
		case s.typ == typeAuthorSignature:
			return ErrAuthorSignature
		case s.typ == typeOriginSignature:
			return ErrOriginSignature
		}
	}
	return nil
}

// TestFlipEveryByte flips each byte of a small sealed, origin-signed
// message in turn: every flip must be refused, with the error its place
// calls for.
func TestFlipEveryByte(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	t.Run("version1", func(t *testing.T) {
		t.Parallel()
		flipEveryByte(t, w, w.seal(t, []byte(simpleMIME)))
	})
	t.Run("version2", func(t *testing.T) {
		t.Parallel()
		flipEveryByte(t, w, w.sealWith(t, []byte(simpleMIME), w.paramsV2()))
	})
}

func flipEveryByte(t *testing.T, w *world, msg []byte) {
	spans := chunkSpans(t, msg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	workers := 4
	for k := range workers {
		wg.Go(func() {
			bad := slices.Clone(msg)
			for off := k; off < len(msg); off += workers {
				bad[off] ^= 0x01
				_, _, err := w.openRecipient(bad)
				bad[off] ^= 0x01
				want := expectedFlipError(msg, spans, off)
				ok := err != nil && (want == nil && slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) || errors.Is(err, want))
				if !ok {
					mu.Lock()
					t.Errorf("flip at %d (of %d): got %v, want %v", off, len(msg), err, want)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}

// TestFlipSampleLarge flips a sample of bytes of a multi-segment message.
func TestFlipSampleLarge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	in := "From: a@a.test\r\nContent-Type: application/octet-stream\r\n\r\n" + string(binaryBlob(3*SegmentSize+100, 3))
	msg := w.seal(t, []byte(in))
	spans := chunkSpans(t, msg)
	for i := range 64 {
		off := (i*7919 + 13) * len(msg) / (64 * 7919)
		bad := slices.Clone(msg)
		bad[off] ^= 0x80
		_, _, err := w.openRecipient(bad)
		if want := expectedFlipError(msg, spans, off); err == nil || want != nil && !errors.Is(err, want) {
			t.Errorf("flip at %d: got %v, want %v", off, err, want)
		}
	}
}

func TestSwappedKeyslot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m1, m2 := w.seal(t, []byte(simpleMIME)), w.seal(t, []byte(simpleMIME))
	for _, typ := range []byte{typeKeyslotRecip, typeKeyslotOrigin} {
		s2 := findSpan(t, m2, typ, 0)
		bad := replace(m1, findSpan(t, m1, typ, 0), m2[s2.off:s2.end])
		_, _, err := w.openRecipient(bad)
		if typ == typeKeyslotRecip {
			wantErr(t, "recipient keyslot from another message", err, ErrKeyslot)
		} else {
			wantErr(t, "origin keyslot from another message, opened by the recipient", err, ErrTreeMismatch)
			_, err = Open(bytes.NewReader(bad), RoleOrigin, w.origin.enc, OpenOptions{})
			wantErr(t, "origin keyslot from another message, opened by the origin", err, ErrKeyslot)
		}
	}
}

func TestSplicedChunk(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m1 := w.seal(t, []byte(simpleMIME))
	m2 := w.seal(t, []byte(simpleMIME))
	for _, typ := range []byte{typeDisplay, typeCommonHeaders, typeDestination, typeOrigin} {
		s2 := findSpan(t, m2, typ, 0)
		bad := replace(m1, findSpan(t, m1, typ, 0), m2[s2.off:s2.end])
		_, _, err := w.openRecipient(bad)
		wantErr(t, "spliced chunk, recipient", err, ErrSegmentAuth)
		wantErr(t, "spliced chunk, origin check", VerifyOrigin(bytes.NewReader(bad), w.origin.pub()), ErrTreeMismatch)
	}
}

func TestRemovedAndReorderedChunks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(mimeCases()["mixed with attachment"]))
	disp, att := findSpan(t, msg, typeDisplay, 0), findSpan(t, msg, typeAttachment, 0)
	ksO, ksD := findSpan(t, msg, typeKeyslotOrigin, 0), findSpan(t, msg, typeKeyslotDest, 0)
	pad := findSpan(t, msg, typePadding, 0)

	removedBody := replace(msg, disp, nil)
	_, _, err := w.openRecipient(removedBody)
	wantErr(t, "body section removed, recipient", err, ErrSegmentAuth)
	wantErr(t, "body section removed, origin check", VerifyOrigin(bytes.NewReader(removedBody), w.origin.pub()), ErrTreeMismatch)

	_, _, err = w.openRecipient(replace(msg, ksD, nil))
	wantErr(t, "keyslot removed", err, ErrChunkOrder)
	_, _, err = w.openRecipient(replace(msg, pad, nil))
	wantErr(t, "padding removed", err, ErrChunkOrder)

	// disp and att are adjacent: swap them.
	swapped := slices.Concat(msg[:disp.off], msg[att.off:att.end], msg[disp.off:disp.end], msg[att.end:])
	_, _, err = w.openRecipient(swapped)
	wantErr(t, "body sections swapped, recipient", err, ErrSegmentAuth)
	_, err = Inspect(bytes.NewReader(swapped))
	wantErr(t, "body sections swapped, inspect", err, ErrTreeMismatch)

	swappedSlots := slices.Concat(msg[:ksO.off], msg[ksD.off:ksD.end], msg[ksO.off:ksO.end], msg[ksD.end:])
	_, _, err = w.openRecipient(swappedSlots)
	wantErr(t, "keyslots swapped", err, ErrChunkOrder)
}

func TestSegmentsReorderedOrDropped(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	in := "From: a@a.test\r\nContent-Type: application/octet-stream\r\n\r\n" + string(binaryBlob(3*SegmentSize+100, 5))
	msg := w.seal(t, []byte(in))
	s0, s1 := findSpan(t, msg, typeAttachment, 0), findSpan(t, msg, typeAttachment, 1)
	swapped := slices.Concat(msg[:s0.off], msg[s1.off:s1.end], msg[s0.off:s0.end], msg[s1.end:])
	_, _, err := w.openRecipient(swapped)
	wantErr(t, "segments swapped", err, ErrSegmentAuth)
	_, _, err = w.openRecipient(replace(msg, s1, nil))
	wantErr(t, "middle segment dropped", err, ErrSegmentAuth)
	last := findSpan(t, msg, typeAttachment, 3)
	_, _, err = w.openRecipient(replace(msg, last, nil))
	wantErr(t, "last segment dropped", err, ErrChunkOrder)
}

func TestStrippedSignatures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	asig, osig := findSpan(t, msg, typeAuthorSignature, 0), findSpan(t, msg, typeOriginSignature, 0)

	noOrigin := msg[:osig.off]
	_, _, err := w.openRecipient(noOrigin)
	wantErr(t, "origin signature stripped, recipient", err, ErrNoOriginSignature)
	wantErr(t, "origin signature stripped, VerifyOrigin", VerifyOrigin(bytes.NewReader(noOrigin), w.origin.pub()), ErrNoOriginSignature)
	_, err = Open(bytes.NewReader(noOrigin), RoleDestination, w.dest.enc, OpenOptions{OriginKeys: []ed25519.PublicKey{w.origin.pub()}})
	wantErr(t, "origin signature stripped, destination", err, ErrNoOriginSignature)

	_, _, err = w.openRecipient(replace(msg, asig, nil))
	wantErr(t, "author signature stripped", err, ErrChunkOrder)
	_, _, err = w.openRecipient(msg[:asig.off])
	wantErr(t, "author and origin signatures stripped", err, ErrTruncated)

	// A forger re-signs the same tree with their own key.
	forger := newActor(t, "mallory@a.test")
	payload := slices.Clone(msg[asig.off+chunkHeaderLen : asig.end])
	n := len(payload) - sigLen
	var p parser
	p.authorRoot = treeRoot(version1, leavesOf(payload[:n]))
	copy(payload[n:], ed25519.Sign(forger.sign, authorMessage(version1, p.authorRoot)))
	_, _, err = w.openRecipient(slices.Concat(msg[:asig.off+chunkHeaderLen], payload, msg[asig.end:]))
	wantErr(t, "author signature by another key", err, ErrAuthorSignature)

	wrongOrigin := newActor(t, "evil.test")
	wantErr(t, "origin signature checked with another key", VerifyOrigin(bytes.NewReader(msg), wrongOrigin.pub()), ErrOriginSignature)
}

// leavesOf decodes the count-prefixed leaves of a signature chunk payload.
func leavesOf(b []byte) [][leafLen]byte {
	var out [][leafLen]byte
	for i := 2; i+leafLen <= len(b); i += leafLen {
		out = append(out, [leafLen]byte(b[i:]))
	}
	return out
}

func TestTruncation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	osig := findSpan(t, msg, typeOriginSignature, 0)
	cuts := []int{0, 3, preludeLen}
	for _, s := range chunkSpans(t, msg) {
		cuts = append(cuts, s.off, s.off+2, s.off+chunkHeaderLen, (s.off+s.end)/2, s.end-1)
	}
	for _, n := range cuts {
		if n == osig.off {
			continue // the complete author-signed core: covered by TestStrippedSignatures
		}
		_, _, err := w.openRecipient(msg[:n])
		wantErr(t, "truncated", err, ErrTruncated)
		if _, err := Inspect(bytes.NewReader(msg[:n])); !errors.Is(err, ErrTruncated) && n < osig.off {
			t.Errorf("Inspect of %d bytes: %v", n, err)
		}
	}
}

func TestTrailingAndUnknown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	_, _, err := w.openRecipient(append(slices.Clone(msg), 0x33, 0, 0, 0))
	wantErr(t, "unknown chunk type appended", err, ErrUnknownChunk)
	_, _, err = w.openRecipient(append(slices.Clone(msg), 0xF1))
	wantErr(t, "partial chunk appended", err, ErrTruncated)
	_, _, err = w.openRecipient(append(slices.Clone(msg), 0x40, 0, 0, 17))
	wantErr(t, "segment after the end", err, ErrChunkOrder)
	big := slices.Clone(msg)
	s := findSpan(t, big, typeDisplay, 0)
	big[s.off+1] = 0xFF
	_, _, err = w.openRecipient(big)
	wantErr(t, "oversize length", err, ErrChunkSize)
	v3 := slices.Clone(msg)
	v3[len(magic)] = 3
	_, _, err = w.openRecipient(v3)
	wantErr(t, "version 3", err, ErrVersion)
	// A version 1 message relabelled version 2: the prelude is in every
	// keyslot's associated data.
	v2 := slices.Clone(msg)
	v2[len(magic)] = version2
	_, _, err = w.openRecipient(v2)
	wantErr(t, "version 1 relabelled 2", err, ErrKeyslot)
}

// TestReaddressed plays the forwarding attack: the recipient (bob) holds
// every key and tries to pass the author's signed message off to carol as
// if alice had written to her.
func TestReaddressed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	carol := newActor(t, "carol@b.test")
	msg := w.seal(t, []byte(simpleMIME))
	ks := findSpan(t, msg, typeKeyslotRecip, 0)
	in, err := decodeInfo(msg[preludeLen+chunkHeaderLen : preludeLen+chunkHeaderLen+infoLen])
	if err != nil {
		t.Fatal(err)
	}
	leaf0 := leavesOfMessage(t, msg)[0][:]
	keys, err := openKeyslot(w.recip.enc, typeKeyslotRecip, msg[ks.off+chunkHeaderLen:ks.end], in, leaf0)
	if err != nil {
		t.Fatal(err)
	}
	slot, err := sealKeyslot(carol.enc.PublicKey(), typeKeyslotRecip, keys, leaf0)
	if err != nil {
		t.Fatal(err)
	}
	carolOpen := func(m []byte) error {
		_, err := Open(bytes.NewReader(m), RoleRecipient, carol.enc, OpenOptions{
			MIME: io.Discard, AuthorKey: w.authorKeys, Recipient: carol.addr,
		})
		return err
	}

	// 1. Only the keyslot re-sealed: the signed destination chunk names bob.
	step1 := replace(msg, ks, append(chunkHeader(typeKeyslotRecip, len(slot)), slot...))
	wantErr(t, "keyslot re-sealed to carol", carolOpen(step1), ErrWrongRecipient)

	// 2. The destination chunk re-encrypted to name carol: the tree breaks.
	var buf bytes.Buffer
	e := newEncoder(bufio.NewWriter(&buf))
	di := DestinationInfo{carol.addr, carol.fp, w.origin.addr, w.origin.fp}
	if err := e.sealSection(typeDestination, keys.dest[:], di.encode()); err != nil {
		t.Fatal(err)
	}
	e.w.Flush()
	step2 := replace(step1, findSpan(t, step1, typeDestination, 0), buf.Bytes())
	wantErr(t, "destination chunk rewritten", carolOpen(step2), ErrTreeMismatch)

	// 3. The tree's leaves updated too: the author's signature breaks.
	asig := findSpan(t, step2, typeAuthorSignature, 0)
	payload := slices.Clone(step2[asig.off+chunkHeaderLen : asig.end])
	for i, l := range leavesOfMessage(t, step2) {
		copy(payload[2+i*leafLen:], l[:])
	}
	step3 := slices.Concat(step2[:asig.off+chunkHeaderLen], payload, step2[asig.end:])
	wantErr(t, "tree rewritten", carolOpen(step3), ErrAuthorSignature)
	wantErr(t, "re-addressed message at carol's provider", VerifyOrigin(bytes.NewReader(step3), w.origin.pub()), ErrOriginSignature)
}

// leavesOfMessage computes the section leaves of msg as a reader does.
func leavesOfMessage(t testing.TB, msg []byte) [][leafLen]byte {
	t.Helper()
	p, err := newParser(bytes.NewReader(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p.stage < stSig {
		if _, err := p.next(); err != nil {
			t.Fatal(err)
		}
	}
	return p.leaves
}

func chunkHeader(t byte, n int) []byte {
	h := make([]byte, chunkHeaderLen)
	putChunkHeader(h, t, n)
	return h
}
