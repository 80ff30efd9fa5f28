package imapd

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
	"umbra/ratelimit"
)

// delim is the hierarchy delimiter, the store's.
const delim = '/'

// session is one connection's state. imapserver calls its methods one at
// a time (Idle excepted, see the package comment).
type session struct {
	srv    *Server
	conn   *imapserver.Conn
	remote string
	view   *view // nil unless a mailbox is selected
}

var _ interface {
	imapserver.SessionIMAP4rev2
	imapserver.SessionAppendLimit
	imapserver.SessionID
	imapserver.SessionQResync
} = (*session)(nil)

// Close releases the selected mailbox when the connection ends.
func (s *session) Close() error {
	s.unselect()
	s.srv.mu.Lock()
	delete(s.srv.authed, s)
	s.srv.mu.Unlock()
	return nil
}

// Login checks the account address (case-insensitively) and the bridge
// password (in constant time). AUTHENTICATE PLAIN ends here too.
// Failures are slowed and capped by Options.Guard (issue 11).
func (s *session) Login(username, password string) error {
	pw := s.srv.password.Load()
	err := s.srv.guard.Check(s.srv.ctx, func() error {
		userOK := strings.EqualFold(username, s.srv.opts.Username)
		passOK := subtle.ConstantTimeCompare([]byte(password), []byte(*pw)) == 1
		if userOK && passOK {
			return nil
		}
		s.srv.log.Info("imapd: login failed", "remote", s.remote, "user", username, ratelimit.ClientFault)
		return imapserver.ErrAuthFailed
	})
	if errors.Is(err, ratelimit.ErrTooManyFailures) {
		s.srv.log.Info("imapd: login refused: too many failed logins", "remote", s.remote, ratelimit.ClientFault)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Too many failed logins: " + err.Error()}
	}
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.password.Load() != pw {
		return imapserver.ErrAuthFailed // rotated during the check
	}
	s.srv.authed[s] = struct{}{}
	s.srv.log.Info("imapd: login", "remote", s.remote)
	return nil
}

// ID answers ID (RFC 2971) with the server's name; the client's is
// logged, as RFC 2971 §3.1 intends it for debugging.
func (s *session) ID(client *imap.IDData) *imap.IDData {
	if client != nil {
		s.srv.log.Debug("imapd: client id", "remote", s.remote, "name", client.Name, "version", client.Version)
	}
	return &imap.IDData{Name: "Umbra bridge", Vendor: "Umbra"}
}

// Namespace: one personal namespace, no prefix (RFC 2342).
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: delim}}}, nil
}

// AppendLimit is advertised as APPENDLIMIT=n (RFC 7889).
func (s *session) AppendLimit() uint32 { return appendLimit }

// Select opens a mailbox; EXAMINE comes with options.ReadOnly.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	mb, err := s.srv.store.MailboxRef(s.srv.ctx, name)
	if err != nil {
		return nil, storeError("select", err)
	}
	b, err := s.srv.openMailbox(s.srv.ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	v, data := newView(b, mb, options.ReadOnly, s.conn)
	s.view = v
	if s.conn.Enabled(imap.CapIMAP4rev2) {
		// RFC 9051 §6.3.2: the mailbox's name as the server spells it.
		data.List = &imap.ListData{Mailbox: mb.Name, Delim: delim}
	}
	if !options.ReadOnly {
		if err := s.srv.saveRecent(b); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// Unselect leaves the selected state (UNSELECT, CLOSE, a new SELECT).
func (s *session) Unselect() error {
	s.unselect()
	s.srv.mu.Lock()
	delete(s.srv.authed, s)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) unselect() {
	if s.view == nil {
		return
	}
	s.view.close()
	if !s.view.readOnly {
		// Messages that arrived while selected may have been claimed.
		if err := s.srv.saveRecent(s.view.box); err != nil {
			s.srv.log.Warn("imapd: unselect", "err", err)
		}
	}
	s.srv.closeMailbox(s.view.box)
	s.view = nil
}

// Poll writes the selected mailbox's pending updates after a command.
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.view == nil {
		return nil
	}
	return s.view.poll(w, allowExpunge)
}

// Idle writes updates as they happen (RFC 2177). Without a selected
// mailbox there is nothing to report until DONE.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.view == nil {
		<-stop
		return nil
	}
	return s.view.idle(w, stop)
}

// writable returns the selected view, or a NO if it was opened with
// EXAMINE (RFC 9051 §6.3.3: no changes to a read-only mailbox).
func (s *session) writable() (*view, error) {
	if s.view.readOnly {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Mailbox is read-only (EXAMINE)"}
	}
	return s.view, nil
}

// storeError turns a store error into the IMAP response a client can act
// on (RFC 9051 §7.1 response codes); other errors become a wrapped error,
// which imapserver logs and answers with NO [SERVERBUG].
func storeError(op string, err error) error {
	switch {
	case errors.Is(err, mailstore.ErrNotFound):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	case errors.Is(err, mailstore.ErrExists):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	case errors.Is(err, mailstore.ErrInvalid):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: clientText(err)}
	}
	return fmt.Errorf("imapd: %s: %w", op, err)
}

// tryCreate is the answer to COPY, MOVE or APPEND into a missing mailbox
// (RFC 9051 §7.1: TRYCREATE).
func tryCreate(op string, err error) error {
	if errors.Is(err, mailstore.ErrNotFound) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	return storeError(op, err)
}

// clientText makes an error message fit a status response's text: one
// line, without the package prefix.
func clientText(err error) string {
	t := strings.TrimPrefix(err.Error(), "mailstore: ")
	t = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, t)
	if len(t) > 200 {
		t = strings.ToValidUTF8(t[:200], "")
	}
	return t
}
