package imapd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawConn speaks IMAP as text, for what imapclient will not send or
// would hide.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := &rawConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if greeting := r.line(); !strings.HasPrefix(greeting, "* OK") {
		t.Fatalf("greeting %q", greeting)
	}
	return r
}

func (r *rawConn) line() string {
	r.t.Helper()
	l, err := r.r.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends one command line and returns the responses up to and
// including the tagged one.
func (r *rawConn) cmd(line string) []string {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	if _, err := fmt.Fprintf(r.conn, "%s %s\r\n", tag, line); err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}
