package mailstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"umbra/searchquery"
)

// FuzzIndex adds arbitrary bytes as a message: Add must succeed, Content
// must return the exact bytes, and Search must not fail.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(mimeMsg("hello", "world")))
	f.Add([]byte("Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=koi8-r\r\n\r\n<p>x</p>\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"))
	f.Add([]byte("Subject: =?x-unknown?Q?abc?=\r\nContent-Transfer-Encoding: x-bogus\r\n\r\nbody"))
	f.Add([]byte("no header at all"))
	f.Add([]byte{0, 0xff, '\n', '\n', 0xfe})
	f.Add([]byte{})
	s, _ := openTest(f)
	inbox := mailbox(f, s, Inbox).ID
	ctx := context.Background()
	n := 0
	f.Fuzz(func(t *testing.T, mime []byte) {
		n++
		m, created, err := s.Add(ctx, NewMessage{Key: string(rune(n)) + "-" + string(mime[:min(len(mime), 8)]), Mailbox: Inbox, MIME: mime}, Remote)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		if !created {
			return
		}
		got, err := s.Content(ctx, m.ContentID)
		if err != nil || !bytes.Equal(got, mime) {
			t.Fatalf("Content = %q, %v; want %q", got, err, mime)
		}
		h, err := s.Header(ctx, m.ContentID)
		if err != nil || !bytes.HasPrefix(mime, h) {
			t.Fatalf("Header = %q, %v", h, err)
		}
		needle := strings.ToValidUTF8(strings.ReplaceAll(string(mime[:min(len(mime), 12)]), "\x00", ""), "")
		if utf8.ValidString(needle) {
			if _, err := s.Search(ctx, inbox, FieldText, needle); err != nil {
				t.Fatalf("Search(%q): %v", needle, err)
			}
		}
	})
}

// FuzzNames feeds arbitrary mailbox names and flags to the validators: no
// panic, canonical forms are fixed points, errors are ErrInvalid.
func FuzzNames(f *testing.F) {
	f.Add("INBOX/a", `\seen`)
	f.Add("a//b", `\Recent`)
	f.Add("Grüße/\x7f", "$Label")
	f.Add(strings.Repeat("a/", 130), "a]b")
	f.Fuzz(func(t *testing.T, name, flag string) {
		if c, err := canonicalName(name); err == nil {
			if again, err := canonicalName(c); err != nil || again != c {
				t.Fatalf("canonicalName(%q) = %q, then %q, %v", name, c, again, err)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("canonicalName(%q): %v", name, err)
		}
		if fs, err := canonicalFlags([]string{flag, flag, `\Seen`}); err == nil {
			if again, err := canonicalFlags(fs); err != nil || strings.Join(again, " ") != strings.Join(fs, " ") {
				t.Fatalf("canonicalFlags(%q) = %q, then %q, %v", flag, fs, again, err)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("canonicalFlags(%q): %v", flag, err)
		}
	})
}

// FuzzExtract drives the indexer's MIME decoding alone, many times faster
// than FuzzIndex (which commits each input): the text is bounded and
// valid UTF-8, and the header split loses no byte.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(mimeMsg("hello", "world")))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=E9</p>\r\n--b--\r\n"))
	f.Add([]byte("Subject: =?utf-8?q?=FF?=\n\n\x00"))
	f.Fuzz(func(t *testing.T, mime []byte) {
		h, b := splitHeader(mime)
		if !bytes.Equal(append(append([]byte{}, h...), b...), mime) {
			t.Fatalf("splitHeader lost bytes of %q", mime)
		}
		x := extractText(mime)
		for _, s := range []string{x.subject, x.from, x.to, x.header, x.body} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > maxIndexedBody {
				t.Fatalf("indexed text %q", s)
			}
		}
	})
}

// FuzzQuery runs arbitrary query text through Query and Search on a small
// store of varied messages: Query finds exactly what the brute-force scan
// finds (so every trigram lookup compiled from the text is valid FTS5 and
// never loses a match), and Search fails only with ErrInvalid.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"report", `"a b" OR -c`, "from:ali ce", "tag:work -folder:INBOX", "Ĳ", `"""`, "k\u212a", "ſs",
		"after:2020-01-03 has:attachment", "{sender}", "a* ^b", "NEAR(x y)", `x"y`, "  \t"} {
		f.Add(q)
	}
	s := corpusStore(f, 7)
	add(f, s, "kelvin", Inbox, Remote, "K")
	docs := scanDocs(f, s)
	ctx := context.Background()
	inbox := mailbox(f, s, Inbox).ID
	f.Fuzz(func(t *testing.T, text string) {
		for _, field := range []Field{FieldText, FieldSubject, FieldFrom, FieldBody} {
			if _, err := s.Search(ctx, inbox, field, text); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Search(%d, %q): %v", field, text, err)
			}
		}
		q, err := searchquery.Parse(text)
		if err != nil {
			return
		}
		want := scan(docs, q)
		if got := queryIDs(t, s, q, 0); !slices.Equal(got, want) {
			t.Fatalf("Query(%q) = %v, scan %v", text, got, want)
		}
		if got := queryIDs(t, s, q, 2); !slices.Equal(got, want[:min(2, len(want))]) {
			t.Fatalf("Query(%q) with Limit 2 = %v, scan %v", text, got, want)
		}
	})
}
