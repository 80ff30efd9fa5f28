package dmtp

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const transcriptFile = "../testdata/dmtp/session.txt"

var update = flag.Bool("update", false, "rewrite the S lines of "+transcriptFile+" from the server's output")

// transcriptLine is one line of the transcript (format in its header).
type transcriptLine struct {
	kind string // "#" for comments and blank lines, "F:", "C:", "C*", "S:", "S*"
	text string // the rest of the line
}

func (l transcriptLine) bytes(t *testing.T) []byte {
	switch l.kind {
	case "C:", "S:":
		return []byte(l.text + "\r\n")
	case "C*", "S*":
		b, err := hex.DecodeString(strings.ReplaceAll(l.text, " ", ""))
		if err != nil {
			t.Fatalf("%s %s: %v", l.kind, l.text, err)
		}
		return b
	}
	return nil
}

func readTranscript(t *testing.T) []transcriptLine {
	data, err := os.ReadFile(transcriptFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []transcriptLine
	for i, s := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if s == "" || s[0] == '#' {
			lines = append(lines, transcriptLine{"#", s})
			continue
		}
		kind, text, ok := strings.Cut(s, " ")
		switch kind {
		case "F:", "C:", "C*", "S:", "S*":
		default:
			ok = false
		}
		if !ok {
			t.Fatalf("%s:%d: unknown line %q", transcriptFile, i+1, s)
		}
		lines = append(lines, transcriptLine{kind, text})
	}
	return lines
}

// TestTranscript replays the recorded session against a Server whose
// backend holds the transcript's fixtures, and checks every byte the
// server sends. With -update it records the server's replies instead.
func TestTranscript(t *testing.T) {
	lines := readTranscript(t)
	b := newTestBackend()
	var bodies [][]byte
	afterData := false
	for _, l := range lines {
		switch l.kind {
		case "F:":
			name, hx, _ := strings.Cut(l.text, " ")
			sig, err := hex.DecodeString(hx)
			if err != nil {
				t.Fatalf("fixture %q: %v", l.text, err)
			}
			b.signets[name] = append(b.signets[name], sig)
		case "C:":
			afterData = strings.HasPrefix(l.text, "DATA ")
		case "C*":
			if afterData {
				bodies = append(bodies, l.bytes(t))
			}
		}
	}
	_, addr := startServer(t, b, func(s *Server) { s.MaxMessageSize = 1 << 20 })
	r := connectRaw(t, addr)

	if *update {
		recordTranscript(t, r, lines)
		return
	}
	for i := 0; i < len(lines); i++ {
		switch lines[i].kind {
		case "C:", "C*":
			r.write(string(lines[i].bytes(t)))
		case "S:", "S*":
			var want []byte
			for ; i < len(lines) && (lines[i].kind == "S:" || lines[i].kind == "S*"); i++ {
				want = append(want, lines[i].bytes(t)...)
			}
			i--
			got := make([]byte, len(want))
			if _, err := io.ReadFull(r.r, got); err != nil {
				t.Fatalf("reading %q: got %q, %v", want, got, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("server sent %q, want %q", got, want)
			}
		}
	}
	r.expectClosed()
	got := b.stored()
	if len(got) != len(bodies) {
		t.Fatalf("stored %d messages, want %d", len(got), len(bodies))
	}
	for i := range got {
		if !bytes.Equal(got[i].body, bodies[i]) {
			t.Errorf("message %d stored as %q, want %q", i, got[i].body, bodies[i])
		}
	}
}

// recordTranscript rewrites the transcript's S lines: after each C: line,
// and after a run of C* lines (a body), it reads one reply with its binary
// frames; it records the greeting before the first C line.
func recordTranscript(t *testing.T, r *raw, lines []transcriptLine) {
	var out []string
	greeted := false
	pending := false
	last := ""
	flush := func() {
		if pending {
			out = append(out, readRecorded(t, r)...)
			pending = false
		}
	}
	for _, l := range lines {
		prev := last
		last = l.kind
		switch l.kind {
		case "S:", "S*":
			continue
		case "C:", "C*":
			if !greeted {
				out = append(out, readRecorded(t, r)...)
				greeted = true
			}
			if l.kind == "C:" || prev == "C:" {
				flush() // every command line, and a body after DATA, gets its own reply
			}
			r.write(string(l.bytes(t)))
			pending = true
			out = append(out, l.kind+" "+l.text)
			continue
		}
		flush()
		if l.kind == "#" {
			out = append(out, l.text)
		} else {
			out = append(out, l.kind+" "+l.text)
		}
	}
	flush()
	r.expectClosed()
	if err := os.WriteFile(transcriptFile, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readRecorded reads one reply and any frames it announces, as S lines.
func readRecorded(t *testing.T, r *raw) []string {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rep := r.reply()
	var out []string
	for i, l := range rep.lines {
		sep := "-"
		if i == len(rep.lines)-1 {
			sep = " "
		}
		out = append(out, fmt.Sprintf("S: %d%s%s", rep.code, sep, l))
	}
	if rep.code != 250 || len(rep.lines) != 1 {
		return out
	}
	text := rep.lines[0]
	switch {
	case strings.HasPrefix(text, "SIGNET "), strings.HasPrefix(text, "LOG "):
		out = append(out, readRecordedFrame(t, r, text))
	case strings.HasPrefix(text, "HISTORY "):
		n, err := strconv.Atoi(strings.Fields(text)[1])
		if err != nil {
			t.Fatalf("reply %q", text)
		}
		for range n {
			line, err := readLine(r.r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, "S: "+line, readRecordedFrame(t, r, line))
		}
	}
	return out
}

// readRecordedFrame reads the bytes a `keyword size` header announces.
func readRecordedFrame(t *testing.T, r *raw, header string) string {
	_, n, _ := strings.Cut(header, " ")
	size, err := strconv.Atoi(n)
	if err != nil {
		t.Fatalf("frame header %q", header)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r.r, b); err != nil {
		t.Fatal(err)
	}
	return "S* " + hex.EncodeToString(b)
}
