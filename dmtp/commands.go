package dmtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"umbra/connguard"
	"umbra/ratelimit"
)

// Sequence errors (spec §3): 503, counted as protocol errors.
var (
	errNeedHello  = &Error{Code: 503, Enhanced: "5.5.1", Message: "send EHLO first"}
	errNeedMail   = &Error{Code: 503, Enhanced: "5.5.1", Message: "send MAIL first"}
	errNeedRcpt   = &Error{Code: 503, Enhanced: "5.5.1", Message: "send RCPT first"}
	errNestedMail = &Error{Code: 503, Enhanced: "5.5.1", Message: "a transaction is already open; send RSET first"}
	// X.5.3 is "too many recipients" (RFC 3463): one destination domain per
	// transaction.
	errOneRcpt = &Error{Code: 503, Enhanced: "5.5.3", Message: "exactly one RCPT per transaction"}
	// errTooManyLookups: over LookupLimit or MissLimit (spec §7).
	errTooManyLookups = &Error{Code: 450, Enhanced: "4.7.1", Message: "too many look-ups from your address, try again later"}
)

// handle parses and answers one command line. A non-nil error ends the
// connection.
func (c *conn) handle(line string) error {
	cmd, err := parseCommand(line)
	if err != nil {
		return c.fail(err.(*Error))
	}
	// The whole line, names and fingerprints included: what the server
	// learns from a command is what an operator's debug log shows.
	c.log.Debug("dmtp: command", "line", line)
	switch cmd.verb {
	case "EHLO":
		return c.ehlo(cmd)
	case "NOOP":
		return c.reply(250, "2.0.0", "OK")
	case "HELP":
		return c.reply(214, "2.0.0", helpText)
	case "QUIT":
		if err := c.reply(221, "2.0.0", c.cfg.hostname+" closing connection"); err != nil {
			return err
		}
		return errClosing
	}
	if c.state == stateNew {
		return c.fail(errNeedHello)
	}
	switch cmd.verb {
	case "RSET":
		c.endTransaction()
		return c.reply(250, "2.0.0", "OK")
	case "MAIL":
		return c.mail(cmd)
	case "RCPT":
		return c.rcpt(cmd)
	case "DATA":
		return c.data(cmd)
	}
	// Look-ups (spec §7): bounded per client address.
	if c.cfg.lookups.Wait(c.addr) > 0 || c.cfg.misses.Wait(c.addr) > 0 {
		c.log.Debug("dmtp: look-up refused: over the limit for the address", "client", c.addr, ratelimit.ClientFault)
		return c.sendError(errTooManyLookups)
	}
	c.cfg.lookups.Take(c.addr)
	switch cmd.verb {
	case "SGNT":
		return c.sgnt(cmd)
	case "HIST":
		return c.hist(cmd)
	case "VRFY":
		return c.vrfy(cmd)
	default: // LOG: parseCommand knows no other verb
		return c.logCmd(cmd)
	}
}

// lookupError is backendError for a look-up: an unknown name, fingerprint
// or record (550 5.1.1) counts against the client's MissLimit.
func (c *conn) lookupError(err error, op string) *Error {
	e := c.backendError(err, op)
	if e.Code == 550 && e.Enhanced == "5.1.1" {
		c.cfg.misses.Take(c.addr)
	}
	return e
}

// endTransaction forgets MAIL and RCPT and tells the session.
func (c *conn) endTransaction() {
	if c.state == stateMail || c.state == stateRcpt {
		c.sess.Reset()
	}
	if c.state != stateNew {
		c.state = stateReady
	}
}

// ehlo answers EHLO (spec §5.1): it may be repeated and always ends the
// transaction.
func (c *conn) ehlo(cmd command) error {
	c.endTransaction()
	if err := c.sess.Hello(cmd.arg); err != nil {
		c.state = stateNew
		return c.sendError(c.backendError(err, "EHLO"))
	}
	c.state = stateReady
	lines := []string{
		c.cfg.hostname + " hello " + cmd.arg,
		Version,
		"SIZE " + strconv.FormatInt(c.cfg.maxSize, 10),
		"SGNT",
		"HIST",
		"VRFY",
	}
	if _, ok := c.sess.(LogSession); ok {
		lines = append(lines, "LOG")
	}
	return c.replyLines(250, lines)
}

// mail answers MAIL FROM (spec §5.2).
func (c *conn) mail(cmd command) error {
	if c.state != stateReady {
		return c.fail(errNestedMail)
	}
	if err := c.sess.Mail(cmd.arg, cmd.fp); err != nil {
		return c.sendError(c.backendError(err, "MAIL"))
	}
	c.state = stateMail
	return c.reply(250, "2.1.0", "origin OK")
}

// rcpt answers RCPT TO (spec §5.3).
func (c *conn) rcpt(cmd command) error {
	switch c.state {
	case stateReady:
		return c.fail(errNeedMail)
	case stateRcpt:
		return c.fail(errOneRcpt)
	}
	if err := c.sess.Rcpt(cmd.arg, cmd.fp); err != nil {
		return c.sendError(c.backendError(err, "RCPT"))
	}
	c.state = stateRcpt
	return c.reply(250, "2.1.5", "destination OK")
}

// data answers DATA (spec §5.4): 552 without reading the body when it is
// too large, else 354, exactly size bytes to the session, and 250 only once
// the session says the message is stored.
func (c *conn) data(cmd command) error {
	switch c.state {
	case stateReady:
		return c.fail(errNeedMail)
	case stateMail:
		return c.fail(errNeedRcpt)
	}
	if cmd.size > c.cfg.maxSize {
		c.endTransaction()
		return c.sendError(&Error{Code: 552, Enhanced: "5.3.4", Message: fmt.Sprintf("message size exceeds the limit of %d bytes", c.cfg.maxSize)})
	}
	if err := c.reply(354, "", fmt.Sprintf("send %d bytes", cmd.size)); err != nil {
		return err
	}
	// The body must arrive at the minimum rate and within the data
	// timeout (spec §7); the RateReader sets the read deadlines.
	start := time.Now()
	rate := connguard.NewRateReader(c.r, c.nc.SetReadDeadline, c.cfg.minRate, start.Add(c.cfg.dataTimeout))
	body := &bodyReader{r: rate, size: cmd.size, left: cmd.size}
	err := c.sess.Data(body, cmd.size)
	var e *Error
	closing := errors.As(err, &e) && e.Code == 421
	if body.left > 0 && body.err == nil && !closing {
		// The session refused early: skip the rest to stay in step. After
		// a 421 the connection closes instead, so nothing is skipped.
		io.Copy(io.Discard, body)
		if err == nil && body.err == nil {
			c.log.Error("dmtp: backend accepted a message without reading all of it; answering 451", "size", cmd.size, "unread", body.left)
			err = errors.New("backend returned before reading the whole body")
		}
	}
	c.endTransaction()
	if body.err != nil && !closing {
		if err == nil {
			c.log.Error("dmtp: backend accepted a message whose body was cut short", "err", body.err)
		}
		if errors.Is(body.err, connguard.ErrTooSlow) {
			// A client's fault, so DEBUG; it is told why before the close.
			c.log.Debug("dmtp: DATA too slow", "err", body.err, ratelimit.ClientFault)
			return c.sendError(&Error{Code: 421, Enhanced: "4.4.2", Message: c.tooSlow()})
		}
		// Nothing more can be read in step: the connection is lost.
		return body.err
	}
	if err != nil {
		err = c.sendError(c.backendError(err, "DATA"))
		if closing && body.err == nil && body.left > 0 {
			c.linger(body.left)
		}
		return err
	}
	return c.reply(250, "2.0.0", "message stored")
}

// lingerTimeout bounds how long the server goes on reading a body after
// it refused it with 421 mid-way.
const lingerTimeout = 2 * time.Second

// linger skips up to left more bytes of a refused body, for at most
// lingerTimeout, before the connection closes: a sender writes the whole
// body before it reads the reply, and a close under its writes would
// reset the connection and lose the 421 (RFC 9112 §9.6 does the same for
// HTTP). It holds no memory, only the connection, and not for long.
func (c *conn) linger(left int64) {
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.r, left)
}

// tooSlow is the text of the 421 for a body that came too slowly.
func (c *conn) tooSlow() string {
	m := fmt.Sprintf("message body too slow (all within %v", c.cfg.dataTimeout)
	if r := c.cfg.minRate; r.BytesPerSec > 0 {
		m += fmt.Sprintf(", at least %d bytes/s after %v", r.BytesPerSec, r.Grace)
	}
	return m + "), closing connection"
}

// bodyReader gives the session exactly size bytes of the body. A short
// body is an error wrapping io.ErrUnexpectedEOF (and the network error, if
// any), and it sticks.
type bodyReader struct {
	r          io.Reader
	size, left int64
	err        error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err != nil && b.left > 0 {
		if err == io.EOF {
			b.err = fmt.Errorf("dmtp: message body cut short after %d of %d bytes: %w", b.size-b.left, b.size, io.ErrUnexpectedEOF)
		} else {
			b.err = fmt.Errorf("dmtp: message body cut short after %d of %d bytes: %w: %w", b.size-b.left, b.size, io.ErrUnexpectedEOF, err)
		}
		return n, b.err
	}
	return n, nil
}

// sgnt answers SGNT (spec §5.5): `250 SIGNET <size>` and the signet.
func (c *conn) sgnt(cmd command) error {
	b, err := c.sess.Signet(cmd.arg, cmd.fp)
	if err != nil {
		return c.sendError(c.lookupError(err, "SGNT"))
	}
	if len(b) == 0 || len(b) > MaxSignetSize {
		c.log.Error("dmtp: backend returned a signet of impossible size; answering 451", "size", len(b))
		return c.sendError(errInternal)
	}
	return c.send(func(w *bufio.Writer) {
		fmt.Fprintf(w, "250 SIGNET %d\r\n", len(b))
		w.Write(b)
	})
}

// hist answers HIST (spec §5.7): `250 HISTORY <n>[ MORE]`, then n times
// `SIGNET <size>` and the signet.
func (c *conn) hist(cmd command) error {
	items, err := c.sess.History(cmd.arg, cmd.fp, cmd.stop)
	if err != nil {
		return c.sendError(c.lookupError(err, "HIST"))
	}
	if len(items) == 0 {
		c.log.Error("dmtp: backend returned an empty history; answering 451")
		return c.sendError(errInternal)
	}
	more := ""
	if len(items) > MaxHistory {
		items, more = items[:MaxHistory], " MORE"
	}
	for _, b := range items {
		if len(b) == 0 || len(b) > MaxSignetSize {
			c.log.Error("dmtp: backend returned a signet of impossible size in a history; answering 451", "size", len(b))
			return c.sendError(errInternal)
		}
	}
	return c.send(func(w *bufio.Writer) {
		fmt.Fprintf(w, "250 HISTORY %d%s\r\n", len(items), more)
		for _, b := range items {
			fmt.Fprintf(w, "SIGNET %d\r\n", len(b))
			w.Write(b)
		}
	})
}

// vrfy answers VRFY (spec §5.6): `250 CURRENT <latest>` when the
// fingerprint asked about is current, else `250 UPDATE <latest>`.
func (c *conn) vrfy(cmd command) error {
	current, latest, err := c.sess.Verify(cmd.arg, cmd.fp)
	if err != nil {
		return c.sendError(c.lookupError(err, "VRFY"))
	}
	if latest.IsZero() {
		c.log.Error("dmtp: backend returned no latest fingerprint; answering 451")
		return c.sendError(errInternal)
	}
	word := "UPDATE"
	if current && !cmd.fp.IsZero() {
		word = "CURRENT"
	}
	return c.reply(250, "", word+" "+latest.String())
}

// logCmd answers LOG (spec §5.9), reserved for the transparency log.
func (c *conn) logCmd(cmd command) error {
	ls, ok := c.sess.(LogSession)
	if !ok {
		return c.sendError(&Error{Code: 502, Enhanced: "5.5.1", Message: "LOG not implemented"})
	}
	b, err := ls.Log(cmd.arg)
	if err != nil {
		return c.sendError(c.lookupError(err, "LOG"))
	}
	if len(b) > MaxLogSize {
		c.log.Error("dmtp: backend returned an oversize LOG reply; answering 451", "size", len(b))
		return c.sendError(errInternal)
	}
	return c.send(func(w *bufio.Writer) {
		fmt.Fprintf(w, "250 LOG %d\r\n", len(b))
		w.Write(b)
	})
}
