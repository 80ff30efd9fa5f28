package dmime

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// binaryBlob returns n bytes that include everything a line scanner could
// trip on: NUL, bare CR, bare LF, CRLF and "--" at line starts.
func binaryBlob(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for i := 0; i+4 < n; i += 97 {
		copy(b[i:], "\n--")
	}
	return b
}

func mimeCases() map[string]string {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	bin := string(binaryBlob(200_000, 7))
	bigPreamble := strings.Repeat("preamble line that no reader shows\r\n", 3000)
	return map[string]string{
		"simple": simpleMIME,
		"mixed with attachment": crlf(`From: Alice <alice@a.test>
To: Bob <bob@b.test>
Subject: report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

This is a multi-part message in MIME format.
--XX
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Here is the report. Grüße, Ålice ✓
--XX
Content-Type: application/pdf; name="r.pdf"
Content-Disposition: attachment; filename="r.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K
eJwr5HIK4TI2UzC0NDJQMDcxVTA3MTRQMDJRMDIyMTBQsLA0UjBRMDJVAIKwXAM=
--XX--
epilogue
`),
		"alternative in mixed with inline image": crlf(`From: =?UTF-8?B?w4VsaWNl?= <alice@a.test>
To: =?ISO-8859-1?Q?Bj=F6rn?= <bob@b.test>
Subject: =?UTF-8?Q?caf=C3=A9_?=
 =?UTF-8?Q?tonight?=
Date: Mon, 2 Mar 2026 10:00:00 +0000
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=us-ascii

plain body
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>hi <img src="cid:logo"></p>
--rel
Content-Type: image/png
Content-ID: <logo>
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==
--rel--
--alt--
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.bin
Content-Transfer-Encoding: binary

` + "\x00\x01binary\r\x00\n--not a boundary\r\n" + `
--outer--
`),
		"utf8 headers 8bit body LF only": "From: Ålice <alice@a.test>\nSubject: Привет, 世界\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nБыстрая бурая лиса\n",
		"binary part":                    "From: a@a.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + bin + "\r\n--b--\r\n",
		"binary single part":             "From: a@a.test\r\nContent-Type: image/jpeg\r\n\r\n" + bin,
		"transport padding":              "Content-Type: multipart/mixed; boundary=p\r\n\r\n--p   \r\nContent-Type: text/plain\r\n\r\nx\r\n--p--\t \r\n",
		"unclosed multipart":             "Content-Type: multipart/mixed; boundary=u\r\n\r\n--u\r\nContent-Type: text/plain\r\n\r\nnever closed",
		"no body":                        "From: a@a.test\r\nSubject: empty\r\n",
		"no blank line, no newline":      "From: a@a.test",
		"empty":                          "",
		"folded and odd headers":         " leading continuation\r\nFrom: a@a.test\r\nX-Long: one\r\n\ttwo\r\n  three\r\nnot a header line\r\nTo:bob@b.test\r\n\r\nbody",
		"big preamble":                   "Content-Type: multipart/mixed; boundary=z\r\n\r\n" + bigPreamble + "--z\r\n\r\nimplicit text/plain\r\n--z--\r\n" + bigPreamble,
		"part header without body":       "Content-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\nContent-Type: text/plain\r\n--h\r\n\r\nsecond\r\n--h--",
		"missing boundary parameter":     "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n",
	}
}

func TestMIMERoundTrip(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for name, in := range mimeCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg := w.seal(t, []byte(in))
			got, _, err := w.openRecipient(msg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, []byte(in)) {
				t.Fatalf("not byte-for-byte: got %d bytes, want %d\n got %.300q\nwant %.300q", len(got), len(in), got, in)
			}
		})
	}
}

// TestMIMESections checks how the split classifies parts: text parts are
// display sections, everything else attachments, and the inline image of
// a multipart/related is an attachment section of its own.
func TestMIMESections(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := mimeCases()
	for name, want := range map[string]string{
		"simple":                                 "D",
		"mixed with attachment":                  "DAS",
		"alternative in mixed with inline image": "DDAAS",
		"binary single part":                     "A",
		"big preamble":                           "SDSS", // structure runs are flushed every 64 KiB
	} {
		msg := w.seal(t, []byte(cases[name]))
		l, err := Inspect(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for _, s := range l.Sections {
			switch s.Type {
			case typeDisplay:
				got.WriteByte('D')
			case typeAttachment:
				got.WriteByte('A')
			case typeStructure:
				got.WriteByte('S')
			}
		}
		if got.String() != want {
			t.Errorf("%s: sections %q, want %q", name, got.String(), want)
		}
	}
}

// TestHeaderSplit checks that Subject and the other common fields are in
// the common headers section and the rest in the other one.
func TestHeaderSplit(t *testing.T) {
	t.Parallel()
	pieces := [][]byte{[]byte("Received: x\r\n"), []byte("Subject: s\r\n"), []byte("X-A: 1\r\n"), []byte("\r\n")}
	common, other := encodeHeaderSections(pieces)
	if !bytes.Contains(common, []byte("Subject: s")) || bytes.Contains(common, []byte("Received")) {
		t.Fatalf("common section %q", common)
	}
	if !bytes.Contains(other, []byte("Received")) || bytes.Contains(other, []byte("Subject")) {
		t.Fatalf("other section %q", other)
	}
	block, err := decodeHeaderSections(common, other)
	if err != nil || string(block) != "Received: x\r\nSubject: s\r\nX-A: 1\r\n\r\n" {
		t.Fatalf("rebuilt %q, %v", block, err)
	}
	if _, err := decodeHeaderSections(common, common); err == nil {
		t.Fatal("repeated position accepted")
	}
}

func TestSealRejectsHugeHeader(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	in := "X-Big: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\nbody"
	var out bytes.Buffer
	if _, err := Seal(&out, strings.NewReader(in), w.params()); !errors.Is(err, ErrInput) {
		t.Fatalf("Seal of a %d-byte header: %v", len(in), err)
	}
}
