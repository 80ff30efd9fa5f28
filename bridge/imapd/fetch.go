package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/textproto"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
)

// Fetch answers FETCH and UID FETCH (RFC 9051 §6.4.5). Items that need
// only the header (ENVELOPE, BODY[HEADER...]) read Header, items that need
// the whole message read Content, and FLAGS, UID, INTERNALDATE and
// RFC822.SIZE read neither.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	v := s.view
	if err := v.checkSeqSet(numSet); err != nil {
		return err
	}
	if err := v.box.ensureDetails(s.srv.ctx, s.srv.store); err != nil {
		return err
	}
	// Fetching a body section without PEEK sets \Seen, except in a
	// mailbox opened with EXAMINE (RFC 9051 §6.4.5, BODY[<section>]).
	markSeen := false
	if !v.readOnly {
		for _, bs := range options.BodySection {
			markSeen = markSeen || !bs.Peek
		}
		for _, bs := range options.BinarySection {
			markSeen = markSeen || !bs.Peek
		}
	}
	for _, m := range v.choose(numSet) {
		if m.seq == 0 || !m.loaded {
			continue // not announced to this session yet, or just expunged
		}
		if options.ChangedSince != 0 && m.modseq <= options.ChangedSince {
			continue // RFC 7162 §3.1.4.1
		}
		flagsChanged := false
		if markSeen && !hasFlag(m.flags, string(imap.FlagSeen)) {
			out, err := s.updateFlags(v, m.message, mailstore.FlagChange{Add: []string{string(imap.FlagSeen)}})
			if errors.Is(err, mailstore.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m.flags, m.modseq, flagsChanged = out.Flags, out.ModSeq, true
		}
		if err := s.fetchOne(w, m, options, flagsChanged); err != nil {
			return err
		}
	}
	return nil
}

// fetchOne writes one FETCH response. Everything that can fail is read
// before the response starts, so an error never leaves half a response on
// the wire; a message expunged meanwhile is skipped.
func (s *session) fetchOne(w *imapserver.FetchWriter, m selected, options *imap.FetchOptions, flagsChanged bool) error {
	src := &source{s: s, m: m.message}
	var (
		envelope *imap.Envelope
		bodyStr  imap.BodyStructure
		sections = make([][]byte, len(options.BodySection))
		binaries = make([][]byte, len(options.BinarySection))
		binSizes = make([]uint32, len(options.BinarySectionSize))
	)
	err := func() error {
		if options.Envelope {
			h, err := src.header()
			if err != nil {
				return err
			}
			hdr, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(h)))
			if err != nil {
				// A malformed header still has an envelope: an empty one.
				hdr = textproto.Header{}
			}
			envelope = imapserver.ExtractEnvelope(hdr)
		}
		if options.BodyStructure != nil {
			c, err := src.content()
			if err != nil {
				return err
			}
			bodyStr = fixBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(c)))
		}
		for i, bs := range options.BodySection {
			var b []byte
			var err error
			if headerOnly(bs) {
				b, err = src.header()
			} else {
				b, err = src.content()
			}
			if err != nil {
				return err
			}
			clamped := *bs
			clamped.Partial = clampPartial(bs.Partial)
			sections[i] = withoutNUL(imapserver.ExtractBodySection(bytes.NewReader(b), &clamped))
		}
		for i, bs := range options.BinarySection {
			c, err := src.content()
			if err != nil {
				return err
			}
			clamped := *bs
			clamped.Partial = clampPartial(bs.Partial)
			binaries[i] = imapserver.ExtractBinarySection(bytes.NewReader(c), &clamped)
		}
		for i, bs := range options.BinarySectionSize {
			c, err := src.content()
			if err != nil {
				return err
			}
			binSizes[i] = imapserver.ExtractBinarySectionSize(bytes.NewReader(c), bs)
		}
		return nil
	}()
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}

	resp := w.CreateMessage(m.seq)
	resp.WriteUID(imap.UID(m.uid))
	if options.Flags || flagsChanged {
		resp.WriteFlags(s.view.messageFlags(m.message))
	}
	// MODSEQ when asked, and with the FLAGS a FETCH changed once
	// CONDSTORE is enabled (RFC 7162 §3.1.4.1, §3.2).
	if options.ModSeq || (flagsChanged && s.conn.CondStoreEnabled()) {
		resp.WriteModSeq(m.modseq)
	}
	if options.InternalDate {
		resp.WriteInternalDate(m.date)
	}
	if options.RFC822Size {
		resp.WriteRFC822Size(m.size)
	}
	if envelope != nil {
		resp.WriteEnvelope(envelope)
	}
	if bodyStr != nil {
		resp.WriteBodyStructure(bodyStr)
	}
	for i, bs := range options.BodySection {
		if err := writeLiteral(resp.WriteBodySection(bs, int64(len(sections[i]))), sections[i]); err != nil {
			return err
		}
	}
	for i, bs := range options.BinarySection {
		if err := writeLiteral(resp.WriteBinarySection(bs, int64(len(binaries[i]))), binaries[i]); err != nil {
			return err
		}
	}
	for i, bs := range options.BinarySectionSize {
		resp.WriteBinarySectionSize(bs, binSizes[i])
	}
	return resp.Close()
}

func writeLiteral(wc io.WriteCloser, b []byte) error {
	_, err := wc.Write(b)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// headerOnly reports whether a body section lies within the top-level
// header (BODY[HEADER], BODY[HEADER.FIELDS (...)], RFC822.HEADER).
func headerOnly(bs *imap.FetchItemBodySection) bool {
	return len(bs.Part) == 0 && bs.Specifier == imap.PartSpecifierHeader
}

// clampPartial bounds a client's <offset.size>: imapserver adds the two
// without an overflow check, and a sum past MaxInt64 would make it slice
// out of range. No message comes near the bound.
func clampPartial(p *imap.SectionPartial) *imap.SectionPartial {
	if p == nil {
		return nil
	}
	const most = 1 << 40
	return &imap.SectionPartial{Offset: min(p.Offset, most), Size: min(p.Size, most)}
}

// fixBodyStructure makes any message's structure writable. A multipart
// whose boundary never occurs has no parts, but body-type-mpart needs at
// least one (RFC 9051 §9) and imapserver panics on none: it becomes an
// empty text/plain part. A part whose Content-Type does not parse is
// served as application/octet-stream (RFC 2049 §2, item 8).
func fixBodyStructure(bs imap.BodyStructure) imap.BodyStructure {
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(b.Children) == 0 {
			return &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain",
				Text: &imap.BodyStructureText{}, Extended: &imap.BodyStructureSinglePartExt{}}
		}
		for i, c := range b.Children {
			b.Children[i] = fixBodyStructure(c)
		}
	case *imap.BodyStructureSinglePart:
		if b.Type == "" || b.Subtype == "" {
			b.Type, b.Subtype, b.Text = "application", "octet-stream", nil
		}
		if b.MessageRFC822 != nil {
			b.MessageRFC822.BodyStructure = fixBodyStructure(b.MessageRFC822.BodyStructure)
		}
	}
	return bs
}

// source reads a message's bytes from the store at most once per FETCH.
type source struct {
	s    *session
	m    message
	hdr  []byte
	full []byte
}

func (src *source) content() ([]byte, error) {
	if src.full == nil {
		b, err := src.s.srv.store.Content(src.s.srv.ctx, src.m.contentID)
		if err != nil {
			return nil, fmt.Errorf("imapd: content of uid %d: %w", src.m.uid, err)
		}
		src.full = b
	}
	return src.full, nil
}

// header returns the message header, ending with its blank line so
// textproto.ReadHeader and ExtractBodySection see a complete header.
func (src *source) header() ([]byte, error) {
	if src.full != nil {
		return src.full, nil
	}
	if src.hdr == nil {
		b, err := src.s.srv.store.Header(src.s.srv.ctx, src.m.contentID)
		if err != nil {
			return nil, fmt.Errorf("imapd: header of uid %d: %w", src.m.uid, err)
		}
		src.hdr = completeHeader(b)
	}
	return src.hdr, nil
}

// updateFlags changes the flags of m on behalf of this session as ch
// says, inside the store's transaction, so concurrent changes by other
// sessions are kept (STORE +FLAGS/-FLAGS, RFC 9051 §6.4.6), and returns
// the message as stored. The store's event reaches the other sessions
// but not this one, which reports the change in its own response: the
// event carries this session's tracker as its actor
// (mailbox.setFlagsLocked).
func (s *session) updateFlags(v *view, m message, ch mailstore.FlagChange) (mailstore.Message, error) {
	ctx := mailstore.WithActor(s.srv.ctx, v.tracker)
	out, err := s.srv.store.ChangeFlags(ctx, m.id, ch, mailstore.Local)
	switch {
	case errors.Is(err, mailstore.ErrInvalid):
		return out, storeError("store", err) // e.g. an unknown system flag
	case errors.Is(err, mailstore.ErrNotFound), errors.Is(err, mailstore.ErrModified):
		return out, err
	case err != nil:
		return out, fmt.Errorf("imapd: set flags of uid %d: %w", m.uid, err)
	}
	return out, nil
}

// completeHeader returns h ending with the blank line that closes a header
// (RFC 5322 §2.1), copying h if it has to add one.
func completeHeader(h []byte) []byte {
	switch {
	case bytes.HasSuffix(h, []byte("\n\n")), bytes.HasSuffix(h, []byte("\n\r\n")):
		return h
	case len(h) == 0:
		return []byte("\r\n")
	case bytes.HasSuffix(h, []byte("\n")):
		return append(h[:len(h):len(h)], "\r\n"...)
	default:
		return append(h[:len(h):len(h)], "\r\n\r\n"...)
	}
}

// withoutNUL returns b with every NUL octet replaced by 0x80. A literal
// cannot carry NUL (RFC 3501 §9 and RFC 9051 §9: CHAR8 is %x01-ff); only
// a literal8 can (RFC 3516 §4.2, RFC 9051 §6.4.5), and literal8 is for
// BINARY[] responses alone, which send the exact bytes. So BODY[] of a
// message with NUL octets shows 0x80 in their place, as Dovecot does; the
// length, RFC822.SIZE and partial offsets stay the same. b is copied only
// if it holds a NUL.
func withoutNUL(b []byte) []byte {
	if bytes.IndexByte(b, 0) < 0 {
		return b
	}
	out := bytes.Clone(b)
	for i, c := range out {
		if c == 0 {
			out[i] = 0x80
		}
	}
	return out
}
