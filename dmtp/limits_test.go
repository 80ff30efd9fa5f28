package dmtp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"umbra/connguard"
	"umbra/ratelimit"
	"umbra/signet"
)

// TestHandshakeTimeout: a TCP connection that never starts TLS is closed
// after HandshakeTimeout, not after the command timeout (spec §7).
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend(), func(s *Server) { s.HandshakeTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(start.Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on an idle connection: %v, want the server to close it", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", took)
	}
}

// TestDataTooSlow: a body that trickles below the minimum rate is
// answered 421 4.4.2 once the grace period is over, and the session sees
// its reader fail with connguard.ErrTooSlow; nothing is stored.
func TestDataTooSlow(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.dataSeen = make(chan error, 1)
	_, addr := startServer(t, b, func(s *Server) {
		s.MinDataRate = connguard.MinRate{BytesPerSec: 1000, Grace: 300 * time.Millisecond}
	})
	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	r.cmd("MAIL FROM:<a.test>", 250, "")
	r.cmd("RCPT TO:<b.test>", 250, "")
	r.cmd("DATA 100000", 354, "")
	start := time.Now()
	done := make(chan struct{})
	go func() {
		// 100 bytes/s: a tenth of the minimum.
		defer close(done)
		for range 50 {
			if _, err := io.WriteString(r.c, "x"); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	rep := r.expectReply(421, "4.4.2")
	took := time.Since(start)
	if !strings.Contains(rep.lines[0], "1000 bytes/s") {
		t.Errorf("421 text %q does not say the rate", rep.lines[0])
	}
	if took > 3*time.Second {
		t.Errorf("too slow a body cut after %v, want under a second", took)
	}
	if err := <-b.dataSeen; !errors.Is(err, connguard.ErrTooSlow) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Data saw %v, want ErrTooSlow and io.ErrUnexpectedEOF", err)
	}
	r.expectClosed()
	<-done
	if n := len(b.stored()); n != 0 {
		t.Fatalf("%d messages stored from a slow body", n)
	}
}

// TestDataFastEnough: a body at the minimum rate passes, however long it
// takes within DataTimeout.
func TestDataFastEnough(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	_, addr := startServer(t, b, func(s *Server) {
		s.MinDataRate = connguard.MinRate{BytesPerSec: 1000, Grace: 100 * time.Millisecond}
	})
	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	r.cmd("MAIL FROM:<a.test>", 250, "")
	r.cmd("RCPT TO:<b.test>", 250, "")
	r.cmd("DATA 1000", 354, "")
	for range 20 { // 50 bytes every 20 ms: 2500 bytes/s
		r.write(strings.Repeat("y", 50))
		time.Sleep(20 * time.Millisecond)
	}
	r.expectReply(250, "2.0.0")
	if m := b.stored(); len(m) != 1 || len(m[0].body) != 1000 {
		t.Fatalf("stored %d messages", len(m))
	}
}

// TestData421NotSkipped: a session that refuses with 421 mid-body (the
// provider's in-flight budget) gets its 421 sent at once and the
// connection closed after a short linger, instead of the server waiting
// for the rest of a body that may be 64 MiB.
func TestData421NotSkipped(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.data = func(r io.Reader, size int64) error {
		if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
			return err
		}
		return &Error{Code: 421, Enhanced: "4.3.2", Message: "busy"}
	}
	_, addr := startServer(t, b)
	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	r.cmd("MAIL FROM:<a.test>", 250, "")
	r.cmd("RCPT TO:<b.test>", 250, "")
	r.cmd("DATA 1000000", 354, "")
	r.write(strings.Repeat("z", 10))
	r.expectReply(421, "4.3.2")
	start := time.Now()
	r.expectClosed()
	if took := time.Since(start); took > lingerTimeout+time.Second {
		t.Fatalf("closed %v after the 421, want within the %v linger", took, lingerTimeout)
	}
}

// TestClientReadsRefusalInClear: a listener over its limits answers one
// 421 line before TLS (connguard); Dial returns it as the *Error it is,
// a temporary refusal with its reason.
func TestClientReadsRefusalInClear(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "421 4.7.0 b.test too many connections from your address, try again later\r\n")
		c.Close()
	}()
	_, err = Dial(t.Context(), ln.Addr().String(), clientConfig(t))
	var e *Error
	if !errors.As(err, &e) || e.Code != 421 || e.Enhanced != "4.7.0" || !strings.Contains(e.Message, "from your address") {
		t.Fatalf("Dial: %v, want the 421 4.7.0 reply", err)
	}
}

// TestLookupLimits: one client address may ask MissLimit.Burst names the
// server does not have, then every look-up is refused with 450 4.7.1 —
// on another connection too — so accounts cannot be enumerated at speed;
// and LookupLimit bounds look-ups of any kind. Other commands go on.
func TestLookupLimits(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.signets["bob@b.test"] = [][]byte{[]byte("signet of bob")}
	_, addr := startServer(t, b, func(s *Server) {
		s.MissLimit = ratelimit.Limit{Burst: 3, Every: time.Hour}
		s.LookupLimit = ratelimit.Limit{Burst: 8, Every: time.Hour}
	})
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	wantCode := func(err error, code int) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			t.Fatalf("got %v, want %d", err, code)
		}
	}
	for i := range 3 {
		_, err := c.Signet(fmt.Sprintf("nobody%d@b.test", i), signet.Fingerprint{})
		wantCode(err, 550)
	}
	_, err := c.Signet("bob@b.test", signet.Fingerprint{})
	wantCode(err, 450)
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP after the limit: %v", err)
	}
	c2 := dial(t, addr)
	c2.Hello("a.test")
	_, err = c2.Signet("bob@b.test", signet.Fingerprint{})
	wantCode(err, 450)

	// Known names only: LookupLimit.
	_, addr = startServer(t, b, func(s *Server) {
		s.LookupLimit = ratelimit.Limit{Burst: 5, Every: time.Hour}
	})
	c = dial(t, addr)
	c.Hello("a.test")
	for range 5 {
		if _, err := c.Signet("bob@b.test", signet.Fingerprint{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Signet("bob@b.test", signet.Fingerprint{})
	wantCode(err, 450)
}
