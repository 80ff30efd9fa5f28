package imapd

import (
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

// Append answers APPEND with APPENDUID (RFC 9051 §6.3.12, RFC 4315 §3).
// The message is read whole (imapserver has already refused literals over
// AppendLimit), passed through Options.Stamp and stored with a fresh key.
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	mb, err := s.srv.store.Mailbox(s.srv.ctx, name)
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
	if s.srv.opts.Stamp != nil {
		raw = s.srv.opts.Stamp(raw)
	}
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
