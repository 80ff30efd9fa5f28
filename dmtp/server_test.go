package dmtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"umbra/signet"
)

// binaryBody is a message that a line-based or dot-stuffing reader would
// mangle: every byte value, bare CR and LF, NUL, the SMTP end-of-data
// sequence and things that look like commands and replies.
func binaryBody() []byte {
	var b bytes.Buffer
	for i := range 256 {
		b.WriteByte(byte(i))
	}
	b.WriteString("\r\n.\r\n\x00\r\rQUIT\r\n250 2.0.0 OK\r\n\n.\n\r\n.\r\nDATA 5\r\n")
	b.Write(bytes.Repeat([]byte{0, '\r', '\n', '.'}, 1000))
	return b.Bytes()
}

func TestSession(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	var helloDomain string
	b.hello = func(d string) error { helloDomain = d; return nil }
	_, addr := startServer(t, b)
	c := dial(t, addr)

	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	if helloDomain != "a.test" {
		t.Errorf("backend saw EHLO %q", helloDomain)
	}
	if c.MaxSize() != 1<<20 {
		t.Errorf("MaxSize = %d, want %d", c.MaxSize(), 1<<20)
	}
	if _, ok := c.Extension("dmtpv1"); !ok {
		t.Error("EHLO reply lacks DMTPv1")
	}
	if _, ok := c.Extension("LOG"); ok {
		t.Error("EHLO announces LOG without a LogSession")
	}
	if got := c.ConnectionState().NegotiatedProtocol; got != ALPN {
		t.Errorf("ALPN = %q, want %q", got, ALPN)
	}

	originFP, destFP := fp([]byte("org a")), fp([]byte("org b"))
	bodies := [][]byte{binaryBody(), []byte("x"), bytes.Repeat([]byte("\r\n.\r\n"), 50000)}
	for i, body := range bodies {
		var ofp, dfp signet.Fingerprint
		if i == 0 {
			ofp, dfp = originFP, destFP
		}
		if err := c.Mail("a.test", ofp); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("b.test", dfp); err != nil {
			t.Fatal(err)
		}
		if err := c.Data(bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	got := b.stored()
	if len(got) != len(bodies) {
		t.Fatalf("backend stored %d messages, want %d", len(got), len(bodies))
	}
	for i, m := range got {
		if !bytes.Equal(m.body, bodies[i]) {
			t.Errorf("message %d: backend received %d bytes differing from the %d sent", i, len(m.body), len(bodies[i]))
		}
		if m.origin != "a.test" || m.dest != "b.test" {
			t.Errorf("message %d: origin %q dest %q", i, m.origin, m.dest)
		}
	}
	if got[0].originFP != originFP || got[0].destFP != destFP || !got[1].originFP.IsZero() {
		t.Error("fingerprints did not reach the backend as sent")
	}
}

// TestDataTooLargeNotRead: after 552 the server reads what follows as
// commands, so a client that sent the body anyway gets only errors.
func TestDataTooLargeNotRead(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	_, addr := startServer(t, b, func(s *Server) { s.MaxMessageSize = 10 })
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	if c.MaxSize() != 10 {
		t.Fatalf("SIZE = %d, want 10", c.MaxSize())
	}
	c.Mail("a.test", signet.Fingerprint{})
	c.Rcpt("b.test", signet.Fingerprint{})
	body := strings.NewReader("NOOP\r\nNOOP\r\n")
	var e *Error
	if err := c.Data(body, 12); !errors.As(err, &e) || e.Code != 552 || e.Enhanced != "5.3.4" || e.Temporary() {
		t.Fatalf("Data over SIZE: %v, want 552 5.3.4", err)
	}
	if body.Len() != 12 {
		t.Errorf("client sent %d body bytes after 552", 12-body.Len())
	}
	// The transaction is over and the connection still in step.
	if err := c.Mail("a.test", signet.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b.test", signet.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Data(strings.NewReader("0123456789"), 10); err != nil {
		t.Fatalf("Data at exactly SIZE: %v", err)
	}
	if got := b.stored(); len(got) != 1 || string(got[0].body) != "0123456789" {
		t.Errorf("stored %d messages", len(got))
	}
}

// TestDropMidData: a connection lost in the middle of a body gives the
// backend's Data an io.ErrUnexpectedEOF, and nothing is stored.
func TestDropMidData(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.dataSeen = make(chan error, 1)
	_, addr := startServer(t, b)
	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	r.cmd("MAIL FROM:<a.test>", 250, "")
	r.cmd("RCPT TO:<b.test>", 250, "")
	r.cmd("DATA 1000", 354, "")
	r.write(strings.Repeat("x", 500))
	r.c.Close()
	if err := <-b.dataSeen; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Data saw %v, want io.ErrUnexpectedEOF", err)
	}
	if n := len(b.stored()); n != 0 {
		t.Fatalf("%d messages stored from a cut body", n)
	}
}

// TestClientShortSource: when the message source gives fewer bytes than
// announced, the client drops the connection, and the server stores
// nothing.
func TestClientShortSource(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.dataSeen = make(chan error, 1)
	_, addr := startServer(t, b)
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	c.Mail("a.test", signet.Fingerprint{})
	c.Rcpt("b.test", signet.Fingerprint{})
	if err := c.Data(strings.NewReader("short"), 100); err == nil {
		t.Fatal("Data with a short source succeeded")
	}
	if err := c.Noop(); err == nil {
		t.Fatal("client still usable after an aborted DATA")
	}
	if err := <-b.dataSeen; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Data saw %v, want io.ErrUnexpectedEOF", err)
	}
	if n := len(b.stored()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

// TestBackendErrors: an *Error from the backend is the reply, exactly; any
// other error is a 451 that does not leak its text.
func TestBackendErrors(t *testing.T) {
	t.Parallel()
	policy := &Error{Code: 550, Enhanced: "5.7.1", Message: "origin a.test is not welcome"}
	busy := &Error{Code: 452, Enhanced: "4.3.1", Message: "storage full, try later"}
	secret := errors.New("open /var/lib/umbra/secret.db: disk I/O error")
	b := newTestBackend()
	b.mail = func(origin string) error {
		switch origin {
		case "policy.test":
			return policy
		case "wrapped.test":
			return fmt.Errorf("context: %w", policy)
		case "secret.test":
			return secret
		case "invalid.test":
			return &Error{Code: 250, Message: "not an error code"}
		case "newline.test":
			return &Error{Code: 550, Enhanced: "5.7.1", Message: "two\r\nlines"}
		}
		return nil
	}
	b.data = func(r io.Reader, size int64) error {
		head := make([]byte, 4)
		if _, err := io.ReadFull(r, head); err != nil {
			return err
		}
		switch string(head) {
		case "full": // refuses after reading part of the body
			return busy
		case "fail":
			return secret
		case "lazy": // claims success without reading the rest
			return nil
		}
		_, err := io.Copy(io.Discard, r)
		return err
	}
	_, addr := startServer(t, b)

	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	rep := r.cmd("MAIL FROM:<policy.test>", 550, "5.7.1")
	if rep.lines[0] != "5.7.1 origin a.test is not welcome" {
		t.Errorf("reply text %q", rep.lines[0])
	}
	r.cmd("MAIL FROM:<wrapped.test>", 550, "5.7.1")
	for _, origin := range []string{"secret.test", "invalid.test", "newline.test"} {
		rep = r.cmd("MAIL FROM:<"+origin+">", 451, "4.3.0")
		if strings.Contains(rep.lines[0], "secret") || strings.Contains(rep.lines[0], "lines") {
			t.Errorf("451 reply leaks the backend's error: %q", rep.lines[0])
		}
	}

	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := c.Mail("policy.test", signet.Fingerprint{}); !errors.As(err, &e) || *e != *policy {
		t.Errorf("client got %#v, want %#v", e, policy)
	}
	for _, tc := range []struct {
		body     string
		code     int
		enhanced string
	}{
		{"full of bytes the server must skip", 452, "4.3.1"},
		{"fail", 451, "4.3.0"},
		{"lazy but the server notices", 451, "4.3.0"},
		{"good", 0, ""},
	} {
		if err := c.Mail("a.test", signet.Fingerprint{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("b.test", signet.Fingerprint{}); err != nil {
			t.Fatal(err)
		}
		err := c.Data(strings.NewReader(tc.body), int64(len(tc.body)))
		if tc.code == 0 {
			if err != nil {
				t.Errorf("Data(%q): %v", tc.body, err)
			}
			continue
		}
		if !errors.As(err, &e) || e.Code != tc.code || e.Enhanced != tc.enhanced || !e.Temporary() {
			t.Errorf("Data(%q): %v, want %d %s", tc.body, err, tc.code, tc.enhanced)
		}
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("connection out of step after refused bodies: %v", err)
	}
}

// TestHelloRefused: a backend refusing EHLO leaves the connection
// un-greeted.
func TestHelloRefused(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.hello = func(d string) error {
		if d == "bad.test" {
			return &Error{Code: 550, Enhanced: "5.7.1", Message: "go away"}
		}
		return nil
	}
	_, addr := startServer(t, b)
	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	r.cmd("EHLO bad.test", 550, "5.7.1")
	r.cmd("MAIL FROM:<a.test>", 503, "5.5.1")
	r.cmd("EHLO a.test", 250, "")
	r.cmd("MAIL FROM:<a.test>", 250, "")
	// A repeated EHLO ends the transaction.
	r.cmd("EHLO a.test", 250, "")
	r.cmd("RCPT TO:<b.test>", 503, "5.5.1")
	r.cmd("HELP", 214, "2.0.0")
	r.cmd("QUIT", 221, "2.0.0")
	r.expectClosed()
}

// TestNewSessionRefused: the backend refuses the connection itself.
func TestNewSessionRefused(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.newSession = func(ConnInfo) error { return errors.New("database down") }
	_, addr := startServer(t, b)
	_, err := Dial(t.Context(), addr, clientConfig(t))
	var e *Error
	if !errors.As(err, &e) || e.Code != 421 || e.Enhanced != "4.3.0" || strings.Contains(e.Message, "database") {
		t.Fatalf("Dial: %v, want 421 4.3.0 without the backend's text", err)
	}
}

func TestLog(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.logFunc = func(args string) ([]byte, error) {
		if args == "" {
			return nil, &Error{Code: 501, Enhanced: "5.5.4", Message: "LOG needs arguments"}
		}
		return []byte("checkpoint\x00\r\n" + args), nil
	}
	_, addr := startServer(t, b)
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Extension("LOG"); !ok {
		t.Error("EHLO does not announce LOG")
	}
	got, err := c.Log("checkpoint b.test")
	if err != nil || string(got) != "checkpoint\x00\r\ncheckpoint b.test" {
		t.Fatalf("Log = %q, %v", got, err)
	}
	var e *Error
	if _, err := c.Log(""); !errors.As(err, &e) || e.Code != 501 {
		t.Fatalf("Log with no arguments: %v", err)
	}
	if _, err := c.Log("bad\r\nNOOP"); err == nil || errors.As(err, &e) {
		t.Fatalf("Log with CRLF in the arguments: %v, want a local error", err)
	}
}

// TestClientRefusesBadArguments: the client never puts an account name or
// malformed name on the wire.
func TestClientRefusesBadArguments(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	_, addr := startServer(t, b)
	c := dial(t, addr)
	if err := c.Hello("A.TEST"); err == nil {
		t.Error("Hello accepted an upper-case domain")
	}
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	zero := signet.Fingerprint{}
	var e *Error
	for _, err := range []error{
		c.Mail("alice@a.test", zero),
		c.Rcpt("bob@b.test", zero),
		c.Rcpt("b.test\r\nRSET", zero),
		c.Data(strings.NewReader(""), 0),
	} {
		if err == nil || errors.As(err, &e) {
			t.Errorf("got %v, want a local error", err)
		}
	}
	if _, err := c.Signet("not a name", zero); err == nil {
		t.Error("Signet accepted a name with spaces")
	}
	if _, err := c.History("b.test", zero, zero); err == nil {
		t.Error("History accepted a domain")
	}
	if _, err := c.History("a@b.test", zero, fp([]byte("x"))); err == nil {
		t.Error("History accepted a stop without a start")
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend(), func(s *Server) { s.MaxConns = 1 })
	c := dial(t, addr)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if c2, err := Dial(t.Context(), addr, clientConfig(t)); err == nil {
		c2.Close()
		t.Fatal("second connection accepted over MaxConns=1")
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("first connection hurt by the refused one: %v", err)
	}
}

// TestReadTimeout: an idle connection is closed with 421 4.4.2.
func TestReadTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend(), func(s *Server) { s.ReadTimeout = 300 * time.Millisecond })
	r := dialRaw(t, addr)
	r.expectReply(421, "4.4.2")
	r.expectClosed()
}
