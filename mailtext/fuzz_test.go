package mailtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAnalyze checks that Analyze never panics, keeps its limits and
// returns UTF-8.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{
		"From: a@b\r\nSubject: =?utf-8?q?x?=\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=E9</p>\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n--b\r\nContent-Disposition: attachment; filename*0*=utf-8''%E6%97; filename*1=x\r\n\r\nAA==\r\n--b--\r\n",
		"Content-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64\r\n\r\nGyRCRnxLXDhsGyhC\r\n",
		"To: g: a@b, c@d;, \"x y\" <e@f>\r\nDate: Mon, 7 Dec 2026 11:14:31 +0100\r\nMessage-ID: <a@b>\r\n\r\n",
		"Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n\r\nunterminated",
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxSize: 1 << 16, MaxParts: 50, MaxDepth: 8, MaxText: 1 << 16}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Analyze(raw, lim)
		if err != nil {
			return
		}
		total := 0
		for _, p := range m.Parts {
			total += len(p.Text)
			if !utf8.ValidString(p.Text) {
				t.Fatalf("part text not UTF-8: %q", p.Text)
			}
		}
		if total > lim.MaxText {
			t.Fatalf("%d bytes of text, limit %d", total, lim.MaxText)
		}
		if len(m.Parts)+len(m.Attachments) > lim.MaxParts {
			t.Fatalf("%d parts, limit %d", len(m.Parts)+len(m.Attachments), lim.MaxParts)
		}
		for _, s := range append([]string{m.Subject, m.MessageID, m.ListID}, m.Tokens()...) {
			if !utf8.ValidString(s) {
				t.Fatalf("not UTF-8: %q", s)
			}
		}
	})
}

// FuzzHTMLToText checks that the converter never panics, returns UTF-8
// no more than three times as long as its input, and drops scripts.
func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{
		"<p>Hello&nbsp;<b>world</b> &amp; &#x263A;</p>",
		"<script>secret</script><style>p{}</style><pre> a\n b</pre>",
		"<table><tr><td>a<td>b</table><ul><li>x</ul><img alt=y>",
		"<a href='x'>link</a><!-- comment --><!DOCTYPE html>&unknown;&#0;",
		"<title>t</title><textarea><p></textarea><plaintext><b>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out := HTMLToText(src)
		if !utf8.ValidString(out) {
			t.Fatalf("not UTF-8: %q", out)
		}
		if len(out) > 3*len(src) {
			t.Fatalf("%d bytes out of %d", len(out), len(src))
		}
		if !strings.Contains(strings.ToLower(string(src)), "secret") && strings.Contains(out, "secret") {
			t.Fatalf("invented text: %q", out)
		}
	})
}
