package dmtp

import (
	"io"
	"strings"
	"testing"
)

// step is one command line and the reply it must get.
type step struct {
	line     string
	code     int
	enhanced string
}

var (
	ehlo    = step{"EHLO a.test", 250, ""}
	mail    = step{"MAIL FROM:<a.test>", 250, "2.1.0"}
	rcpt    = step{"RCPT TO:<b.test>", 250, "2.1.5"}
	noop    = step{"NOOP", 250, "2.0.0"}
	validFP = fp([]byte("x")).String()
)

// TestBadInput: every malformed or out-of-sequence command gets its reply
// code, the connection survives, and nothing reaches Data.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	b.data = func(io.Reader, int64) error {
		t.Error("a refused command reached Data")
		return nil
	}
	_, addr := startServer(t, b)
	long := strings.Repeat("x", MaxLineLength-1) // with CRLF: 513 bytes
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"garbage", []step{{"FOO bar", 500, "5.5.1"}, {"HELO a.test", 500, "5.5.1"}, noop}},
		{"empty line", []step{{"", 500, "5.5.2"}, noop}},
		{"control character", []step{{"NOOP\x00", 500, "5.5.2"}, {"EHLO a.test\rx", 500, "5.5.2"}, noop}},
		{"invalid UTF-8", []step{{"SGNT \xff@b.test", 500, "5.5.2"}, noop}},
		{"line of 513 bytes", []step{{long, 500, "5.5.2"}, noop}},
		{"line of 512 bytes", []step{{"NOOP " + strings.Repeat("x", MaxLineLength-7), 501, "5.5.4"}, noop}},
		{"line of 20000 bytes", []step{{strings.Repeat("EHLO ", 4000), 500, "5.5.2"}, noop}},
		{"argument to NOOP", []step{{"NOOP now", 501, "5.5.4"}, {"QUIT x", 501, "5.5.4"}, noop}},
		{"MAIL before EHLO", []step{{"MAIL FROM:<a.test>", 503, "5.5.1"}, {"SGNT b.test", 503, "5.5.1"}, {"RSET", 503, "5.5.1"}, ehlo, mail}},
		{"RCPT before MAIL", []step{ehlo, {"RCPT TO:<b.test>", 503, "5.5.1"}, mail, rcpt}},
		{"DATA before RCPT", []step{ehlo, {"DATA 10", 503, "5.5.1"}, mail, {"DATA 10", 503, "5.5.1"}}},
		{"nested MAIL", []step{ehlo, mail, {"MAIL FROM:<a.test>", 503, "5.5.1"}, rcpt}},
		{"second RCPT", []step{ehlo, mail, rcpt, {"RCPT TO:<c.test>", 503, "5.5.3"}, {"RSET", 250, "2.0.0"}, mail}},
		{"bad EHLO domain", []step{{"EHLO Example.COM", 501, "5.5.4"}, {"EHLO -a.test", 501, "5.5.4"}, {"EHLO localhost", 501, "5.5.4"}, {"EHLO", 501, "5.5.4"}, ehlo}},
		{"address in MAIL FROM", []step{ehlo, {"MAIL FROM:<alice@a.test>", 501, "5.1.7"}, mail}},
		{"address in RCPT TO", []step{ehlo, mail, {"RCPT TO:<bob@b.test>", 501, "5.1.3"}, rcpt}},
		{"bad MAIL syntax", []step{ehlo, {"MAIL FROM: <a.test>", 501, "5.5.4"}, {"MAIL FROM:<a.test", 501, "5.5.4"}, {"MAIL FROM:<>", 501, "5.5.4"}, {"MAIL FROM:<a..test>", 501, "5.5.4"}, {"MAIL TO:<a.test>", 501, "5.5.4"}, mail}},
		{"bad fingerprint", []step{ehlo, {"MAIL FROM:<a.test> FP=abc", 501, "5.5.4"}, {"MAIL FROM:<a.test> FP=" + strings.Repeat("A", 43), 501, "5.5.4"}, {"MAIL FROM:<a.test> SIZE=10", 501, "5.5.4"}, {"MAIL FROM:<a.test> FP=" + validFP, 250, "2.1.0"}}},
		{"bad name", []step{ehlo, {"SGNT b", 501, "5.5.4"}, {"VRFY @b.test", 501, "5.5.4"}, {"HIST b.test", 501, "5.5.4"}, {"HIST a@b.test x", 501, "5.5.4"}, {"SGNT a@b.test FP=" + validFP + " x", 501, "5.5.4"}}},
		{"DATA size not a number", []step{ehlo, mail, rcpt, {"DATA abc", 501, "5.5.4"}, {"DATA", 501, "5.5.4"}, {"DATA 0", 501, "5.5.4"}, {"DATA 012", 501, "5.5.4"}, {"DATA -5", 501, "5.5.4"}, {"DATA 1e3", 501, "5.5.4"}, {"DATA 9999999999999999999", 501, "5.5.4"}, {"RSET", 250, "2.0.0"}}},
		{"DATA larger than SIZE", []step{ehlo, mail, rcpt, {"DATA 1048577", 552, "5.3.4"}, {"DATA 10", 503, "5.5.1"}, noop, mail}},
		{"LOG not implemented", []step{ehlo, {"LOG checkpoint", 502, "5.5.1"}, {"LOG ", 501, "5.5.4"}, noop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t, addr)
			for _, s := range tc.steps {
				r.cmd(s.line, s.code, s.enhanced)
			}
		})
	}
}

// TestBareLF: a line ending in LF alone is refused and the next line is
// read normally.
func TestBareLF(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend())
	r := dialRaw(t, addr)
	r.write("NOOP\n")
	r.expectReply(500, "5.5.2")
	r.cmd("NOOP", 250, "2.0.0")
}

// TestTooManyErrors: the tenth protocol error closes the connection.
func TestTooManyErrors(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend())
	r := dialRaw(t, addr)
	r.cmd("NOOP", 250, "")
	for range maxErrors - 1 {
		r.cmd("XYZZY", 500, "5.5.1")
	}
	r.cmd("XYZZY", 421, "4.7.0")
	r.expectClosed()
}

// TestEndlessLine: a line with no end within maxDiscard closes the
// connection.
func TestEndlessLine(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend())
	r := dialRaw(t, addr)
	go io.WriteString(r.c, strings.Repeat("A", maxDiscard+bufferSize))
	r.expectReply(421, "4.7.0")
	r.expectClosed()
}
