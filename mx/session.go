package mx

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"umbra/connguard"
	"umbra/ratelimit"
	"umbra/wiretrace"
)

// Replies of the MX (docs/spec/legacy.md §2.4).
var (
	errBusy = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
		Message: "too much mail arriving at once; try again later"}
	errTooManyRefused = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "too many unknown recipients; closing"}
	errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "the message could not be stored; nothing was kept; try again later"}
	errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "the message took too long to arrive; closing"}
	errNoHeader = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "the message has no header section"}
	errLongHeader = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: fmt.Sprintf("the header section is longer than %d KiB", maxHeader>>10)}
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "the server is shutting down; nothing was kept; try again later"}
)

// session is one connection's SMTP transaction state. go-smtp calls its
// methods one at a time from the connection's goroutine.
type session struct {
	s       *Server
	conn    *smtp.Conn
	remote  netip.Addr
	from    string
	rcpts   []string
	refused int
	// pending is a message counted in Server.active from DATA until its
	// reply is written: go-smtp calls Reset after it writes the reply
	// (and Logout when the connection ends), so Shutdown never closes a
	// connection between a durable store and its 250.
	pending atomic.Bool
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		remote = ap.Addr().Unmap()
	}
	// At --log-level trace, the commands and answers (wiretrace).
	return wiretrace.SMTPSession(&session{s: s, conn: c, remote: remote},
		s.log.With("remote", c.Conn().RemoteAddr().String())), nil
}

func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
	ss.replied()
}

func (ss *session) Logout() error {
	ss.replied()
	return nil
}

// replied ends the count of the message in flight, if any.
func (ss *session) replied() {
	if ss.pending.Swap(false) {
		ss.s.active.Done()
	}
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

// Rcpt asks the backend about each recipient before DATA (RFC 5321
// §3.3), merges duplicates (one copy per recipient: DESIGN §2) and closes
// a connection that keeps guessing addresses.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if slices.ContainsFunc(ss.rcpts, func(r string) bool { return strings.EqualFold(r, to) }) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.ReadTimeout)
	defer cancel()
	err := ss.s.cfg.Backend.Recipient(ctx, to)
	if err == nil {
		ss.rcpts = append(ss.rcpts, to)
		return nil
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		ss.s.log.Error("recipient check failed", "err", err)
		return errTemporary
	}
	if se.Code >= 500 {
		if ss.refused++; ss.refused >= maxRefusedRcpts {
			ss.s.log.Info("closing a connection that tried too many unknown recipients", "remote", ss.remote, ratelimit.ClientFault)
			// The reply is written when Rcpt returns; the connection
			// closes just after.
			time.AfterFunc(100*time.Millisecond, func() { _ = ss.conn.Close() })
			return errTooManyRefused
		}
	}
	return se
}

// Data reads the message into the spool within its budgets and the DATA
// deadline, checks the sender, and hands it to the backend. The client
// gets 250 only once the backend says every copy is durable.
func (ss *session) Data(r io.Reader) error {
	s := ss.s
	if !ss.pending.Load() {
		if !s.begin() {
			return errShuttingDown
		}
		ss.pending.Store(true)
	}
	nc := ss.conn.Conn()
	// The whole message within DataTimeout, whatever the per-line
	// deadline go-smtp set when it read the DATA command.
	_ = nc.SetReadDeadline(s.cfg.Now().Add(s.cfg.DataTimeout))
	body := s.cfg.Spool.Body(s.cfg.MaxMessageSize)
	defer body.Close()
	if _, err := io.Copy(body, r); err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			time.AfterFunc(100*time.Millisecond, func() { _ = ss.conn.Close() })
			return errDataTimeout
		case errors.Is(err, connguard.ErrBudget):
			return errBusy
		}
		return err
	}
	all, err := body.Reader()
	if err != nil {
		return err
	}
	header, end, err := readHeader(all)
	if err != nil {
		return err
	}
	env := &Envelope{Remote: ss.remote, Helo: ss.conn.Hostname(), MailFrom: ss.from, Received: s.cfg.Now().UTC()}
	if st, ok := ss.conn.TLSConnectionState(); ok {
		env.TLS = tlsName(st.Version)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DataTimeout)
	defer cancel()
	env.Auth = s.auth.check(ctx, env.Remote, env.Helo, env.MailFrom, header, io.NewSectionReader(all, 0, all.Size()))
	msg := s.trace(env, header, io.NewSectionReader(all, end, all.Size()-end))
	if err := s.cfg.Backend.Deliver(ctx, env, ss.rcpts, msg); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		// Nothing of the message is logged: not even its sender.
		s.log.Error("delivery failed", "recipients", len(ss.rcpts), "size", body.Len(), "err", err)
		return errTemporary
	}
	s.log.Info("received", "remote", ss.remote, "tls", env.TLS, "size", body.Len(), "recipients", len(ss.rcpts),
		"spf", env.Auth.SPF, "dmarc", env.Auth.DMARC)
	return nil
}

// maxHeader bounds the header section of a message, which the MX reads
// into memory to check and to rewrite (Postfix's header_size_limit is
// 100 KiB, past which it takes the rest for body).
const maxHeader = 256 << 10

// readHeader returns msg's header section, through the blank line that
// ends it, and its length. A message with none in its first maxHeader
// bytes is refused.
func readHeader(msg *io.SectionReader) ([]byte, int64, error) {
	buf := make([]byte, min(msg.Size(), maxHeader))
	if _, err := msg.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	end := headerEnd(buf)
	switch {
	case end < 0 && msg.Size() > maxHeader:
		return nil, 0, errLongHeader
	case end < 0:
		return nil, 0, errNoHeader
	}
	return buf[:end], int64(end), nil
}

// headerEnd returns the offset just past the blank line that ends the
// header section, or -1 if there is none.
func headerEnd(msg []byte) int {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// idEncoding spells the queue ID in Received.
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// trace returns the message with a Received field (RFC 5321 §4.4, "with"
// from RFC 3848) and the Authentication-Results field prepended, and any
// Authentication-Results field claiming this server's authserv-id removed
// (RFC 8601 §5: it cannot have come from us): the fields and the header,
// in memory, followed by body, read where it lies.
func (s *Server) trace(env *Envelope, header []byte, body *io.SectionReader) *io.SectionReader {
	with := "ESMTP"
	if env.TLS != "" {
		with = "ESMTPS"
	}
	var id [10]byte
	_, _ = rand.Read(id[:])
	var b bytes.Buffer
	b.Grow(len(header) + 512)
	using := "in the clear"
	if env.TLS != "" {
		using = "using " + env.TLS
	}
	fmt.Fprintf(&b, "Received: from %s ([%s]) (%s)\r\n\tby %s (Umbra) with %s id %s;\r\n\t%s\r\n",
		sanitize(env.Helo), env.Remote, using, s.cfg.Hostname, with, idEncoding.EncodeToString(id[:]),
		env.Received.Format(time.RFC1123Z))
	b.WriteString(env.Auth.header(s.cfg.AuthServID, sanitize(env.Helo), sanitize(env.MailFrom)))
	dropOwnResults(&b, header, s.cfg.AuthServID)
	head := b.Bytes()
	return io.NewSectionReader(concat{head, body}, 0, int64(len(head))+body.Size())
}

// concat reads head and then body as one.
type concat struct {
	head []byte
	body io.ReaderAt
}

func (c concat) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(c.head)) {
		n = copy(p, c.head[off:])
		if n == len(p) {
			return n, nil
		}
		off = int64(len(c.head))
	}
	m, err := c.body.ReadAt(p[n:], off-int64(len(c.head)))
	return n + m, err
}

// dropOwnResults writes header to b without the Authentication-Results
// fields whose authserv-id is id. A field is judged whole, unfolded: the
// id may stand on a continuation line.
func dropOwnResults(b *bytes.Buffer, header []byte, id string) {
	for len(header) > 0 {
		// One field: its first line and every continuation line.
		n := 0
		for {
			i := bytes.IndexByte(header[n:], '\n') + 1
			if i == 0 {
				n = len(header)
				break
			}
			n += i
			if n == len(header) || header[n] != ' ' && header[n] != '\t' {
				break
			}
		}
		raw := header[:n]
		header = header[n:]
		if !ownResult(raw, id) {
			b.Write(raw)
		}
	}
}

// ownResult reports whether raw is an Authentication-Results field with
// authserv-id id (RFC 8601 §2.2: the id is the first token of the value).
func ownResult(raw []byte, id string) bool {
	name, value, ok := bytes.Cut(raw, []byte(":"))
	if !ok || !strings.EqualFold(strings.TrimSpace(string(name)), "Authentication-Results") {
		return false
	}
	sid, _, _ := strings.Cut(string(value), ";")
	f := strings.Fields(sid)
	return len(f) > 0 && strings.EqualFold(f[0], id)
}

// sanitize keeps a client-chosen string from breaking a header field.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '(' || r == ')' || r == ';' || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	return s
}

// tlsName spells a TLS version for Received and the user's verdict.
func tlsName(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS1.3"
	case 0x0303:
		return "TLS1.2"
	}
	return fmt.Sprintf("TLS(0x%04x)", v)
}
