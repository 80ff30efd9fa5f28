package wiretrace

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// exchange is one direction's bytes of a conversation, in order.
type exchange struct {
	client bool
	b      string
}

// run feeds the exchanges through a server's Trace, each cut into pieces
// of at most chunk bytes (0: whole), and returns the trace's lines.
func run(t *testing.T, p Protocol, xs []exchange, chunk int) []string {
	t.Helper()
	return runAt(t, false, p, xs, chunk)
}

// runAt is run at the server's end or at the client's.
func runAt(t *testing.T, client bool, p Protocol, xs []exchange, chunk int) []string {
	t.Helper()
	var log bytes.Buffer
	h := slog.NewTextHandler(&log, &slog.HandlerOptions{Level: LevelTrace,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		}})
	tr := New(slog.New(h), p)
	// What the client sends is read at the server's end and written at
	// the client's; what the server sends, the other way round.
	fromClient, fromServer := func(b []byte) error {
		_, err := io.Copy(io.Discard, tr.Reader(bytes.NewReader(b)))
		return err
	}, func(b []byte) error {
		_, err := tr.Writer(io.Discard).Write(b)
		return err
	}
	if client {
		fromClient, fromServer = func(b []byte) error {
			_, err := tr.ToServer(io.Discard).Write(b)
			return err
		}, func(b []byte) error {
			_, err := io.Copy(io.Discard, tr.FromServer(bytes.NewReader(b)))
			return err
		}
	}
	for _, x := range xs {
		b := []byte(x.b)
		for len(b) > 0 {
			n := len(b)
			if chunk > 0 {
				n = min(n, 1+rand.IntN(chunk))
			}
			send := fromServer
			if x.client {
				send = fromClient
			}
			if err := send(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
	}
	var lines []string
	for l := range strings.Lines(log.String()) {
		l = strings.TrimSuffix(strings.TrimPrefix(l, "msg="), "\n")
		if s, err := strconv.Unquote(l); err == nil {
			l = s
		}
		lines = append(lines, l)
	}
	return lines
}

func TestIMAPTrace(t *testing.T) {
	t.Parallel()
	const password, body = "hunter2-secret", "Subject: the quarterly plans\r\n\r\nbody line\r\n" // 43 bytes
	xs := []exchange{
		{false, "* OK ready\r\n"},
		{true, "a1 LOGIN alice " + password + "\r\n"},
		{false, "a1 OK logged in\r\n"},
		{true, "a2 LOGIN {5}\r\n"},
		{false, "+ go\r\n"},
		{true, "alice {14}\r\n"},
		{false, "+ go\r\n"},
		{true, password + "\r\n"},
		{false, "a2 OK\r\n"},
		{true, "a3 AUTHENTICATE PLAIN\r\n"},
		{false, "+ \r\n"},
		{true, "AGFsaWNlAGh1bnRlcjItc2VjcmV0\r\n"},
		{false, "a3 OK\r\n"},
		{true, "a4 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjItc2VjcmV0\r\n"},
		{false, "a4 OK\r\n"},
		{true, "a5 APPEND INBOX {43}\r\n"},
		{false, "+ Ready\r\n"},
		{true, body + "\r\n"},
		{false, "a5 OK [APPENDUID 1 1] done\r\n"},
		{true, "a6 APPEND INBOX {43+}\r\n" + body + "\r\n"},
		{false, "a6 OK\r\n"},
		{true, "a7 APPEND INBOX {999}\r\n"},
		{false, "a7 NO [TOOBIG] too big\r\n"},
		{true, "a8 FETCH 1 BODY.PEEK[]\r\n"},
		{false, "* 1 FETCH (BODY[] {43}\r\n" + body + ")\r\n"},
		{false, "a8 OK\r\n"},
		{true, "a9 IDLE\r\n"},
		{false, "+ idling\r\n"},
		{true, "DONE\r\n"},
		{false, "a9 OK\r\n"},
	}
	want := []string{
		"S: * OK ready",
		"C: a1 LOGIN " + Redacted, "S: a1 OK logged in",
		"C: a2 LOGIN " + Redacted, "S: + go", "C: <5 bytes of data>", "C: " + Redacted, "S: + go", "C: <14 bytes of data>", "C: " + Redacted, "S: a2 OK",
		"C: a3 AUTHENTICATE PLAIN", "S: + ", "C: " + Redacted, "S: a3 OK",
		"C: a4 AUTHENTICATE PLAIN " + Redacted, "S: a4 OK",
		"C: a5 APPEND INBOX {43}", "S: + Ready", "C: <43 bytes of data>", "C: ", "S: a5 OK [APPENDUID 1 1] done",
		"C: a6 APPEND INBOX {43+}", "C: <43 bytes of data>", "C: ", "S: a6 OK",
		"C: a7 APPEND INBOX {999}", "S: a7 NO [TOOBIG] too big",
		"C: a8 FETCH 1 BODY.PEEK[]", "S: * 1 FETCH (BODY[] {43}", "S: <43 bytes of data>", "S: )", "S: a8 OK",
		"C: a9 IDLE", "S: + idling", "C: DONE", "S: a9 OK",
	}
	for _, chunk := range []int{0, 1, 7} {
		got := run(t, IMAP(), xs, chunk)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("chunks of %d: trace\n%s\nwant\n%s", chunk, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		all := strings.Join(got, "\n")
		for _, secret := range []string{password, "AGFsaWNlAGh1bnRlcjItc2VjcmV0", "quarterly", "body line"} {
			if strings.Contains(all, secret) {
				t.Errorf("chunks of %d: the trace shows %q", chunk, secret)
			}
		}
	}
}

func TestDMTPTrace(t *testing.T) {
	t.Parallel()
	xs := []exchange{
		{false, "220 b.test DMTP\r\n"},
		{true, "EHLO a.test\r\n"},
		{false, "250-b.test\r\n250 SIZE 1000\r\n"},
		{true, "DATA 5000\r\n"},
		{false, "552 5.3.4 too big\r\n"},
		{true, "DATA 6\r\n"},
		{false, "354 send 6 bytes\r\n"},
		{true, "\x00\x01sec\n"},
		{false, "250 2.0.0 message stored\r\n"},
		{true, "SGNT bob@b.test\r\n"},
		{false, "250 SIGNET 4\r\n\x00\n\r\x01"},
		{true, "QUIT\r\n"},
		{false, "221 bye\r\n"},
	}
	want := []string{
		"S: 220 b.test DMTP", "C: EHLO a.test", "S: 250-b.test", "S: 250 SIZE 1000",
		"C: DATA 5000", "S: 552 5.3.4 too big",
		"C: DATA 6", "S: 354 send 6 bytes", "C: <6 bytes of data>", "S: 250 2.0.0 message stored",
		"C: SGNT bob@b.test", "S: 250 SIGNET 4", "S: <4 bytes of data>",
		"C: QUIT", "S: 221 bye",
	}
	// The client's end (the provider's outbound DMTP) logs the same lines.
	for _, client := range []bool{false, true} {
		for _, chunk := range []int{0, 1, 5} {
			if got := runAt(t, client, DMTP(), xs, chunk); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("client's end %v, chunks of %d: trace\n%s\nwant\n%s", client, chunk, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// A line longer than MaxShown is cut and its length noted; a literal
// announced at its end is still found.
func TestLongLine(t *testing.T) {
	t.Parallel()
	long := "a1 APPEND INBOX (" + strings.Repeat("\\Flag ", 200) + ") {3+}"
	got := run(t, IMAP(), []exchange{{true, long + "\r\nxyz\r\n"}}, 0)
	if len(got) != 3 || !strings.HasSuffix(got[0], "… (a line of 1223 bytes)") || len(got[0]) > MaxShown+60 || got[1] != "C: <3 bytes of data>" {
		t.Errorf("trace of a long line: %q", got)
	}
}

// Off by default: a logger without LevelTrace gets no Trace, and nothing
// is wrapped.
func TestOff(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if tr := New(log, IMAP()); tr != nil {
		t.Fatal("a Trace for a logger at DEBUG")
	}
	var tr *Trace
	var b bytes.Buffer
	if tr.Reader(&b) != io.Reader(&b) || tr.Writer(&b) != io.Writer(&b) ||
		tr.FromServer(&b) != io.Reader(&b) || tr.ToServer(&b) != io.Writer(&b) {
		t.Fatal("a nil Trace wrapped")
	}
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatal("setup")
	}
}
