package dmtp

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// FuzzParseCommand: any line either fails with a valid 500 or 501 reply,
// or parses to a command whose String is the same line up to the case of
// verbs and keywords (the parser accepts one spelling per command).
func FuzzParseCommand(f *testing.F) {
	for _, tc := range commandForms {
		f.Add(tc.line)
	}
	for _, s := range []string{"", "HELO a.test", "MAIL FROM:<alice@a.test>", "RCPT TO:<b.test> FP=x",
		"DATA 0", "DATA 01", "HIST a@b.test x y z", "LOG ", "SGNT \xff", strings.Repeat("A", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parseCommand(line)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || (e.Code != 500 && e.Code != 501) || !e.valid() {
				t.Fatalf("%q: error %#v is not a valid 500/501 reply", line, err)
			}
			return
		}
		s := cmd.String()
		if !strings.EqualFold(s, line) || len(s) != len(line) {
			t.Fatalf("%q parsed to %+v, which formats as %q", line, cmd, s)
		}
		again, err := parseCommand(s)
		if err != nil || again != cmd {
			t.Fatalf("%q: String %q parses to %+v, %v", line, s, again, err)
		}
	})
}

// FuzzParseReply: any byte stream either fails or yields a reply that,
// written out again, reads back the same.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"220 dx.b.test DMTPv1 ready\r\n",
		"250-dx.b.test hello a.test\r\n250-DMTPv1\r\n250-SIZE 67108864\r\n250-SGNT\r\n250-HIST\r\n250-VRFY\r\n250 LOG\r\n",
		"250 SIGNET 3\r\nabc",
		"250 HISTORY 2 MORE\r\nSIGNET 1\r\nxSIGNET 1\r\ny",
		"250 CURRENT " + fpA.String() + "\r\n",
		"354 send 10 bytes\r\n",
		"451 4.3.0 temporary local failure, try again later\r\n",
		"550-5.1.1 a\r\n550 5.1.1 b\r\n",
		"221\r\n",
		"250 OK\n",
		"250-a\r\n251 b\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := readReply(bufio.NewReaderSize(bytes.NewReader(in), bufferSize))
		if err != nil {
			return
		}
		if rep.code < 200 || rep.code > 559 || len(rep.lines) == 0 || len(rep.lines) > maxReplyLines {
			t.Fatalf("reply %d with %d lines", rep.code, len(rep.lines))
		}
		var b bytes.Buffer
		for i, l := range rep.lines {
			sep := "-"
			if i == len(rep.lines)-1 {
				sep = " "
			}
			fmt.Fprintf(&b, "%d%s%s\r\n", rep.code, sep, l)
		}
		again, err := readReply(bufio.NewReaderSize(&b, bufferSize))
		if err != nil || again.code != rep.code || len(again.lines) != len(rep.lines) {
			t.Fatalf("re-read of %+v: %+v, %v", rep, again, err)
		}
		if e := rep.asError(); e.Code != rep.code {
			t.Fatalf("asError code %d", e.Code)
		}
		if rep.code >= 400 {
			return
		}
		if text, err := rep.text(); err == nil {
			parseFrameHeader(text, "SIGNET", MaxSignetSize)
		}
	})
}
