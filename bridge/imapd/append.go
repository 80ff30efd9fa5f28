package imapd

import (
	"bytes"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

// Append answers APPEND with APPENDUID (RFC 9051 §6.3.12, RFC 4315 §3).
// The message is read whole (imapserver has already refused literals over
// AppendLimit) and stored with a fresh key exactly as the client sent it,
// so BODY[] and RFC822.SIZE are what it appended, unless it carries a
// field Options.Stamp removes (see stamped).
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	mb, err := s.srv.store.MailboxRef(s.srv.ctx, name)
	if err != nil {
		return nil, tryCreate("append", err)
	}
	raw, err := io.ReadAll(io.LimitReader(r, appendLimit+1))
	if err != nil {
		return nil, fmt.Errorf("imapd: append: read message: %w", err)
	}
	if len(raw) > appendLimit {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message exceeds APPENDLIMIT"}
	}
	if len(raw) == 0 {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeParse, Text: "Empty message"}
	}
	raw = s.stamped(raw)
	m, _, err := s.srv.store.Add(s.srv.ctx, mailstore.NewMessage{
		Key:          s.srv.opts.NewKey(),
		Mailbox:      mb.Name,
		Flags:        storeFlags(options.Flags),
		InternalDate: options.Time,
		MIME:         raw,
	}, mailstore.Local)
	if err != nil {
		return nil, tryCreate("append", err)
	}
	s.srv.noteMessage(m)
	return &imap.AppendData{UID: imap.UID(m.UID), UIDValidity: mb.UIDValidity}, nil
}

// stamped returns what to store for an APPENDed message (Stamped with
// Options.Stamp).
func (s *session) stamped(raw []byte) []byte {
	if s.srv.opts.Stamp == nil {
		return raw
	}
	return Stamped(s.srv.opts.Stamp, raw)
}

// Stamped returns what to store for a message a mail client appends (or
// `umbra import` brings in): stamp's output if stamp removed something
// from the message (a client-supplied security verdict, which must never
// be served as the bridge's), else the client's bytes. stamp adds its own
// field as the first line, so the message was left alone when the rest of
// its output is the input.
func Stamped(stamp func([]byte) []byte, raw []byte) []byte {
	out := stamp(raw)
	if i := bytes.IndexByte(out, '\n'); i >= 0 && bytes.Equal(out[i+1:], raw) {
		return raw
	}
	return out
}
