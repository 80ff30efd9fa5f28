package mx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzHeader runs what the MX reads of a stranger's header (the From
// domain for DMARC, the end of the header, the removal of forged
// Authentication-Results) over arbitrary input: no panic, nothing added,
// and a field with our authserv-id never survives.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		plainMsg,
		"From: a@b.example\r\n\r\nbody",
		"From: \"x, y\" <a@B.Example.>\r\nFrom: c@d\r\n\r\n",
		"Authentication-Results: b.test\r\n\tspf=pass\r\nX: y\r\n\r\n",
		"Authentication-Results:\r\n b.test; dkim=pass\r\n\r\n",
		"Authentication-Results: ;\r\n\r\n",
		"From: <@>\n\nbody",
		" folded first\r\nFrom: x@y\r\n\r\n",
		"no header at all",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		end := headerEnd(msg)
		if end < 0 {
			end = len(msg)
		}
		header := msg[:end]
		if d := fromDomain(header); strings.ContainsAny(d, "\r\n") {
			t.Fatalf("From domain %q spans lines", d)
		}
		var b bytes.Buffer
		dropOwnResults(&b, header, "b.test")
		if b.Len() > len(header) {
			t.Fatalf("dropOwnResults grew the header from %d to %d bytes", len(header), b.Len())
		}
		for _, fl := range fields(b.Bytes()) {
			if strings.EqualFold(fl.name, "Authentication-Results") {
				id, _, _ := strings.Cut(fl.value, ";")
				if f := strings.Fields(id); len(f) > 0 && strings.EqualFold(f[0], "b.test") {
					t.Fatalf("a result claiming b.test survived:\n%q", b.Bytes())
				}
			}
		}
	})
}

// FuzzSession feeds a stranger's bytes to a whole MX session over an
// in-memory connection: go-smtp's command parser, the session's limits
// and the backend calls. Whatever arrives, the server answers and ends
// the session without panicking, and delivers nothing it should not.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob@b.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"HELO x\r\nMAIL FROM:<> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<BOB@b.test>\r\nRCPT TO:<bob@b.test>\r\nDATA\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<jürgen@bücher.test> SMTPUTF8\r\nRCPT TO:<bob@b.test>\r\nBDAT 5 LAST\r\nhello",
		"EHLO x\r\nSTARTTLS\r\nRSET\r\nNOOP\r\nVRFY bob\r\nHELP\r\nQUIT\r\n",
		"\x00\xff garbage\r\nMAIL\r\nRCPT\r\nDATA\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<nobody@b.test>\r\nRCPT TO:<x@other.test>\r\nDATA\r\n",
	} {
		f.Add([]byte(s))
	}
	be := &memBackend{users: map[string]bool{"bob@b.test": true}}
	srv, err := New(Config{Hostname: "mx.b.test", AuthServID: "b.test", Backend: be,
		ReadTimeout: time.Second, DataTimeout: time.Second, Resolver: &net.Resolver{PreferGo: true,
			Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, errors.New("no DNS in the fuzzer")
			}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		ln := &oneConn{c: server, done: make(chan struct{})}
		served := make(chan struct{})
		go func() { srv.smtp.Serve(ln); close(served) }()
		go func() {
			client.SetDeadline(time.Now().Add(2 * time.Second))
			client.Write(in)
			client.Close()
		}()
		go io.Copy(io.Discard, client)
		<-ln.done // the session ended
		ln.Close()
		<-served
	})
}

// oneConn is a listener that hands out one connection, then reports when
// that connection is closed.
type oneConn struct {
	c    net.Conn
	once sync.Once
	done chan struct{}
	used bool
	mu   sync.Mutex
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used {
		<-l.done
		return nil, net.ErrClosed
	}
	l.used = true
	return &closeNotify{Conn: l.c, l: l}, nil
}

func (l *oneConn) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConn) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

type closeNotify struct {
	net.Conn
	l *oneConn
}

func (c *closeNotify) Close() error {
	err := c.Conn.Close()
	c.l.Close()
	return err
}

func (c *closeNotify) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2525}
}
