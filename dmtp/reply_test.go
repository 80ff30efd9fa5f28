package dmtp

import (
	"bufio"
	"slices"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		code  int
		lines []string
	}{
		{"250 OK\r\n", 250, []string{"OK"}},
		{"221\r\n", 221, []string{""}},
		{"250-dx.b.test hello a.test\r\n250-DMTPv1\r\n250 SIZE 10\r\n", 250, []string{"dx.b.test hello a.test", "DMTPv1", "SIZE 10"}},
		{"550 5.1.1 unknown émile@b.test\r\n", 550, []string{"5.1.1 unknown émile@b.test"}},
	} {
		rep, err := readReply(bufio.NewReader(strings.NewReader(tc.in)))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if rep.code != tc.code || !slices.Equal(rep.lines, tc.lines) {
			t.Errorf("%q = %d %q, want %d %q", tc.in, rep.code, rep.lines, tc.code, tc.lines)
		}
	}
}

func TestReadReplyErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"",
		"250 OK",             // no CRLF
		"250 OK\n",           // bare LF
		"25 OK\r\n",          // short code
		"650 OK\r\n",         // first digit out of range
		"260 OK\r\n",         // second digit out of range
		"2a0 OK\r\n",         // not a number
		"250_OK\r\n",         // bad separator
		"250-a\r\n251 b\r\n", // codes differ
		"250-a\r\n",          // no last line
		"250 a\x00b\r\n",     // control character
		"250 \xff\r\n",       // not UTF-8
		"250 " + strings.Repeat("x", MaxLineLength) + "\r\n",
		strings.Repeat("250-x\r\n", maxReplyLines) + "250 x\r\n",
	} {
		if rep, err := readReply(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%.60q accepted as %d %q", in, rep.code, rep.lines)
		}
	}
}

func TestReplyAsError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rep  reply
		want Error
	}{
		{reply{550, []string{"5.1.1 unknown"}}, Error{550, "5.1.1", "unknown"}},
		{reply{451, []string{"4.3.0 try", "4.3.0 later"}}, Error{451, "4.3.0", "try; later"}},
		{reply{550, []string{"4.1.1 wrong class"}}, Error{550, "", "4.1.1 wrong class"}},
		{reply{421, []string{"closing"}}, Error{421, "", "closing"}},
	} {
		if got := tc.rep.asError(); *got != tc.want {
			t.Errorf("%v.asError() = %#v, want %#v", tc.rep, *got, tc.want)
		}
	}
}

func TestErrorValid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e    Error
		want bool
	}{
		{Error{550, "5.1.1", "unknown"}, true},
		{Error{451, "", "later"}, true},
		{Error{452, "4.3.123", "x"}, true},
		{Error{250, "2.0.0", "OK"}, false},
		{Error{600, "", "x"}, false},
		{Error{550, "4.1.1", "wrong class"}, false},
		{Error{550, "5.1", "short"}, false},
		{Error{550, "5.1.1234", "long detail"}, false},
		{Error{550, "5.x.1", "letters"}, false},
		{Error{550, "5.1.1", "line\r\nbreak"}, false},
		{Error{550, "5.1.1", "non-ASCII é"}, false},
		{Error{550, "5.1.1", strings.Repeat("x", maxMessage+1)}, false},
	} {
		if got := tc.e.valid(); got != tc.want {
			t.Errorf("%#v.valid() = %v, want %v", tc.e, got, tc.want)
		}
	}
	e := &Error{Code: 451, Enhanced: "4.3.0", Message: "later"}
	if !e.Temporary() || e.Error() != "dmtp: 451 4.3.0 later" {
		t.Errorf("Error() = %q, Temporary() = %v", e.Error(), e.Temporary())
	}
	if (&Error{Code: 554, Message: "no"}).Temporary() {
		t.Error("554 is temporary")
	}
}

func TestParseFrameHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want int64
		ok   bool
	}{
		{"SIGNET 1", 1, true},
		{"SIGNET 0", 0, true},
		{"SIGNET 65536", 65536, true},
		{"SIGNET 65537", 0, false},
		{"SIGNET 01", 0, false},
		{"SIGNET -1", 0, false},
		{"SIGNET", 0, false},
		{"SIGNET  1", 0, false},
		{"LOG 1", 0, false},
	} {
		n, err := parseFrameHeader(tc.text, "SIGNET", MaxSignetSize)
		if (err == nil) != tc.ok || n != tc.want {
			t.Errorf("%q = %d, %v", tc.text, n, err)
		}
	}
}
