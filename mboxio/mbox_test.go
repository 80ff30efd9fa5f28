package mboxio

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, mbox string, format Format, max int) ([]*MboxMessage, []error) {
	t.Helper()
	r := NewMboxReader(strings.NewReader(mbox), format, max)
	var msgs []*MboxMessage
	var errs []error
	for range 1000 {
		m, err := r.Next()
		if err == io.EOF {
			return msgs, errs
		}
		if err != nil {
			errs = append(errs, err)
			if !errors.Is(err, ErrTooLarge) {
				return msgs, errs
			}
			continue
		}
		msgs = append(msgs, m)
	}
	t.Fatal("reader does not end")
	return nil, nil
}

func TestMboxRead(t *testing.T) {
	t.Parallel()
	mbox := "From alice@example.org Mon Dec  7 11:00:00 2026\n" +
		"Subject: one\n\ntext\nFrom inside a paragraph\n>From quoted once\n>>From quoted twice\n\n" +
		"From bob@example.org Mon Dec  7 12:00:00 2026\n" +
		"Subject: two\n\nbody\nFrom unquoted after text stays\n\n\n" +
		"From carol@example.org Mon Dec  7 13:00:00 2026\r\n" +
		"Subject: three\r\n\r\nno final newline"
	for _, c := range []struct {
		format Format
		first  string
	}{
		{MboxRD, "Subject: one\r\n\r\ntext\r\nFrom inside a paragraph\r\nFrom quoted once\r\n>From quoted twice\r\n"},
		{MboxO, "Subject: one\r\n\r\ntext\r\nFrom inside a paragraph\r\nFrom quoted once\r\n>>From quoted twice\r\n"},
	} {
		msgs, errs := readAll(t, mbox, c.format, 1<<20)
		if len(errs) != 0 || len(msgs) != 3 {
			t.Fatalf("format %d: %d messages, errors %v", c.format, len(msgs), errs)
		}
		if msgs[0].From != "alice@example.org Mon Dec  7 11:00:00 2026" || string(msgs[0].Data) != c.first {
			t.Errorf("format %d: first = %q %q", c.format, msgs[0].From, msgs[0].Data)
		}
		if want := "Subject: two\r\n\r\nbody\r\nFrom unquoted after text stays\r\n\r\n"; string(msgs[1].Data) != want {
			t.Errorf("second = %q, want %q", msgs[1].Data, want)
		}
		if want := "Subject: three\r\n\r\nno final newline"; string(msgs[2].Data) != want {
			t.Errorf("third = %q, want %q", msgs[2].Data, want)
		}
	}
}

func TestMboxTooLarge(t *testing.T) {
	t.Parallel()
	mbox := "From a Mon Dec  7 11:00:00 2026\nsmall\n\n" +
		"From b Mon Dec  7 11:00:00 2026\n" + strings.Repeat("x", 200<<10) + "\n\n" +
		"From c Mon Dec  7 11:00:00 2026\nafter\n"
	msgs, errs := readAll(t, mbox, MboxRD, 1000)
	if len(msgs) != 2 || string(msgs[1].Data) != "after\r\n" {
		t.Errorf("%d messages, want the 2 small ones", len(msgs))
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "message 2 (From b") {
		t.Errorf("errors %v, want message 2 too large", errs)
	}
}

func TestMboxNotMbox(t *testing.T) {
	t.Parallel()
	if _, errs := readAll(t, "Subject: x\n\nbody\n", MboxRD, 1000); len(errs) != 1 {
		t.Errorf("errors %v, want not an mbox", errs)
	}
	if msgs, errs := readAll(t, "", MboxRD, 1000); len(msgs)+len(errs) != 0 {
		t.Errorf("empty file: %v %v", msgs, errs)
	}
}

func TestMboxRoundTrip(t *testing.T) {
	t.Parallel()
	in := [][]byte{
		[]byte("Subject: a\r\n\r\nFrom me\r\n>From you\r\n>>>From them\r\n\r\n"),
		[]byte("Subject: b\r\n\r\n\r\n"),
		[]byte(""),
		[]byte("Subject: d\r\n\r\nlast\r\n"),
	}
	var buf bytes.Buffer
	w := NewMboxWriter(&buf)
	date := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	for _, d := range in {
		if err := w.Write("", date, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("has space", date, nil); err == nil {
		t.Error("a sender with a space was written")
	}
	msgs, errs := readAll(t, buf.String(), MboxRD, 1<<20)
	if len(errs) != 0 || len(msgs) != len(in) {
		t.Fatalf("%d messages, errors %v\n%s", len(msgs), errs, buf.String())
	}
	for i := range in {
		if !bytes.Equal(msgs[i].Data, in[i]) || msgs[i].From != "MAILER-DAEMON Mon Dec  7 11:00:00 2026" {
			t.Errorf("message %d = %q %q, want %q", i, msgs[i].From, msgs[i].Data, in[i])
		}
	}
}

// FuzzMboxReader checks that reading never panics, keeps its size bound,
// and that what it reads is written and read back the same.
func FuzzMboxReader(f *testing.F) {
	f.Add([]byte("From a Mon Dec  7 11:00:00 2026\nSubject: x\n\n>From y\n\nFrom b Mon Dec  7 11:00:00 2026\n\nz"))
	f.Add([]byte("From a\r\n>>From\r\n\r\nFrom \r\n\r\n\r\nFrom c\n" + strings.Repeat("long", 100)))
	f.Add([]byte("not an mbox\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 256
		for _, format := range []Format{MboxRD, MboxO} {
			r := NewMboxReader(bytes.NewReader(b), format, max)
			var msgs [][]byte
			for range len(b) + 2 {
				off := r.Offset()
				m, err := r.Next()
				if err == io.EOF || (err != nil && !errors.Is(err, ErrTooLarge)) {
					break
				}
				if err != nil {
					continue
				}
				if len(m.Data) > 2*max {
					t.Fatalf("%d bytes read, limit %d", len(m.Data), max)
				}
				msgs = append(msgs, m.Data)
				// A reader started at the offset, as a resumed import
				// is, reads the same message.
				again, err := NewMboxReader(bytes.NewReader(b[off:]), format, max).Next()
				if err != nil || !bytes.Equal(again.Data, m.Data) {
					t.Fatalf("message at offset %d read again: %v, %q, want %q", off, err, again, m.Data)
				}
			}
			if format != MboxRD {
				continue
			}
			var buf bytes.Buffer
			w := NewMboxWriter(&buf)
			for _, d := range msgs {
				if err := w.Write("x", time.Time{}, d); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			r = NewMboxReader(&buf, MboxRD, 1<<20)
			for i, want := range msgs {
				m, err := r.Next()
				if err != nil {
					t.Fatalf("message %d read back: %v", i, err)
				}
				// Writing ends the last line.
				if !bytes.Equal(m.Data, toCRLF(toLF(want))) && !(len(want) == 0 && len(m.Data) == 0) {
					t.Fatalf("message %d: read back %q, want %q", i, m.Data, want)
				}
			}
		}
	})
}
