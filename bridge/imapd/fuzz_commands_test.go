package imapd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzCommands sends arbitrary client input, after a LOGIN and a SELECT,
// to a real server over TCP: the project owns the command parser now
// (imapserver, internal/imapwire). Whatever comes, the server answers
// within a bound and then closes when the client's input ends (no wait
// for bytes that never come), never answers NO [SERVERBUG] (bad input is
// BAD or NO with a text), and never panics (imapserver turns a panic into
// a log line and a closed connection).
func FuzzCommands(f *testing.F) {
	for _, seed := range []string{
		"a NOOP\r\n",
		"a FETCH 1:* (FLAGS UID BODY.PEEK[HEADER.FIELDS (Subject)] BINARY.PEEK[1]<0.10> BODYSTRUCTURE)\r\n",
		"a APPEND INBOX (\\Seen $K) \"10-Mar-2024 12:00:00 +0000\" {12+}\r\nSubject: x\r\n\r\nb UID STORE 1:* +FLAGS.SILENT (k)\r\n",
		"a APPEND INBOX {5}\r\nhello\r\n",
		"a APPEND INBOX ~{3+}\r\na\x00b\r\n",
		"a SEARCH CHARSET UTF-8 OR (FROM {3+}\r\nbob SINCE 1-Jan-2020) NOT BODY x\r\n",
		"a SEARCH RETURN (MIN MAX COUNT SAVE) UID 1:* LARGER 5\r\nb FETCH $ FLAGS\r\n",
		"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"*\" \"%\") RETURN (STATUS (MESSAGES UNSEEN SIZE) CHILDREN)\r\n",
		"a CREATE x/y\r\nb RENAME x z\r\nc SUBSCRIBE z/y\r\nd LSUB \"\" *\r\ne DELETE z\r\n",
		"a COPY 1:* Trash\r\nb MOVE 1 Junk\r\nc STORE 1 +FLAGS (\\Deleted)\r\nd UID EXPUNGE 1:*\r\ne CLOSE\r\n",
		"a IDLE\r\nDONE\r\nb EXAMINE INBOX\r\nc CLOSE\r\n",
		"a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE APPENDLIMIT DELETED)\r\n",
		"a LOGIN {4294967295}\r\n",
		"a SELECT {4097+}\r\n",
		"a CREATE \"unterminated\r\n",
		"a FETCH 0:x (BODY[1.2.3.MIME]<4294967295.1>)\r\n",
		"* BAD\r\n\r\n)(\r\n",
		"a ENABLE IMAP4rev2 UTF8=ACCEPT\r\nb SELECT &Jjo-\r\n",
		"a SELECT INBOX (CONDSTORE)\r\nb FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 1)\r\nc STORE 1 (UNCHANGEDSINCE 2) +FLAGS (x)\r\nd SEARCH MODSEQ \"/flags/x\" all 1\r\ne STATUS INBOX (HIGHESTMODSEQ)\r\n",
		"a ID (\"name\" \"x\" \"version\" NIL)\r\nb ID NIL\r\n",
		"a ENABLE QRESYNC\r\nb SELECT INBOX (QRESYNC (1 1 1:* (1:2 1:2)))\r\nc UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n" +
			"d STORE 1 +FLAGS (\\Deleted)\r\ne EXPUNGE\r\nf EXAMINE INBOX (QRESYNC (0 1 $))\r\ng SELECT INBOX (QRESYNC (1 2 (1 1) 3))\r\n",
		"a SELECT INBOX (QRESYNC (1 1))\r\nb FETCH 1 (FLAGS) (VANISHED)\r\nc UID FETCH 1 (FLAGS) (VANISHED CHANGEDSINCE 1)\r\nd UID EXPUNGE $\r\n",
		"a SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 ALL\r\nb UID SORT (ARRIVAL CC TO SIZE FROM DISPLAYTO) US-ASCII OR SUBJECT x NOT 1\r\n" +
			"c SORT () UTF-8 ALL\r\nd SORT (REVERSE) X ALL\r\ne SORT (DATE) KOI8-R ALL\r\n",
		"a THREAD REFERENCES UTF-8 ALL\r\nb UID THREAD ORDEREDSUBJECT US-ASCII 1:*\r\nc THREAD X UTF-8 ALL\r\nd THREAD REFERENCES\r\n",
	} {
		f.Add([]byte(seed))
	}
	logs := &panicLog{}
	e := start(f, func(o *Options) { o.Logger = slog.New(logs) })
	setup := "s1 LOGIN " + testUser + ` "` + testPass + `"` + "\r\ns2 SELECT INBOX\r\n"
	// One message to work on.
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		f.Fatal(err)
	}
	io.WriteString(c, setup+"s3 APPEND INBOX {44+}\r\nSubject: seed\r\nContent-Type: text/plain\r\n\r\nhi\r\ns4 LOGOUT\r\n")
	io.Copy(io.Discard, c)
	c.Close()

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<14 {
			return
		}
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			c.Write(append([]byte(setup), in...))
			c.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("reading the answers: %v (server stuck?) after %q", err, tail(out))
		}
		if i := bytes.Index(out, []byte("SERVERBUG")); i >= 0 {
			t.Fatalf("SERVERBUG in %q", tail(out[:i+9]))
		}
		if p := logs.panicked(); p != "" {
			t.Fatalf("panic: %s", p)
		}
	})
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func tail(b []byte) []byte {
	return b[max(0, len(b)-400):]
}

// panicLog is a slog handler that remembers a logged panic.
type panicLog struct {
	mu  sync.Mutex
	msg string
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *panicLog) WithGroup(string) slog.Handler            { return p }

func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.mu.Lock()
		p.msg = r.Message
		p.mu.Unlock()
	}
	return nil
}

func (p *panicLog) panicked() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msg
}
