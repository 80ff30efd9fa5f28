package dmtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"umbra/connguard"
	"umbra/ratelimit"
	"umbra/wiretrace"
)

// state is where a connection is in the command sequence (spec §3).
type state int

const (
	stateNew   state = iota // greeted by the server, waiting for EHLO
	stateReady              // after EHLO, no transaction
	stateMail               // MAIL accepted
	stateRcpt               // RCPT accepted: DATA may follow
)

// errClosing ends a connection after a reply that closes it (221, 421).
var errClosing = errors.New("dmtp: closing connection")

// errShutdown is what readCommand reports when Shutdown interrupted it.
var errShutdown = errors.New("dmtp: server shutting down")

// errInternal is the reply to every backend failure that is not an
// *Error: nothing of its text reaches the peer (spec §6).
var errInternal = &Error{Code: 451, Enhanced: "4.3.0", Message: "temporary local failure, try again later"}

// conn is one server connection. Its goroutine owns everything but mu and
// idle, which Shutdown uses to interrupt it between commands.
type conn struct {
	srv  *Server
	cfg  *settings
	nc   net.Conn
	tc   *tls.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	log  *slog.Logger
	sess Session
	addr string // the client's address as limits count it (connguard.Addr)
	// ctx is the connection's lifetime, handed to the session: it ends
	// when the connection does, or when Shutdown gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc

	state  state
	errors int // protocol errors so far (spec §7)

	mu   sync.Mutex
	idle bool // blocked waiting for a command or the handshake
}

func newConn(s *Server, nc net.Conn) *conn {
	tc := tls.Server(nc, s.cfg.tls)
	ctx, cancel := context.WithCancel(context.Background())
	log := s.cfg.log.With("remote", nc.RemoteAddr().String())
	// At --log-level trace, the lines of the conversation (wiretrace).
	tr := wiretrace.New(log, wiretrace.DMTP())
	return &conn{
		srv:    s,
		cfg:    &s.cfg,
		nc:     nc,
		tc:     tc,
		addr:   connguard.Addr(nc),
		ctx:    ctx,
		cancel: cancel,
		r:      bufio.NewReaderSize(tr.Reader(tc), bufferSize),
		w:      bufio.NewWriterSize(tr.Writer(tc), bufferSize),
		log:    log,
	}
}

// interruptIfIdle makes a connection that waits for a command stop
// waiting, so that it answers 421 and closes; a connection in the middle of
// a command is left to finish it.
func (c *conn) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// setIdle marks the connection as waiting, with a read deadline of d from
// now, unless the server is shutting down. It holds mu so that Shutdown
// either sees the connection idle and interrupts it, or the connection sees
// the shutdown before it starts waiting.
func (c *conn) setIdle(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv.shutting.Load() {
		return false
	}
	c.idle = true
	c.nc.SetReadDeadline(time.Now().Add(d))
	return true
}

func (c *conn) setBusy() {
	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.cancel()
	if !c.setIdle(c.cfg.handshakeTimeout) {
		return
	}
	// The write half of the handshake gets the same bound.
	c.nc.SetWriteDeadline(time.Now().Add(c.cfg.handshakeTimeout))
	err := c.tc.HandshakeContext(c.ctx)
	c.setBusy()
	if err != nil {
		c.log.Debug("dmtp: TLS handshake failed", "err", err, ratelimit.ClientFault)
		return
	}
	sess, err := c.srv.Backend.NewSession(ConnInfo{Context: c.ctx, RemoteAddr: c.nc.RemoteAddr(), LocalAddr: c.nc.LocalAddr(), TLS: c.tc.ConnectionState()})
	if err != nil {
		e := c.backendError(err, "new session")
		if e == errInternal {
			e = &Error{Code: 421, Enhanced: "4.3.0", Message: c.cfg.hostname + " service not available"}
		}
		c.sendError(e)
		return
	}
	c.sess = sess
	c.run()
	c.tc.Close()
	if err := sess.Close(); err != nil {
		c.log.Warn("dmtp: session close failed", "err", err)
	}
}

// run reads and answers commands until the connection ends.
func (c *conn) run() {
	err := c.reply(220, "", c.cfg.hostname+" "+Version+" ready")
	for err == nil {
		var line string
		line, err = c.readCommand()
		if err != nil {
			err = c.lineError(err)
			continue
		}
		err = c.handle(line)
	}
	if !errors.Is(err, errClosing) {
		c.log.Debug("dmtp: connection ended", "err", err, ratelimit.ClientFault)
	}
}

func (c *conn) readCommand() (string, error) {
	if !c.setIdle(c.cfg.readTimeout) {
		return "", errShutdown
	}
	line, err := readLine(c.r)
	c.setBusy()
	if err != nil && c.srv.shutting.Load() && isTimeout(err) {
		return "", errShutdown
	}
	return line, err
}

// lineError answers a line that could not be read (spec §2.2, §7).
func (c *conn) lineError(err error) error {
	switch {
	case errors.Is(err, errShutdown):
		return c.sendError(&Error{Code: 421, Enhanced: "4.3.2", Message: c.cfg.hostname + " shutting down"})
	case errors.Is(err, errLineTooLong):
		return c.fail(&Error{Code: 500, Enhanced: "5.5.2", Message: "line too long (at most 512 bytes including CRLF)"})
	case errors.Is(err, errBareLF):
		return c.fail(&Error{Code: 500, Enhanced: "5.5.2", Message: "line must end with CRLF"})
	case errors.Is(err, errGarbage):
		return c.sendError(&Error{Code: 421, Enhanced: "4.7.0", Message: "line too long, closing connection"})
	case isTimeout(err):
		return c.sendError(&Error{Code: 421, Enhanced: "4.4.2", Message: c.cfg.hostname + " timeout, closing connection"})
	default:
		return err
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fail answers a protocol error (500, 501, 503). The maxErrors-th one is
// answered with 421 instead, and the connection closes (spec §7).
func (c *conn) fail(e *Error) error {
	c.errors++
	if c.errors >= maxErrors {
		return c.sendError(&Error{Code: 421, Enhanced: "4.7.0", Message: "too many errors, closing connection"})
	}
	return c.sendError(e)
}

// backendError chooses the reply to a Backend's error (spec §6).
func (c *conn) backendError(err error, op string) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.valid() {
			return e
		}
		c.log.Error("dmtp: backend returned an invalid reply; answering 451", "op", op, "err", err)
		return errInternal
	}
	c.log.Warn("dmtp: backend failed; answering 451", "op", op, "err", err)
	return errInternal
}

// send writes one reply under the write timeout and flushes it.
func (c *conn) send(write func(w *bufio.Writer)) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.cfg.writeTimeout))
	write(c.w)
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("dmtp: write reply: %w", err)
	}
	return nil
}

// reply sends a single-line reply.
func (c *conn) reply(code int, enhanced, text string) error {
	c.log.Debug("dmtp: reply", "code", code, "enhanced", enhanced)
	return c.send(func(w *bufio.Writer) {
		if enhanced == "" {
			fmt.Fprintf(w, "%d %s\r\n", code, text)
		} else {
			fmt.Fprintf(w, "%d %s %s\r\n", code, enhanced, text)
		}
	})
}

// replyLines sends a multi-line reply (RFC 5321 §4.2.1).
func (c *conn) replyLines(code int, lines []string) error {
	return c.send(func(w *bufio.Writer) {
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			fmt.Fprintf(w, "%d%s%s\r\n", code, sep, l)
		}
	})
}

// sendError sends an error reply; a 421 then closes the connection.
func (c *conn) sendError(e *Error) error {
	if err := c.reply(e.Code, e.Enhanced, e.Message); err != nil {
		return err
	}
	if e.Code == 421 {
		return errClosing
	}
	return nil
}

// helpText is HELP's reply: the verbs, and where they are defined.
var helpText = strings.Join([]string{"EHLO", "MAIL", "RCPT", "DATA", "SGNT", "HIST", "VRFY", "LOG", "RSET", "NOOP", "HELP", "QUIT"}, " ") +
	" (" + Version + ", docs/spec/dmtp.md)"
