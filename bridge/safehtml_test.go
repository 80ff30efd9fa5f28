package bridge

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"golang.org/x/net/html"

	"umbra/mailtext"
)

// unsafeHTML is HTML with one of each thing sanitizeHTML must take out.
const unsafeHTML = `<html><head><style>body{background:url(http://t.example/bg.png)} @import url(x.css);</style>` +
	`<base href="http://evil.example/"><meta http-equiv="refresh" content="0;url=http://evil.example/"></head>` +
	`<body onload="track()"><p>Dear customer, caf` + "\xe9" + `</p>` +
	`<img src="http://t.example/pixel.gif?u=42" width=1 height=1>` +
	`<img src=x onerror="alert(1)"><img srcset="http://t.example/a.png 2x" src="cid:logo@x">` +
	`<script>document.write('<img src=http://t.example/s.gif>')</script>` +
	`<iframe src="http://evil.example/"></iframe><object data="http://evil.example/x.swf"></object><embed src="x.swf">` +
	`<form action="http://evil.example/login"><input name=pw><button>Log in</button></form>` +
	`<a href=" jav&#x09;ascript:alert(1)">click</a><a href="https://ok.example/">ok</a>` +
	`<div style="background-image:url('http://t.example/d.png')">styled</div>` +
	`<svg><image href="http://t.example/svg.png"/></svg><table background="http://t.example/t.png"><tr><td>x</table>` +
	`<<script></script>img src=http://t.example/joined.png>` +
	`<!--[if mso]><img src="http://t.example/mso.png"><![endif]--></body></html>`

// checkSafe fails if the HTML, read as a browser would, still loads or
// runs anything.
func checkSafe(t *testing.T, out []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			return
		}
		tok := z.Token()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		switch tok.Data {
		case "script", "iframe", "object", "embed", "form", "base", "meta", "link", "applet", "frame":
			t.Fatalf("<%s> left in %q", tok.Data, out)
		}
		for _, a := range tok.Attr {
			k := strings.ToLower(a.Key)
			switch {
			case strings.HasPrefix(k, "on"):
				t.Fatalf("event handler %s left in %q", a.Key, out)
			case resourceAttrs[k] && !inlineResource(a.Val) && a.Val != "about:blank":
				t.Fatalf("remote %s=%q left in %q", a.Key, a.Val, out)
			case k == "href" && scriptURL(a.Val):
				t.Fatalf("script link %q left in %q", a.Val, out)
			case k == "style" && (strings.Contains(strings.ToLower(a.Val), "url(") || strings.Contains(strings.ToLower(a.Val), "image-set")):
				t.Fatalf("style url left in %q", out)
			}
		}
	}
}

func TestSanitizeHTML(t *testing.T) {
	out, blocked := sanitizeHTML([]byte(unsafeHTML))
	checkSafe(t, out)
	s := string(out)
	for _, gone := range []string{"pixel.gif", "bg.png", "/d.png", "svg.png", "/t.png", "mso.png", "evil.example", "onerror", "onload", "<script", "javascript", "alert", "mso"} {
		if strings.Contains(s, gone) {
			t.Errorf("%q left in %s", gone, s)
		}
	}
	for _, kept := range []string{"Dear customer, caf\xe9", `src="cid:logo@x"`, `href="https://ok.example/"`, ">click</a>", "Log in", "styled", "Umbra blocked", "&lt;img src=http://t.example/joined.png&gt;"} {
		if !strings.Contains(s, kept) {
			t.Errorf("%q lost from %s", kept, s)
		}
	}
	if blocked < 7 {
		t.Errorf("blocked %d, want the pixel, srcset, style and table urls, svg image, ...", blocked)
	}
	if i, j := strings.Index(s, "<body>"), strings.Index(s, "Umbra blocked"); i < 0 || j != i+len("<body>")+len(`<p style="border:1px solid #c90;padding:4px">`) {
		t.Errorf("the note is not the first thing in the body: %s", s)
	}
	// Harmless HTML passes unchanged, apart from tags written canonically.
	plain := `<p>Hello <b>world</b> &amp; <a href="https://x.example/">x</a> <img src="cid:a" alt="A"></p>`
	if out, n := sanitizeHTML([]byte(plain)); n != 0 || string(out) != plain {
		t.Errorf("harmless HTML changed: %d %s", n, out)
	}
}

// TestSanitizeMessage: only the HTML part changes, re-encoded as
// quoted-printable in its own charset; the header, the plain part and the
// attachment keep their bytes; a message without HTML is unchanged.
func TestSanitizeMessage(t *testing.T) {
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(unsafeHTML))
	w.Close()
	plainPart := "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nDear customer, caf\xe9\r\n"
	attach := "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=invoice.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAA=\r\n"
	msg := "Umbra-Security: legacy; x\r\nFrom: a@legacy.test\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n" + plainPart +
		"--b2\r\nContent-Type: text/html; charset=\"iso-8859-1\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n--b2--\r\n" +
		"--b1\r\n" + attach + "--b1--\r\nepilogue\r\n"
	out, changed, err := sanitizeMessage([]byte(msg))
	if err != nil || !changed {
		t.Fatalf("sanitize: %v %v", changed, err)
	}
	s := string(out)
	for _, kept := range []string{"Umbra-Security: legacy; x\r\nFrom: a@legacy.test\r\n", "\r\n\r\npreamble\r\n--b1\r\n", "--b2\r\n" + plainPart + "--b2\r\n", "--b1\r\n" + attach + "--b1--\r\nepilogue\r\n"} {
		if !strings.Contains(s, kept) {
			t.Errorf("lost %q from\n%s", kept, s)
		}
	}
	an, err := mailtext.Analyze(out, mailtext.Limits{})
	if err != nil || len(an.Parts) != 2 || an.Parts[1].Type != "text/html" {
		t.Fatalf("analyze the result: %v %+v", err, an)
	}
	if strings.Contains(s, "pixel.gif") || !strings.Contains(an.Parts[1].Text, "Dear customer, café") {
		t.Errorf("html part: %q", an.Parts[1].Text)
	}
	if got := riskyAttachments(an.Attachments); got != "invoice.exe" {
		t.Errorf("risky: %q", got)
	}
	// Damage a client forgives does not get past: a broken =XX in
	// quoted-printable, a stray character in base64, a header line
	// go-message refuses (the whole entity becomes text/plain).
	for name, m := range map[string]string{
		"qp":     "Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=3Cimg src=3D=\r\nhttp://t.example/x.gif=ZZ>",
		"base64": "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGltZyBzcmM9aHR0cDovL3QuZXhhbXBsZS94LmdpZj4*\r\n",
	} {
		out, changed, err := sanitizeMessage([]byte(m))
		if err != nil || !changed || strings.Contains(string(out), "t.example") {
			t.Errorf("%s: %v %v %q", name, changed, err, out)
		}
	}
	broken := "Subject: s\r\nno colon here\r\nContent-Type: text/html\r\n\r\n<img src=http://t.example/x.gif>"
	if out, changed, err := sanitizeMessage([]byte(broken)); err == nil || !changed || !strings.HasPrefix(string(out), "Content-Type: text/plain; charset=utf-8\r\n") || strings.Contains(string(out), "text/html") {
		t.Errorf("unreadable header: %v %v %q", changed, err, out)
	}
	noHTML := "Subject: s\r\nContent-Type: text/plain\r\n\r\n<img src=http://t.example/x>\r\n"
	if out, changed, err := sanitizeMessage([]byte(noHTML)); err != nil || changed || string(out) != noHTML {
		t.Errorf("plain message changed: %v %v %q", changed, err, out)
	}
}

// FuzzSanitizeHTML: the sanitiser never panics, stays within its output
// bound, and leaves nothing a browser would load or run.
func FuzzSanitizeHTML(f *testing.F) {
	for _, s := range []string{
		unsafeHTML,
		`<p>plain <b>text</b></p>`,
		`<img src=http://x/ onerror=a><a href="javascript:x">`,
		`<style>a{b:url(http://x)}</style><div style="x:url(y)">`,
		`<div style='background-image:image-set("http://x/a.png" 1x)'>`,
		`<script><script></script></script><iframe><iframe></iframe>x</iframe>`,
		`<svg><use xlink:href="http://x/#a"/></svg><video poster=http://x/p.png><source src=http://x/v.mp4>`,
		`<noscript><img src=http://x/n.png></noscript><textarea><img src=http://x/t.png></textarea>`,
		`<a href="&#106;avascript:alert(1)">x</a><img src="&#x68;ttp://x/">`,
		"<img\x00src=http://x/>\x00<p/onclick=x>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, _ := sanitizeHTML(src)
		if len(out) > maxSanitizedGrowth*len(src)+noteSize {
			t.Fatalf("%d bytes out of %d", len(out), len(src))
		}
		checkSafe(t, out)
	})
}

// FuzzSanitizeMessage: the MIME walk never panics, and its output stays
// within a bound of its input (each HTML part grows by at most the
// sanitiser's bound, written as quoted-printable).
func FuzzSanitizeMessage(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/html\r\n\r\n" + unsafeHTML,
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: text/html; charset=utf-16le\r\nContent-Transfer-Encoding: base64\r\n\r\nPABpAG0AZwA+AA==\r\n--b--\r\n",
		"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: multipart/related; boundary=y\r\n\r\n--y\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=3Cimg src=3Dhttp://t/x=\r\n>\r\n--y--\r\n--x\r\nbroken header\r\n\r\n<script>x</script>\r\n",
		"Subject: no body",
		forwardedTwice,
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/global\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte("Subject: in\r\nContent-Type: text/html\r\n\r\n<img src=http://tracker.example/p.gif><script>x</script>")) + "\r\n--b--\r\n",
		"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nContent-Type: text/html\r\n\r\n=3D=3Cimg src=3Dhttp://t/x>",
		strings.Repeat("Content-Type: message/rfc822\r\n\r\n", maxSanitizeDepth+2) + "Content-Type: text/html\r\n\r\n<img src=http://t/x>",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\n--b\n<script>x</script>\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		out, _, _ := sanitizeMessage(msg)
		if limit := 3*(maxSanitizedGrowth*len(msg)+noteSize) + 128*len(msg)/4 + 256; len(out) > limit {
			t.Fatalf("%d bytes out of %d", len(out), len(msg))
		}
		// What a mail client reads of the result (go-message, as aerc):
		// each HTML part as safe as the sanitiser's own output.
		for _, part := range htmlPartsOf(out) {
			checkSafe(t, part)
		}
	})
}

// htmlPartsOf is the decoded bodies of the text/html parts of msg as
// go-message reads them, those of parts it cannot read left out.
func htmlPartsOf(msg []byte) [][]byte {
	e, err := message.Read(bytes.NewReader(msg))
	if err != nil {
		return nil
	}
	var parts [][]byte
	e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil {
			return err
		}
		if mt, _, _ := part.Header.ContentType(); mt == "text/html" {
			b, _ := io.ReadAll(part.Body)
			parts = append(parts, b)
		}
		return nil
	})
	return parts
}

// A delimiter next to a bare LF is one for this sanitiser and none for
// go-message (aerc's reader): a <script> after it was left alone as a
// text/plain part here and read as the rest of the HTML part there. The
// sanitised message is read back as go-message reads it: no HTML part of
// it holds a script or a remote image.
func TestSanitizeBareLFDelimiter(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\n--b\n<script>alert(1)</script><img src=\"http://t.example/p.gif\">\r\n--b--\r\n"
	out, changed, err := sanitizeMessage([]byte(msg))
	if err != nil || !changed {
		t.Fatalf("sanitize: %v %v", changed, err)
	}
	if _, err := message.Read(bytes.NewReader(out)); err != nil {
		t.Fatalf("go-message cannot read the result: %v\n%q", err, out)
	}
	parts := htmlPartsOf(out)
	if len(parts) == 0 {
		t.Fatalf("go-message finds no HTML part in %q", out)
	}
	for _, part := range parts {
		checkSafe(t, part)
	}
}
