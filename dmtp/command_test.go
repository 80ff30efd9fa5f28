package dmtp

import (
	"errors"
	"strings"
	"testing"
)

var (
	fpA = fp([]byte("a"))
	fpB = fp([]byte("b"))
)

// commandForms is every command form, for the parser test and the fuzz
// seed corpus.
var commandForms = []struct {
	line string
	want command
}{
	{"EHLO a.test", command{verb: "EHLO", arg: "a.test"}},
	{"ehlo xn--bcher-kva.example", command{verb: "EHLO", arg: "xn--bcher-kva.example"}},
	{"MAIL FROM:<a.test>", command{verb: "MAIL", arg: "a.test"}},
	{"mail from:<a.test> fp=" + fpA.String(), command{verb: "MAIL", arg: "a.test", fp: fpA}},
	{"RCPT TO:<b.test>", command{verb: "RCPT", arg: "b.test"}},
	{"RCPT TO:<b.test> FP=" + fpB.String(), command{verb: "RCPT", arg: "b.test", fp: fpB}},
	{"DATA 1", command{verb: "DATA", size: 1}},
	{"DATA 999999999999999999", command{verb: "DATA", size: 999999999999999999}},
	{"SGNT alice@b.test", command{verb: "SGNT", arg: "alice@b.test"}},
	{"SGNT b.test FP=" + fpA.String(), command{verb: "SGNT", arg: "b.test", fp: fpA}},
	{"SGNT émile@b.test", command{verb: "SGNT", arg: "émile@b.test"}},
	{"HIST alice@b.test", command{verb: "HIST", arg: "alice@b.test"}},
	{"HIST alice@b.test " + fpA.String(), command{verb: "HIST", arg: "alice@b.test", fp: fpA}},
	{"HIST alice@b.test " + fpA.String() + " " + fpB.String(), command{verb: "HIST", arg: "alice@b.test", fp: fpA, stop: fpB}},
	{"VRFY alice@b.test", command{verb: "VRFY", arg: "alice@b.test"}},
	{"VRFY b.test FP=" + fpB.String(), command{verb: "VRFY", arg: "b.test", fp: fpB}},
	{"LOG", command{verb: "LOG"}},
	{"LOG checkpoint b.test 42", command{verb: "LOG", arg: "checkpoint b.test 42"}},
	{"RSET", command{verb: "RSET"}},
	{"NOOP", command{verb: "NOOP"}},
	{"HELP", command{verb: "HELP"}},
	{"QUIT", command{verb: "QUIT"}},
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range commandForms {
		got, err := parseCommand(tc.line)
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q = %+v, want %+v", tc.line, got, tc.want)
		}
		// String is canonical: the upper-case form of the same line.
		if s := got.String(); !strings.EqualFold(s, tc.line) {
			t.Errorf("String() = %q, want %q up to case", s, tc.line)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	t.Parallel()
	human := fpA.Human()
	for _, tc := range []struct {
		line     string
		code     int
		enhanced string
	}{
		{"", 500, "5.5.2"},
		{"NOOP\t", 500, "5.5.2"},
		{"NOOP\x7f", 500, "5.5.2"},
		{"SGNT \xc3@b.test", 500, "5.5.2"},
		{"HELO a.test", 500, "5.5.1"},
		{"EHLOX a.test", 500, "5.5.1"},
		{" EHLO a.test", 500, "5.5.1"},
		{"EHLO  a.test", 501, "5.5.4"},
		{"EHLO a.test ", 501, "5.5.4"},
		{"EHLO a.test.", 501, "5.5.4"},
		{"EHLO alice@a.test", 501, "5.5.4"},
		{"MAIL FROM:<alice@a.test>", 501, "5.1.7"},
		{"MAIL FROM:<@a.test>", 501, "5.1.7"},
		{"RCPT TO:<bob@b.test>", 501, "5.1.3"},
		{"RCPT TO:<b.test> FP=" + human, 501, "5.5.4"},
		{"RCPT TO:<b.test>  FP=" + fpA.String(), 501, "5.5.4"},
		{"RCPT TO:<b.test> FP=" + fpA.String() + " FP=" + fpA.String(), 501, "5.5.4"},
		{"MAIL FROM:<a.test> FP=" + fpA.String()[:42] + "_", 501, "5.5.4"},
		{"DATA +1", 501, "5.5.4"},
		{"DATA 1 ", 501, "5.5.4"},
		{"DATA 1000000000000000000", 501, "5.5.4"},
		{"SGNT", 501, "5.5.4"},
		{"SGNT a.test FP=", 501, "5.5.4"},
		{"VRFY a.test fp", 501, "5.5.4"},
		{"HIST alice@b.test " + fpA.String() + " " + fpB.String() + " " + fpA.String(), 501, "5.5.4"},
		{"HIST alice@b.test  " + fpA.String(), 501, "5.5.4"},
		{"RSET x", 501, "5.5.4"},
	} {
		_, err := parseCommand(tc.line)
		var e *Error
		if !errors.As(err, &e) || e.Code != tc.code || e.Enhanced != tc.enhanced || !e.valid() {
			t.Errorf("%q: %v, want %d %s", tc.line, err, tc.code, tc.enhanced)
		}
	}
}

// TestFingerprintCanonical: a non-canonical base64url spelling of a
// fingerprint (unused low bits set) is refused, so each fingerprint has one
// form on the wire.
func TestFingerprintCanonical(t *testing.T) {
	t.Parallel()
	s := fpA.String()
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[42])
	alt := s[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
	if _, err := parseFP(alt); err == nil {
		t.Fatal("non-canonical fingerprint accepted")
	}
}
