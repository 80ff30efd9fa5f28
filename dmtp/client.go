package dmtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"umbra/signet"
	"umbra/wiretrace"
)

// DefaultClientTimeout bounds each command of a Client whose Timeout is 0.
const DefaultClientTimeout = 5 * time.Minute

// maxHistoryTotal bounds the signets Client.History collects over all
// pages, so that a hostile server cannot make it page forever.
const maxHistoryTotal = 16 * MaxHistory

// ErrNotDMTP is returned by Hello when the server's EHLO reply does not
// announce DMTPv1 and a SIZE.
var ErrNotDMTP = errors.New("dmtp: server does not announce " + Version)

// Client is the sending half of DMTP: one connection to one provider.
// Every 4xx and 5xx reply comes back as an *Error; any other failure (I/O,
// a malformed reply) leaves the connection unusable, closes it, and is
// returned by every later call. A Client is not safe for concurrent use.
type Client struct {
	// Timeout bounds each command, from sending it to reading its reply;
	// DefaultClientTimeout if 0. DataTimeout bounds DATA's body and final
	// reply, which includes the server's durable store;
	// DefaultDataTimeout if 0. Set them before use.
	Timeout     time.Duration
	DataTimeout time.Duration

	tc      *tls.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	ext     map[string]string
	maxSize int64
	err     error
}

// Dialer holds a Client's settings that must be known before its
// greeting is read, so cannot be Client fields set after Dial. The zero
// Dialer is Dial's and NewClient's.
type Dialer struct {
	// Log, if it records wiretrace.LevelTrace, gets the lines of the
	// conversation from the greeting on, as a server's trace shows them
	// ("C: " the Client's, "S: " the server's; DATA's body and signets
	// only as their size). Give it what names the peer: the Client adds
	// nothing. nil, or a level above trace, wraps nothing.
	Log *slog.Logger
}

// Dial connects to a DMTP server at addr ("host:port"), completes the TLS
// 1.3 handshake and reads the greeting. cfg is typically
// PinnedConfig(pin, host); nil means PinnedConfig(nil, host). Whatever cfg
// says, TLS 1.3 and ALPN "dmtp/1" are required. ctx bounds the dial, the
// handshake and the greeting.
func Dial(ctx context.Context, addr string, cfg *tls.Config) (*Client, error) {
	return Dialer{}.Dial(ctx, addr, cfg)
}

// NewClient is Dial over a connection the caller opened: a tunnel through
// the user's own provider (docs/spec/dmap.md §9.3), say. host is the
// server's host name or address, as the _dime record's dx= names it; cfg
// as for Dial. NewClient owns raw from its call on: it closes it on
// failure and with the Client.
func NewClient(ctx context.Context, raw net.Conn, host string, cfg *tls.Config) (*Client, error) {
	return Dialer{}.NewClient(ctx, raw, host, cfg)
}

// Dial is the package's Dial with d's settings.
func (d Dialer) Dial(ctx context.Context, addr string, cfg *tls.Config) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dmtp: dial %s: %w", addr, err)
	}
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dmtp: dial %s: %w", addr, err)
	}
	return d.NewClient(ctx, raw, host, cfg)
}

// NewClient is the package's NewClient with d's settings.
func (d Dialer) NewClient(ctx context.Context, raw net.Conn, host string, cfg *tls.Config) (*Client, error) {
	if cfg == nil {
		cfg = PinnedConfig(nil, host)
	}
	tcfg := clientTLSConfig(cfg)
	if tcfg.ServerName == "" && !tcfg.InsecureSkipVerify {
		// As tls.Dialer does: the name to verify is the dialled host's.
		tcfg.ServerName = host
	}
	rec := &recordingConn{Conn: raw}
	tc := tls.Client(rec, tcfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if e := refusedInClear(err, rec); e != nil {
			err = e
		}
		raw.Close()
		return nil, fmt.Errorf("dmtp: connect to %s: %w", host, err)
	}
	rec.first, rec.done = nil, true
	// Traced inside TLS, as the server's trace is (dmtp/conn.go): the
	// lines, not the records.
	tr := wiretrace.New(d.Log, wiretrace.DMTP())
	c := &Client{tc: tc, r: bufio.NewReaderSize(tr.FromServer(tc), bufferSize), w: bufio.NewWriterSize(tr.ToServer(tc), bufferSize)}
	stop := context.AfterFunc(ctx, func() { tc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tc.SetDeadline(time.Now().Add(c.timeout()))
	rep, err := readReply(c.r)
	if err != nil {
		tc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("dmtp: %s greeting: %w", host, err)
	}
	if rep.code != 220 {
		tc.Close()
		return nil, rep.asError()
	}
	return c, nil
}

// refusedInClear recognises a server over its connection limits, which
// answers one "421" line in clear before TLS (spec §7), in the error of
// the handshake, and returns that reply as an *Error (nil if it is not
// one).
func refusedInClear(err error, rec *recordingConn) *Error {
	var rhe tls.RecordHeaderError
	if !errors.As(err, &rhe) || !bytes.HasPrefix(rhe.RecordHeader[:], []byte("421 ")) {
		return nil
	}
	rec.SetReadDeadline(time.Now().Add(time.Second))
	rest := io.LimitReader(rec.Conn, MaxLineLength)
	rep, rerr := readReply(bufio.NewReader(io.MultiReader(bytes.NewReader(rec.first), rest)))
	if rerr != nil || rep.code != 421 {
		return &Error{Code: 421, Enhanced: "4.7.0", Message: "refused in clear before TLS"}
	}
	return rep.asError()
}

// recordingConn keeps the first bytes read from a connection (up to a
// line's length) while the TLS handshake runs, for refusedInClear: TLS
// reads ahead of the record header it rejects.
type recordingConn struct {
	net.Conn
	first []byte
	done  bool // the handshake is over: record nothing more
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if !r.done {
		r.first = append(r.first, p[:min(n, MaxLineLength-len(r.first))]...)
	}
	return n, err
}

func (c *Client) timeout() time.Duration     { return orDefault(c.Timeout, DefaultClientTimeout) }
func (c *Client) dataTimeout() time.Duration { return orDefault(c.DataTimeout, DefaultDataTimeout) }

// ConnectionState returns the TLS state of the connection.
func (c *Client) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// MaxSize returns the largest DATA the server accepts, from its EHLO
// reply's SIZE; 0 before Hello.
func (c *Client) MaxSize() int64 { return c.maxSize }

// Extension reports whether the server's EHLO reply announced the
// keyword (such as "LOG") and returns its parameter.
func (c *Client) Extension(keyword string) (string, bool) {
	v, ok := c.ext[asciiUpper(keyword)]
	return v, ok
}

// broken records a failure after which the connection cannot continue in
// step, and closes it.
func (c *Client) broken(err error) error {
	c.err = fmt.Errorf("dmtp: connection unusable: %w", err)
	c.tc.Close()
	return c.err
}

// do sends one command and reads its reply, expecting the code want.
func (c *Client) do(cmd command, want int) (*reply, error) {
	if c.err != nil {
		return nil, c.err
	}
	c.tc.SetDeadline(time.Now().Add(c.timeout()))
	c.w.WriteString(cmd.String())
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, c.broken(fmt.Errorf("send %s: %w", cmd.verb, err))
	}
	return c.read(cmd.verb, want)
}

// read reads a reply: want returns it, 4xx and 5xx return an *Error (421
// also closes the connection), anything else is a protocol violation.
func (c *Client) read(verb string, want int) (*reply, error) {
	rep, err := readReply(c.r)
	if err != nil {
		return nil, c.broken(fmt.Errorf("%s: %w", verb, err))
	}
	switch {
	case rep.code == want:
		return rep, nil
	case rep.code == 421:
		e := rep.asError()
		c.broken(e)
		return nil, e
	case rep.code >= 400:
		return nil, rep.asError()
	default:
		return nil, c.broken(fmt.Errorf("%w: %d reply to %s, expected %d", errBadReply, rep.code, verb, want))
	}
}

// Hello sends EHLO with the client's own domain and reads the server's
// capabilities; it fails with ErrNotDMTP unless they include DMTPv1 and a
// SIZE (spec §5.1).
func (c *Client) Hello(domain string) error {
	if err := signet.CheckDomain(domain); err != nil {
		return fmt.Errorf("dmtp: EHLO: %w", err)
	}
	rep, err := c.do(command{verb: "EHLO", arg: domain}, 250)
	if err != nil {
		return err
	}
	ext := make(map[string]string, len(rep.lines))
	for _, l := range rep.lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		ext[asciiUpper(k)] = v
	}
	_, dmtp := ext[asciiUpper(Version)]
	size, err := parseSize(ext["SIZE"])
	if !dmtp || err != nil {
		c.broken(ErrNotDMTP)
		return ErrNotDMTP
	}
	c.ext, c.maxSize = ext, size
	return nil
}

// checkDomainArg refuses an address where the wire carries domains only
// (DESIGN §2).
func checkDomainArg(what, d string) error {
	if strings.Contains(d, "@") {
		return fmt.Errorf("dmtp: %s takes a domain, never an address: %.80q", what, d)
	}
	if err := signet.CheckDomain(d); err != nil {
		return fmt.Errorf("dmtp: %s: %w", what, err)
	}
	return nil
}

// Mail opens a transaction from the origin domain, naming the fingerprint
// of the origin organisation signet (zero for none).
func (c *Client) Mail(origin string, fp signet.Fingerprint) error {
	if err := checkDomainArg("MAIL FROM", origin); err != nil {
		return err
	}
	_, err := c.do(command{verb: "MAIL", arg: origin, fp: fp}, 250)
	return err
}

// Rcpt names the one destination domain of the transaction and the
// fingerprint of its organisation signet (zero for none).
func (c *Client) Rcpt(dest string, fp signet.Fingerprint) error {
	if err := checkDomainArg("RCPT TO", dest); err != nil {
		return err
	}
	_, err := c.do(command{verb: "RCPT", arg: dest, fp: fp}, 250)
	return err
}

// Data sends the message: DATA with its size, and only after the server's
// 354 exactly size bytes from r (spec §5.4). It returns nil once the server
// has replied 250, which means the message is durably stored there. If r
// yields fewer than size bytes the connection is dropped — the only way to
// make the server discard a partial body — and the Client is unusable.
func (c *Client) Data(r io.Reader, size int64) error {
	if size < 1 || size > 999_999_999_999_999_999 {
		return fmt.Errorf("dmtp: DATA size %d out of range", size)
	}
	if _, err := c.do(command{verb: "DATA", size: size}, 354); err != nil {
		return err
	}
	c.tc.SetDeadline(time.Now().Add(c.dataTimeout()))
	if n, err := io.CopyN(c.w, r, size); err != nil {
		return c.broken(fmt.Errorf("DATA: sent %d of %d bytes: %w", n, size, err))
	}
	if err := c.w.Flush(); err != nil {
		return c.broken(fmt.Errorf("DATA: %w", err))
	}
	_, err := c.read("DATA", 250)
	return err
}

// checkNameArg accepts an address or a domain as SGNT and VRFY take them.
func checkNameArg(what, name string) error {
	if strings.Contains(name, "@") {
		if err := signet.CheckAddress(name); err != nil {
			return fmt.Errorf("dmtp: %s: %w", what, err)
		}
		return nil
	}
	if err := signet.CheckDomain(name); err != nil {
		return fmt.Errorf("dmtp: %s: %w", what, err)
	}
	return nil
}

// Signet fetches the current signet of an address, the organisation
// signet of a domain, or with a non-zero fp the one with that fingerprint
// (spec §5.5). The bytes are as the server sent them: the caller parses and
// verifies them.
func (c *Client) Signet(name string, fp signet.Fingerprint) ([]byte, error) {
	if err := checkNameArg("SGNT", name); err != nil {
		return nil, err
	}
	rep, err := c.do(command{verb: "SGNT", arg: name, fp: fp}, 250)
	if err != nil {
		return nil, err
	}
	text, err := rep.text()
	if err != nil {
		return nil, c.broken(err)
	}
	return c.readFrame(text, "SIGNET", MaxSignetSize)
}

// readFrame reads the bytes announced by a `keyword SP size` header. A
// SIGNET frame is never empty.
func (c *Client) readFrame(header, keyword string, max int64) ([]byte, error) {
	n, err := parseFrameHeader(header, keyword, max)
	if err == nil && n == 0 && keyword == "SIGNET" {
		err = fmt.Errorf("%w: empty signet", errBadReply)
	}
	if err != nil {
		return nil, c.broken(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, c.broken(fmt.Errorf("read %s of %d bytes: %w", keyword, n, err))
	}
	return b, nil
}

// History fetches the chain of user signets of address from the one with
// fingerprint start (the oldest the server has, if zero) to the one with
// fingerprint stop (the current one, if zero), oldest first (spec §5.7).
// It follows the server's pages and returns the whole chain. A stop
// without a start cannot be expressed on the wire.
func (c *Client) History(address string, start, stop signet.Fingerprint) ([][]byte, error) {
	if err := signet.CheckAddress(address); err != nil {
		return nil, fmt.Errorf("dmtp: HIST: %w", err)
	}
	if start.IsZero() && !stop.IsZero() {
		return nil, errors.New("dmtp: HIST: a stop fingerprint needs a start fingerprint")
	}
	var all [][]byte
	for {
		page, more, err := c.histPage(command{verb: "HIST", arg: address, fp: start, stop: stop})
		if err != nil {
			return nil, err
		}
		if len(all) > 0 {
			// A later page starts with the signet the previous one ended
			// with (spec §5.7).
			if signet.FingerprintOf(page[0]) != start || len(page) < 2 {
				return nil, c.broken(fmt.Errorf("%w: HIST page does not continue the previous one", errBadReply))
			}
			page = page[1:]
		}
		all = append(all, page...)
		if !more {
			return all, nil
		}
		if len(all) >= maxHistoryTotal {
			return nil, fmt.Errorf("dmtp: HIST: chain longer than %d signets", maxHistoryTotal)
		}
		start = signet.FingerprintOf(all[len(all)-1])
	}
}

// histPage sends one HIST and reads its `HISTORY n[ MORE]` reply and n
// SIGNET frames.
func (c *Client) histPage(cmd command) ([][]byte, bool, error) {
	rep, err := c.do(cmd, 250)
	if err != nil {
		return nil, false, err
	}
	text, err := rep.text()
	if err != nil {
		return nil, false, c.broken(err)
	}
	text, more := strings.CutSuffix(text, " MORE")
	n, err := parseFrameHeader(text, "HISTORY", MaxHistory)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: empty HISTORY", errBadReply)
	}
	if err != nil {
		return nil, false, c.broken(err)
	}
	page := make([][]byte, 0, n)
	for range n {
		line, err := readLine(c.r)
		if err != nil {
			return nil, false, c.broken(fmt.Errorf("HIST: %w", err))
		}
		b, err := c.readFrame(line, "SIGNET", MaxSignetSize)
		if err != nil {
			return nil, false, err
		}
		page = append(page, b)
	}
	return page, more, nil
}

// Verify asks whether fp is a current signet of an address or domain
// (spec §5.6) and returns the fingerprint of the latest one. With a zero fp
// it only returns the latest, and current is false.
func (c *Client) Verify(name string, fp signet.Fingerprint) (current bool, latest signet.Fingerprint, err error) {
	if err := checkNameArg("VRFY", name); err != nil {
		return false, latest, err
	}
	rep, err := c.do(command{verb: "VRFY", arg: name, fp: fp}, 250)
	if err != nil {
		return false, latest, err
	}
	text, err := rep.text()
	if err != nil {
		return false, latest, c.broken(err)
	}
	word, s, _ := strings.Cut(text, " ")
	latest, err = parseFP(s)
	if err != nil || (word != "CURRENT" && word != "UPDATE") || (word == "CURRENT" && fp.IsZero()) {
		return false, signet.Fingerprint{}, c.broken(fmt.Errorf("%w: VRFY reply %.80q", errBadReply, text))
	}
	return word == "CURRENT", latest, nil
}

// Log sends LOG with args, the command reserved for the transparency log
// (spec §5.9), and returns the reply's payload. Servers without it answer
// 502.
func (c *Client) Log(args string) ([]byte, error) {
	cmd := command{verb: "LOG", arg: args}
	if _, err := parseCommand(cmd.String()); err != nil {
		// Not wrapped: an *Error would read as the server's reply.
		return nil, fmt.Errorf("dmtp: LOG arguments %.80q: %s", args, err.(*Error).Message)
	}
	rep, err := c.do(cmd, 250)
	if err != nil {
		return nil, err
	}
	text, err := rep.text()
	if err != nil {
		return nil, c.broken(err)
	}
	return c.readFrame(text, "LOG", MaxLogSize)
}

// Noop sends NOOP: a keep-alive and a check that the server is in step.
func (c *Client) Noop() error {
	_, err := c.do(command{verb: "NOOP"}, 250)
	return err
}

// Reset sends RSET, abandoning the current transaction.
func (c *Client) Reset() error {
	_, err := c.do(command{verb: "RSET"}, 250)
	return err
}

// Quit sends QUIT, reads the server's 221 and closes the connection.
func (c *Client) Quit() error {
	_, err := c.do(command{verb: "QUIT"}, 221)
	c.Close()
	return err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	if c.err == nil {
		c.err = errors.New("dmtp: connection closed")
	}
	return c.tc.Close()
}
