package bridge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"umbra/ratelimit"
)

// TestSubmissionGuessingCapped: over real SMTP on 127.0.0.1, wrong
// passwords are answered 535 ever more slowly, and past the cap every
// AUTH is refused with 454 before the password is checked — the right one
// too, until the cap refills (issue 11: the bridge's password guessing
// was limited only by a fixed delay per connection).
func TestSubmissionGuessingCapped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := ratelimit.NewGuard(ratelimit.Limit{Burst: 5, Every: time.Hour}, nil)
	g.MinDelay, g.MaxDelay = time.Millisecond, 8*time.Millisecond
	b := &Bridge{address: "alice@a.test", guard: g, ctx: ctx,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pw := "right-password"
	b.password.Store(&pw)
	addr := serveSubmission(t, b)

	auth := func(password string) error {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// net/smtp sends PLAIN only over TLS or to a loopback host: this
		// is the latter.
		return c.Auth(smtp.PlainAuth("", "alice@a.test", password, "127.0.0.1"))
	}
	if err := auth("right-password"); err != nil {
		t.Fatalf("the right password: %v", err)
	}
	for i := range 5 {
		if err := auth("guess"); err == nil || !hasCode(err, "535") {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	for _, pw := range []string{"guess", "right-password"} {
		if err := auth(pw); err == nil || !hasCode(err, "454") {
			t.Fatalf("past the cap, %q: %v", pw, err)
		}
	}
}

// serveSubmission serves b's SMTP submission, without TLS, on 127.0.0.1
// until the test ends, and returns its address.
func serveSubmission(t *testing.T, b *Bridge) string {
	t.Helper()
	s := newSubmission(b, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return ln.Addr().String()
}

func hasCode(err error, code string) bool { return strings.HasPrefix(err.Error(), code+" ") }
