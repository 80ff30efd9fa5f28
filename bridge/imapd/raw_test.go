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

// TestHostileCommands sends commands a broken or hostile client might:
// each gets a tagged answer and the connection stays usable.
func TestHostileCommands(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	msg := "Subject: x\r\n\r\nhello\r\n"
	r.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg))
	r.cmd("SELECT INBOX")
	long := strings.Repeat("x", 3000)
	for _, c := range []string{
		"FETCH 1:* (BODY[]<1.9223372036854775807> BINARY[]<5.9223372036854775807>)",
		"FETCH 1 (BODY[1.2.3.4.5.6.7.8.9.10] BODY[HEADER.FIELDS.NOT (Subject)] BINARY[9] BINARY.SIZE[3])",
		"UID FETCH 4294967295:* (FLAGS)",
		"FETCH 1:4294967295 (UID)",
		"STORE 1 +FLAGS (\\Bogus)",
		"STORE 1 FLAGS (" + strings.Repeat("k ", 100) + ")",
		"SEARCH TEXT \"" + long + "\"",
		"SEARCH CHARSET UTF-8 SUBJECT \"\xc3\"",
		"SEARCH OR NOT 1 2 HEADER X-Foo \"\" SENTON 1-Jan-2024 LARGER 0",
		"SEARCH UID $",
		"COPY 1 INBOX",
		"MOVE 1 INBOX",
		"COPY 1 \"\"",
		"CREATE \"a//b\"",
		"CREATE \"" + long + "\"",
		"RENAME INBOX INBOX",
		"RENAME INBOX \"\"",
		"DELETE \"\"",
		"STATUS \"\" (MESSAGES)",
		"UNSUBSCRIBE \"never existed\"",
		"APPEND INBOX {0+}\r\n",
		"APPEND Nowhere (\\Seen) {3+}\r\nabc",
		"UID EXPUNGE 1:*",
		"EXPUNGE",
		"IDLE\r\nDONE",
		"SELECT \"\"",
	} {
		lines := r.cmd(c)
		t.Logf("%.60q -> %q", c, lines)
		last := lines[len(lines)-1]
		if !strings.Contains(last, " OK ") && !strings.Contains(last, " NO ") && !strings.Contains(last, " BAD ") {
			t.Errorf("%.60q: %q", c, lines)
		}
		if strings.Contains(last, "SERVERBUG") {
			t.Errorf("%.60q: server error %q", c, last)
		}
	}
	if lines := r.cmd("NOOP"); !strings.Contains(lines[len(lines)-1], "OK") {
		t.Errorf("NOOP after all that: %q", lines)
	}
}
