package wiretrace

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"unicode/utf8"
)

// bounded is a slog.Handler that fails the test on a record longer than a
// cut line, its note and the prefix can make.
type bounded struct{ t *testing.T }

func (h bounded) Enabled(context.Context, slog.Level) bool { return true }
func (h bounded) Handle(_ context.Context, r slog.Record) error {
	if utf8.RuneCountInString(r.Message) > len("C: ")+MaxShown+len("… (a line of 9223372036854775807 bytes)") {
		h.t.Fatalf("a trace record of %d bytes", len(r.Message))
	}
	return nil
}
func (h bounded) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h bounded) WithGroup(string) slog.Handler      { return h }

// FuzzTrace feeds arbitrary bytes, in arbitrary pieces and directions,
// through the IMAP and DMTP traces: no panic, and no record longer than a
// cut line.
func FuzzTrace(f *testing.F) {
	for _, s := range []string{
		"\x85a1 LOGIN alice secret\r\n\x05* OK\r\n",
		"\x90a2 APPEND INBOX {5}\r\n\x08+ Ready\r\n\x87hello\r\n",
		"\x8aDATA 3\r\n\x0c354 send 3\r\n\x83abc",
		"\x0e250 SIGNET 2\r\n\x02ab",
		"\x99a3 AUTHENTICATE PLAIN\r\n\x04+ \r\n\x8aAGFsaWNl\r\n",
		"\x10* 1 FETCH (BODY[] {2}\r\nhi)\r\n",
		"\x88{99999999999999999999}\r\n",
		"\x85~{3-}\r\n",
	} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, imap bool, data []byte) {
		p := DMTP()
		if imap {
			p = IMAP()
		}
		tr := New(slog.New(bounded{t}), p)
		w := tr.Writer(io.Discard)
		// Each piece: a byte whose high bit is the direction (set: the
		// client's) and whose low 7 bits are the length, then the bytes.
		for len(data) > 0 {
			fromClient, n := data[0]&0x80 != 0, int(data[0]&0x7f)
			data = data[1:]
			n = min(n, len(data))
			if fromClient {
				tr.feed(true, data[:n])
			} else {
				w.Write(data[:n])
			}
			data = data[n:]
		}
	})
}
