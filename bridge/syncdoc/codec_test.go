package syncdoc

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestContentRoundTrip(t *testing.T) {
	t.Parallel()
	for _, mime := range [][]byte{nil, []byte("Subject: x\r\n\r\nhi\r\n"), bytes.Repeat([]byte{0, 0xff, '\n'}, 200000)} {
		c := sampleContent(mime)
		b := mustMarshal(t, c)
		if len(b) != contentHeader+len(c.Security)+4+len(mime) {
			t.Fatalf("encoding is %d bytes", len(b))
		}
		got, err := ParseContent(b)
		if err != nil {
			t.Fatal(err)
		}
		_, off := got.InternalDate.Zone()
		if got.Key != c.Key || got.Security != c.Security || !bytes.Equal(got.MIME, mime) ||
			!got.InternalDate.Equal(c.InternalDate) || off != -(7*60+30)*60 {
			t.Fatalf("round trip: %+v", got)
		}
	}
	// Below the millisecond and the minute of offset are dropped.
	c := sampleContent(nil)
	c.InternalDate = time.Date(2026, 1, 2, 3, 4, 5, 999999, time.FixedZone("", 3600+59))
	got, err := ParseContent(mustMarshal(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if _, off := got.InternalDate.Zone(); off != 3600 || got.InternalDate.UnixMilli() != c.InternalDate.UnixMilli() {
		t.Fatalf("got %v", got.InternalDate)
	}
}

func TestContentMarshalRejects(t *testing.T) {
	t.Parallel()
	for name, mut := range map[string]func(*Content){
		"key":            func(c *Content) { c.Key = "short" },
		"year 0":         func(c *Content) { c.InternalDate = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC) },
		"year 10000":     func(c *Content) { c.InternalDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"zone":           func(c *Content) { c.InternalDate = c.InternalDate.In(time.FixedZone("", 25*3600)) },
		"security CR":    func(c *Content) { c.Security = "encrypted\r\nX: y" },
		"security UTF-8": func(c *Content) { c.Security = "\xff" },
		"security long":  func(c *Content) { c.Security = strings.Repeat("a", MaxSecurity+1) },
		"MIME":           func(c *Content) { c.MIME = make([]byte, MaxMIME+1) },
	} {
		c := sampleContent(nil)
		mut(c)
		if _, err := c.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// rejects checks that parse refuses every truncation of good, good with a
// byte appended, and each of the bad encodings.
func rejects(t *testing.T, parse func([]byte) error, good []byte, bad map[string][]byte) {
	t.Helper()
	if err := parse(good); err != nil {
		t.Fatalf("good encoding: %v", err)
	}
	for n := range len(good) {
		if err := parse(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if err := parse(append(bytes.Clone(good), 0)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("trailing byte: %v", err)
	}
	v2 := bytes.Clone(good)
	v2[0] = 2
	if err := parse(v2); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 2: %v", err)
	}
	for name, b := range bad {
		if err := parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// patch returns a copy of b with p written at off.
func patch(b []byte, off int, p ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], p)
	return c
}

func TestParseContentRejects(t *testing.T) {
	t.Parallel()
	good := mustMarshal(t, sampleContent([]byte("MIME")))
	secOff := 1 + KeyLen + 8 + 2 // the security length
	mimeOff := secOff + 2 + len(sampleContent(nil).Security)
	rejects(t, func(b []byte) error { _, err := ParseContent(b); return err }, good, map[string][]byte{
		"key alphabet":  patch(good, 1, '+'),
		"date low":      patch(good, 1+KeyLen, 0x80),
		"date high":     patch(good, 1+KeyLen, 0x7f),
		"zone":          patch(good, 1+KeyLen+8, 0x05, 0xa0), // 1440 minutes
		"security ctl":  patch(good, secOff+2, '\n'),
		"security utf8": patch(good, secOff+2, 0xc3),
		"MIME length":   patch(good, mimeOff, 0xff, 0xff, 0xff, 0xff),
		"MIME short":    patch(good, mimeOff, 0, 0, 0, 3),
	})
}

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	m := sampleMeta()
	m.Flags = append(m.Flags, `\Seen`) // a set: the duplicate goes
	got, err := ParseMeta(mustMarshal(t, m))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"$Label1", `\Flagged`, `\Seen`}
	if got.Key != m.Key || got.Mailbox != m.Mailbox || !slices.Equal(got.Flags, want) || got.Deleted ||
		got.Updated != m.Updated || got.Device != m.Device {
		t.Fatalf("round trip: %+v", got)
	}
	d := &Meta{Key: testKey, Deleted: true}
	got, err = ParseMeta(mustMarshal(t, d))
	if err != nil || !got.Deleted || got.Mailbox != "" || len(got.Flags) != 0 {
		t.Fatalf("deleted: %+v, %v", got, err)
	}
}

func TestMetaMarshalRejects(t *testing.T) {
	t.Parallel()
	many := make([]string, MaxFlags+1)
	for i := range many {
		many[i] = "k" + strings.Repeat("x", i)
	}
	for name, mut := range map[string]func(*Meta){
		"key":          func(m *Meta) { m.Key = "" },
		"no mailbox":   func(m *Meta) { m.Mailbox = "" },
		"mailbox long": func(m *Meta) { m.Mailbox = strings.Repeat("é", 128) },
		"mailbox ctl":  func(m *Meta) { m.Mailbox = "a\x00b" },
		"device ctl":   func(m *Meta) { m.Device = "\u0085" },
		"updated":      func(m *Meta) { m.Updated = -1 },
		"flag space":   func(m *Meta) { m.Flags = []string{"a b"} },
		"flag empty":   func(m *Meta) { m.Flags = []string{""} },
		"flag slash":   func(m *Meta) { m.Flags = []string{`\`} },
		"flag quote":   func(m *Meta) { m.Flags = []string{`a"`} },
		"flag 8bit":    func(m *Meta) { m.Flags = []string{"é"} },
		"flag long":    func(m *Meta) { m.Flags = []string{strings.Repeat("a", MaxName+1)} },
		"flags":        func(m *Meta) { m.Flags = many },
	} {
		m := sampleMeta()
		mut(m)
		if _, err := m.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for _, f := range []string{`\Seen`, "$Forwarded", "NonJunk", `\X`} {
		if err := CheckFlag(f); err != nil {
			t.Errorf("CheckFlag(%q): %v", f, err)
		}
	}
}

func TestParseMetaRejects(t *testing.T) {
	t.Parallel()
	m := &Meta{Key: testKey, Mailbox: "INBOX", Flags: []string{"a", "b"}, Updated: 1, Device: "d"}
	good := mustMarshal(t, m)
	state := 1 + KeyLen
	mbox := state + 1 + 8 + 2 // mailbox length byte
	flags := mbox + 1 + len("INBOX")
	rejects(t, func(b []byte) error { _, err := ParseMeta(b); return err }, good, map[string][]byte{
		"state bits":     patch(good, state, 2),
		"negative":       patch(good, state+1, 0x80),
		"empty mailbox":  append(patch(good[:mbox+1], mbox, 0), good[flags:]...),
		"flag order":     patch(good, flags+1, 1, 'b', 1, 'a'),
		"flag duplicate": patch(good, flags+1, 1, 'a', 1, 'a'),
		"flag syntax":    patch(good, flags+2, '('),
		"flag empty":     append(patch(good[:flags+2], flags+1, 0), good[flags+3:]...),
		"flag count":     patch(good, flags, MaxFlags+1),
	})
}

func TestFoldersRoundTrip(t *testing.T) {
	t.Parallel()
	f := sampleFolders()
	got, err := ParseFolders(mustMarshal(t, f))
	if err != nil {
		t.Fatal(err)
	}
	want := []Folder{f.Entries[1], f.Entries[0]} // sorted by name
	if !slices.Equal(got.Entries, want) {
		t.Fatalf("round trip: %+v", got)
	}
	big := &Folders{}
	for i := range MaxFolders {
		big.Entries = append(big.Entries, Folder{Name: fmt.Sprintf("%0255d", i), Updated: int64(i), Device: strings.Repeat("d", MaxName)})
	}
	if got, err := ParseFolders(mustMarshal(t, big)); err != nil || len(got.Entries) != len(big.Entries) {
		t.Fatalf("big: %v", err)
	}
}

func TestFoldersMarshalRejects(t *testing.T) {
	t.Parallel()
	for name, mut := range map[string]func(*Folders){
		"duplicate": func(f *Folders) { f.Entries = append(f.Entries, Folder{Name: "Work"}) },
		"empty":     func(f *Folders) { f.Entries[0].Name = "" },
		"long":      func(f *Folders) { f.Entries[0].Name = strings.Repeat("a", MaxName+1) },
		"tab":       func(f *Folders) { f.Entries[0].Name = "a\tb" },
		"updated":   func(f *Folders) { f.Entries[0].Updated = -5 },
		"device":    func(f *Folders) { f.Entries[0].Device = "\xfe" },
		"count":     func(f *Folders) { f.Entries = make([]Folder, MaxFolders+1) },
	} {
		f := sampleFolders()
		mut(f)
		if _, err := f.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestParseFoldersRejects(t *testing.T) {
	t.Parallel()
	good := mustMarshal(t, &Folders{Entries: []Folder{{Name: "A", Updated: 1}, {Name: "B", Updated: 2, Device: "d"}}})
	second := 3 + 2 + 1 + 8 + 1 // start of the second entry
	rejects(t, func(b []byte) error { _, err := ParseFolders(b); return err }, good, map[string][]byte{
		"order":      patch(good, 4, 'C'),
		"duplicate":  patch(good, second+1, 'A'),
		"state":      patch(good, 5, 0x81),
		"negative":   patch(good, 6, 0xff),
		"count":      patch(good, 1, 0x27, 0x11), // 10001
		"count high": patch(good, 1, 0, 3),
		"empty name": append(patch(good[:4], 3, 0), good[5:]...),
		"name utf8":  patch(good, 4, 0xff),
	})
}
