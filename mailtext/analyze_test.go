package mailtext

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// crlf turns a test message written with "\n" into RFC 5322's CRLF lines.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestAnalyzeHeader(t *testing.T) {
	t.Parallel()
	raw := crlf(`From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <jm@example.de>
To: "Bob, Jr." <bob@example.com>, carol@example.org
Cc: team: dave@example.net, erin@example.net;
Bcc: frank@example.com
Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?= =?utf-8?b?4pyT?=
Message-ID: <abc.123@example.de>
List-Id: Umbra developers <dev.umbra.example.org>
Date: Mon, 7 Dec 2026 11:14:31 +0100

hello
`)
	m, err := Analyze(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Address{{"Jürgen Müller", "jm@example.de"}}
	if !slices.Equal(m.From, want) {
		t.Errorf("From = %v, want %v", m.From, want)
	}
	if want := []Address{{"Bob, Jr.", "bob@example.com"}, {"", "carol@example.org"}}; !slices.Equal(m.To, want) {
		t.Errorf("To = %v, want %v", m.To, want)
	}
	if want := []Address{{"", "dave@example.net"}, {"", "erin@example.net"}}; !slices.Equal(m.Cc, want) {
		t.Errorf("Cc = %v, want %v", m.Cc, want)
	}
	if len(m.Bcc) != 1 || m.Bcc[0].Addr != "frank@example.com" {
		t.Errorf("Bcc = %v", m.Bcc)
	}
	if m.Subject != "Grüße aus Köln✓" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.MessageID != "abc.123@example.de" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if m.ListID != "Umbra developers <dev.umbra.example.org>" {
		t.Errorf("ListID = %q", m.ListID)
	}
	if want := time.Date(2026, 12, 7, 10, 14, 31, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if len(m.Parts) != 1 || m.Parts[0].Text != "hello\r\n" || m.Parts[0].Type != "text/plain" {
		t.Errorf("Parts = %q", m.Parts)
	}
	if len(m.Defects) != 0 {
		t.Errorf("Defects = %q", m.Defects)
	}
}

func TestAnalyzeDamagedHeader(t *testing.T) {
	t.Parallel()
	m, err := Analyze(crlf("From: not an address <<\nMessage-ID: spaced id@x\nDate: yesterday\nSubject: caf\xe9\n\nbody"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.From) != 1 || m.From[0].Name != "not an address <<" {
		t.Errorf("From = %q", m.From)
	}
	if m.MessageID != "spaced id@x" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if m.Subject != "café" {
		t.Errorf("Subject = %q (raw Latin-1 reads as Windows-1252)", m.Subject)
	}
	if !m.Date.IsZero() || len(m.Defects) != 2 {
		t.Errorf("Date = %v, Defects = %q; want zero and 2 defects (From, Date)", m.Date, m.Defects)
	}
}

// TestAnalyzeCharsets decodes bodies in the charsets mail is commonly
// written in, each with a transfer encoding.
func TestAnalyzeCharsets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		charset, cte, body, want string
		html                     bool
	}{
		{"utf-8", "8bit", "Grüße 日本", "Grüße 日本", false},
		{"iso-8859-1", "quoted-printable", "caf=E9 na=EFve", "café naïve", false},
		{"windows-1252", "8bit", "\x80uro \x93quoted\x94 caf\xe9", "€uro “quoted” café", false},
		{"iso-2022-jp", "7bit", "\x1b$BF|K\\8l$N%F%9%H\x1b(B", "日本語のテスト", false},
		{"shift_jis", "base64", "k/qWe4zqgsyDZYNYg2c=", "日本語のテスト", false},
		{"koi8-r", "base64", "8NLJ18XUIM3J0g==", "Привет мир", false},
		{"", "8bit", "undeclared caf\xe9", "undeclared café", false},
		{"x-unknown-charset", "7bit", "plain ascii", "plain ascii", false},
		{"", "8bit", `<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>` + "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет", true},
		{"", "8bit", "<p>no meta caf\xe9", "no meta café", true},
	} {
		t.Run(fmt.Sprint(c.charset, "/", c.cte, "/html=", c.html), func(t *testing.T) {
			t.Parallel()
			ct := "text/plain"
			if c.html {
				ct = "text/html"
			}
			if c.charset != "" {
				ct += "; charset=" + c.charset
			}
			raw := append(crlf("Content-Type: "+ct+"\nContent-Transfer-Encoding: "+c.cte+"\n\n"), c.body...)
			m, err := Analyze(raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Parts) != 1 || m.Parts[0].Text != c.want {
				t.Fatalf("Parts = %q, want text %q", m.Parts, c.want)
			}
			if c.charset == "x-unknown-charset" && len(m.Defects) != 1 {
				t.Errorf("Defects = %q, want the unknown charset", m.Defects)
			}
		})
	}
}

func TestAnalyzeMultipart(t *testing.T) {
	t.Parallel()
	raw := crlf(`From: a@example.com
Subject: report
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Plain =E2=9C=93 version
--inner
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><title>x</title><style>p{}</style></head><body><p>HTML caf=E9 &amp; <a href="https://example.com/x">link text</a></p><script>alert(1)</script></body></html>
--inner--
--outer
Content-Type: application/pdf; name="ignored.pdf"
Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9.pdf
Content-Transfer-Encoding: base64

JVBERi0=
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=utf-8''%E6%97%A5%E6%9C%AC;
 filename*1="-long name";
 filename*2*=%2Etxt

AAAA
--outer
Content-Type: image/png; name="=?utf-8?q?Bild_=C3=BC.png?="

AAAA
--outer
Content-Type: message/rfc822

Subject: inner message
Content-Type: text/plain

forwarded text
--outer--
`)
	m, err := Analyze(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, p := range m.Parts {
		texts = append(texts, p.Type+": "+strings.TrimSpace(p.Text))
	}
	want := []string{
		"text/plain: Plain ✓ version",
		"text/html: HTML café & link text",
		"message/rfc822: inner message",
		"text/plain: forwarded text",
	}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("texts = %q\nwant    %q", texts, want)
	}
	wantAtt := []Attachment{
		{"application/pdf", "résumé.pdf"},
		{"application/octet-stream", "日本-long name.txt"},
		{"image/png", "Bild ü.png"},
	}
	if len(m.Attachments) != len(wantAtt) {
		t.Fatalf("Attachments = %q, want %q", m.Attachments, wantAtt)
	}
	for i := range wantAtt {
		if m.Attachments[i] != wantAtt[i] {
			t.Errorf("Attachments[%d] = %q, want %q", i, m.Attachments[i], wantAtt[i])
		}
	}
	if !m.HasAttachment() || len(m.Defects) != 0 {
		t.Errorf("HasAttachment = %v, Defects = %q", m.HasAttachment(), m.Defects)
	}
}

func TestAnalyzeUnterminatedMultipart(t *testing.T) {
	t.Parallel()
	raw := crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst part\n--b\nContent-Type: text/plain\n\nsecond, cut off")
	m, err := Analyze(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) == 0 || !strings.HasPrefix(m.Parts[0].Text, "first part") {
		t.Errorf("Parts = %q, want the first part kept", m.Parts)
	}
}

// TestAnalyzeLimits checks that each limit fails with its error.
func TestAnalyzeLimits(t *testing.T) {
	t.Parallel()
	nested := "Content-Type: text/plain\n\nleaf"
	for i := range 30 {
		b := fmt.Sprint("b", i)
		nested = "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n" + nested + "\n--" + b + "--\n"
	}
	many := "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\nx\n", 50) + "--b--\n"
	for _, c := range []struct {
		name string
		raw  []byte
		lim  Limits
		want error
	}{
		{"size", crlf("Subject: x\n\n" + strings.Repeat("x", 200)), Limits{MaxSize: 100}, ErrTooLarge},
		{"header", crlf("Subject: " + strings.Repeat("x", 200) + "\n\nbody"), Limits{MaxHeader: 100}, ErrTooLarge},
		{"text", crlf("Subject: x\n\n" + strings.Repeat("x", 200)), Limits{MaxText: 100}, ErrTooLarge},
		{"depth", crlf(nested), Limits{MaxDepth: 10}, ErrTooDeep},
		{"parts", crlf(many), Limits{MaxParts: 20}, ErrTooManyParts},
		{"malformed", []byte("no header separator and a very long line without colon"), Limits{}, ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Analyze(c.raw, c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// TestAnalyzeDamagedUTF8 checks that a part declared UTF-8 keeps its good
// characters around a bad byte, instead of being read as Windows-1252.
func TestAnalyzeDamagedUTF8(t *testing.T) {
	t.Parallel()
	m, err := Analyze(crlf("Content-Type: text/plain; charset=utf-8\n\nGrüße \xff Köln"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Grüße \uFFFD Köln"; len(m.Parts) != 1 || m.Parts[0].Text != want {
		t.Errorf("Parts = %q, want %q", m.Parts, want)
	}
}
