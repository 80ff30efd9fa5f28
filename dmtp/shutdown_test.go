package dmtp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"umbra/signet"
)

// gatedBackend's Data reads the whole body, says so on started, then
// waits for release before it stores the message.
func gatedBackend() (b *testBackend, started, release chan struct{}) {
	b = newTestBackend()
	started, release = make(chan struct{}), make(chan struct{})
	b.data = func(r io.Reader, size int64) error {
		body, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		close(started)
		<-release
		b.mu.Lock()
		b.messages = append(b.messages, message{body: body})
		b.mu.Unlock()
		return nil
	}
	return b, started, release
}

func serveOn(t *testing.T, b Backend) (*Server, string, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Backend:   b,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert(t)}},
		Hostname:  testHost,
		Logger:    slog.New(slog.DiscardHandler),
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	return s, ln.Addr().String(), served
}

// startData opens a transaction and sends a DATA whose result arrives on
// the returned channel.
func startData(t *testing.T, addr, body string) (*Client, chan error) {
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a.test", signet.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b.test", signet.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() { result <- c.Data(strings.NewReader(body), int64(len(body))) }()
	return c, result
}

// TestShutdownDrainsData: Shutdown refuses new connections, closes idle
// ones with 421, and waits for a DATA in flight, which completes with 250.
func TestShutdownDrainsData(t *testing.T) {
	t.Parallel()
	b, started, release := gatedBackend()
	s, addr, served := serveOn(t, b)

	idle := dialRaw(t, addr)
	idle.cmd("EHLO a.test", 250, "")
	busy, result := startData(t, addr, "message in flight")
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	// The listener is closed: new connections are refused.
	if c, err := Dial(t.Context(), addr, clientConfig(t)); err == nil {
		c.Close()
		t.Fatal("new connection accepted during shutdown")
	}
	idle.expectReply(421, "4.3.2")
	idle.expectClosed()

	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a DATA was in flight", err)
	default:
	}
	close(release)
	if err := <-result; err != nil {
		t.Fatalf("DATA in flight during shutdown: %v, want 250", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := b.stored(); len(got) != 1 || string(got[0].body) != "message in flight" {
		t.Fatalf("stored %v", got)
	}
	// The connection was closed after the DATA's reply.
	var e *Error
	if err := busy.Noop(); errors.As(err, &e) && e.Code != 421 || err == nil {
		t.Fatalf("NOOP after shutdown: %v, want 421 or a closed connection", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed != b.sessions {
		t.Errorf("%d sessions, %d closed", b.sessions, b.closed)
	}
}

// TestShutdownDeadline: when ctx ends first, Shutdown closes what is left
// and reports ctx's error.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	b, started, release := gatedBackend()
	s, addr, served := serveOn(t, b)
	_, result := startData(t, addr, "stuck")
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if err := <-result; err == nil {
		t.Fatal("DATA reported success on a connection closed by Shutdown")
	}
	close(release)
}
