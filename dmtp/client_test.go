package dmtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"

	"umbra/signet"
)

const fakeEHLO = "250-fake.test hello a.test\r\n250-DMTPv1\r\n250 SIZE 100\r\n"

// hangUp at the end of a scripted answer makes the fake server close the
// connection after sending the rest.
const hangUp = "\x00hang up"

// fakeServer accepts one connection, greets it, answers EHLO with
// fakeEHLO and every other command line with script's bytes for it; an
// answer ending in hangUp closes the connection after it is sent. It plays
// a broken or hostile server.
func fakeServer(t *testing.T, script func(line string) string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert(t)},
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{ALPN},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "220 fake.test DMTPv1 ready\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := readLine(r)
			if err != nil {
				return
			}
			out := fakeEHLO
			if !strings.HasPrefix(line, "EHLO ") {
				out = script(line)
			}
			out, hang := strings.CutSuffix(out, hangUp)
			if _, err := io.WriteString(c, out); err != nil || hang {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// TestClientRejectsBadServers: a server that breaks the framing cannot
// make the client return wrong data or read out of step: the client fails
// and refuses further use.
func TestClientRejectsBadServers(t *testing.T) {
	t.Parallel()
	one := fp([]byte("x"))
	zero := signet.Fingerprint{}
	for _, tc := range []struct {
		name   string
		script func(line string) string
		call   func(c *Client) error
	}{
		{"oversize signet", func(string) string { return "250 SIGNET 70000\r\n" },
			func(c *Client) error { _, err := c.Signet("b.test", zero); return err }},
		{"empty signet", func(string) string { return "250 SIGNET 0\r\n" },
			func(c *Client) error { _, err := c.Signet("b.test", zero); return err }},
		{"multi-line SIGNET", func(string) string { return "250-SIGNET 1\r\n250 SIGNET 1\r\nx" },
			func(c *Client) error { _, err := c.Signet("b.test", zero); return err }},
		{"signet cut short", func(string) string { return "250 SIGNET 10\r\nabc" + hangUp },
			func(c *Client) error { _, err := c.Signet("b.test", zero); return err }},
		{"history frame not SIGNET", func(string) string { return "250 HISTORY 1\r\nLOG 1\r\nx" },
			func(c *Client) error { _, err := c.History("a@b.test", zero, zero); return err }},
		{"history over MaxHistory", func(string) string { return "250 HISTORY 65\r\n" },
			func(c *Client) error { _, err := c.History("a@b.test", zero, zero); return err }},
		{"history page without progress", func(string) string { return "250 HISTORY 1 MORE\r\nSIGNET 1\r\nx" },
			func(c *Client) error { _, err := c.History("a@b.test", zero, zero); return err }},
		{"VRFY without fingerprint", func(string) string { return "250 CURRENT\r\n" },
			func(c *Client) error { _, _, err := c.Verify("b.test", one); return err }},
		{"VRFY CURRENT without asking", func(string) string { return "250 CURRENT " + one.String() + "\r\n" },
			func(c *Client) error { _, _, err := c.Verify("b.test", zero); return err }},
		{"VRFY unknown word", func(string) string { return "250 MAYBE " + one.String() + "\r\n" },
			func(c *Client) error { _, _, err := c.Verify("b.test", one); return err }},
		{"250 instead of 354", func(string) string { return "250 2.0.0 OK\r\n" },
			func(c *Client) error { return c.Data(strings.NewReader("x"), 1) }},
		{"3xx to NOOP", func(string) string { return "354 go on\r\n" },
			func(c *Client) error { return c.Noop() }},
		{"garbage reply", func(string) string { return "hello there\r\n" },
			func(c *Client) error { return c.Noop() }},
		{"421", func(string) string { return "421 4.3.2 going away\r\n" },
			func(c *Client) error { return c.Noop() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := fakeServer(t, tc.script)
			c := dial(t, addr)
			if err := c.Hello("a.test"); err != nil {
				t.Fatal(err)
			}
			if err := tc.call(c); err == nil {
				t.Fatal("accepted")
			}
			if err := c.Noop(); err == nil {
				t.Fatal("client still usable")
			}
		})
	}
}

// TestClientHistoryContinuation: a later page must start with the signet
// the previous one ended with.
func TestClientHistoryContinuation(t *testing.T) {
	t.Parallel()
	page := 0
	addr := fakeServer(t, func(line string) string {
		page++
		if page == 1 {
			return "250 HISTORY 2 MORE\r\nSIGNET 1\r\naSIGNET 1\r\nb"
		}
		return "250 HISTORY 2\r\nSIGNET 1\r\nxSIGNET 1\r\nc" // should start with b
	})
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.History("a@b.test", signet.Fingerprint{}, signet.Fingerprint{}); !errors.Is(err, errBadReply) {
		t.Fatalf("History = %v, want a malformed-reply error", err)
	}
}

func TestClientNotDMTP(t *testing.T) {
	t.Parallel()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert(t)}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "220 smtp.test ESMTP\r\n")
		readLine(bufio.NewReader(c))
		io.WriteString(c, "250-smtp.test\r\n250 SIZE 100\r\n")
		io.Copy(io.Discard, c)
	}()
	c := dial(t, ln.Addr().String())
	if err := c.Hello("a.test"); !errors.Is(err, ErrNotDMTP) {
		t.Fatalf("Hello = %v, want ErrNotDMTP", err)
	}
}

// TestDialCanceled: a server that never greets does not hold Dial past its
// context.
func TestDialCanceled(t *testing.T) {
	t.Parallel()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert(t)}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Complete the handshake, then cancel instead of greeting.
		c.(*tls.Conn).Handshake()
		cancel()
		io.Copy(io.Discard, c)
	}()
	if _, err := Dial(ctx, ln.Addr().String(), clientConfig(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial = %v, want context.Canceled", err)
	}
}

// TestBackendBugs: impossible answers from a backend become 451, never
// malformed frames.
func TestBackendBugs(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.signets["void@b.test"] = [][]byte{{}}
	_, addr := startServer(t, b)
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if _, err := c.Signet("void@b.test", signet.Fingerprint{}); !errors.As(err, &e) || e.Code != 451 {
		t.Errorf("empty signet: %v, want 451", err)
	}
	if _, err := c.History("void@b.test", signet.Fingerprint{}, signet.Fingerprint{}); !errors.As(err, &e) || e.Code != 451 {
		t.Errorf("empty signet in a history: %v, want 451", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
}
