package bridge

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"umbra/mailtext"
)

// trackedHTML is the HTML of a forwarded newsletter: a tracking pixel and
// a script.
const trackedHTML = `<html><body><p>Weekly news</p><img src="http://tracker.example/open.gif?id=7" width=1 height=1>` +
	`<script>fetch('http://tracker.example/js')</script></body></html>`

// forwardedTwice is a message forwarding, as an attachment, a message
// that itself forwards (inline) the newsletter: HTML with the pixel and
// the script at both levels, and an invoice.exe inside the attached
// message.
const forwardedTwice = "From: a@legacy.test\r\nSubject: Fwd: Fwd: news\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
	"--outer\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n" +
	"--outer\r\nContent-Type: message/rfc822; name=\"fwd.eml\"\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n" +
	"From: b@legacy.test\r\nSubject: Fwd: news\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=mid\r\n\r\n" +
	"--mid\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + trackedHTML + "\r\n" +
	"--mid\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=invoice.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAA=\r\n" +
	"--mid\r\nContent-Type: message/rfc822\r\n\r\n" +
	"From: news@tracker.example\r\nSubject: news\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + trackedHTML + "\r\n" +
	"--mid--\r\n" +
	"--outer--\r\n"

// htmlParts walks msg as a mail client does (go-message), into attached
// messages, returning the decoded text/html bodies and the header of
// each attached message read.
func htmlParts(t *testing.T, msg []byte) (html []string, attached []message.Header) {
	t.Helper()
	var walk func(e *message.Entity, depth int)
	walk = func(e *message.Entity, depth int) {
		if depth > 30 {
			t.Fatal("nested too deep")
		}
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("multipart: %v", err)
				}
				walk(p, depth+1)
			}
		}
		mt, _, _ := e.Header.ContentType()
		body, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("%s body: %v", mt, err)
		}
		switch mt {
		case "text/html":
			html = append(html, string(body))
		case "message/rfc822", "message/global":
			inner, err := message.Read(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("attached message: %v", err)
			}
			attached = append(attached, inner.Header)
			walk(inner, depth+1)
		}
	}
	e, err := message.Read(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	walk(e, 0)
	return html, attached
}

// TestSanitizeAttachedMessages: the HTML of messages attached as
// message/rfc822, nested twice, is made safe; the attached messages keep
// their header fields and their attachment, which the risky-attachment
// mark finds; the bytes outside the HTML stay.
func TestSanitizeAttachedMessages(t *testing.T) {
	out, changed, err := sanitizeMessage([]byte(forwardedTwice))
	if err != nil || !changed {
		t.Fatalf("sanitize: %v %v", changed, err)
	}
	html, attached := htmlParts(t, out)
	if len(html) != 2 || len(attached) != 2 {
		t.Fatalf("%d html parts, %d attached messages in\n%s", len(html), len(attached), out)
	}
	for _, h := range html {
		checkSafe(t, []byte(h))
		if strings.Contains(h, "tracker.example") || !strings.Contains(h, "Weekly news") || !strings.Contains(h, "Umbra blocked") {
			t.Errorf("html part: %s", h)
		}
	}
	for i, want := range []string{"Fwd: news", "news"} {
		if got := attached[i].Get("Subject"); got != want || attached[i].Get("MIME-Version") != "1.0" {
			t.Errorf("attached message %d: Subject %q, header %v", i, got, attached[i])
		}
	}
	s := string(out)
	for _, kept := range []string{
		"--outer\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--outer\r\nContent-Type: message/rfc822; name=\"fwd.eml\"\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\nFrom: b@legacy.test\r\n",
		"--mid\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=invoice.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAA=\r\n--mid\r\nContent-Type: message/rfc822\r\n\r\n",
		"--mid--\r\n--outer--\r\n",
	} {
		if !strings.Contains(s, kept) {
			t.Errorf("lost %q from\n%s", kept, s)
		}
	}
	an, err := mailtext.Analyze(out, mailtext.Limits{})
	if err != nil {
		t.Fatalf("analyze the result: %v", err)
	}
	if got := riskyAttachments(an.Attachments); got != "invoice.exe" {
		t.Errorf("risky attachments %q, want invoice.exe (inside the attached message)", got)
	}
}

// TestSanitizeAttachedEncoded: a message/global attached in base64 (RFC
// 6532 §3.5) is decoded, made safe and written back unencoded, its
// Content-Transfer-Encoding saying so; an attached message without HTML
// keeps its encoding and its bytes.
func TestSanitizeAttachedEncoded(t *testing.T) {
	inner := "From: news@tracker.example\r\nSubject: Nachrichten für Sie\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + trackedHTML + "\r\n"
	plainInner := "Subject: s\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	part := func(body string) string {
		return "Content-Type: message/global\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(body)) + "\r\n"
	}
	msg := "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + part(inner) + "--b\r\n" + part(plainInner) + "--b--\r\n"
	out, changed, err := sanitizeMessage([]byte(msg))
	if err != nil || !changed {
		t.Fatalf("sanitize: %v %v", changed, err)
	}
	s := string(out)
	if !strings.Contains(s, "--b\r\nContent-Transfer-Encoding: 8bit\r\nContent-Type: message/global\r\n\r\nContent-Type: text/html") ||
		!strings.Contains(s, "Subject: Nachrichten für Sie\r\n") || !strings.Contains(s, "--b\r\n"+part(plainInner)+"--b--\r\n") {
		t.Errorf("encoded attached messages:\n%s", s)
	}
	html, attached := htmlParts(t, out)
	if len(html) != 1 || len(attached) != 2 || strings.Contains(html[0], "tracker.example") {
		t.Fatalf("html %q, %d attached", html, len(attached))
	}
	checkSafe(t, []byte(html[0]))
}

// TestSanitizeTooDeep: HTML nested deeper than maxSanitizeDepth, in
// attached messages or in multiparts, does not get past: the part at the
// bound is replaced by a note, and the result reads without error (the
// analysis refused the original as nested too deep).
func TestSanitizeTooDeep(t *testing.T) {
	leaf := "Content-Type: text/html\r\n\r\n<img src=\"http://tracker.example/deep.gif\">\r\n"
	nest := map[string]func(string, int) string{
		"attached": func(in string, i int) string {
			return fmt.Sprintf("Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n%s", i, in)
		},
		"multipart": func(in string, i int) string {
			return fmt.Sprintf("Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n%s\r\n--b%d--\r\n", i, i, in, i)
		},
	}
	for name, wrap := range nest {
		msg := leaf
		for i := range maxSanitizeDepth + 5 {
			msg = wrap(msg, i)
		}
		if _, err := mailtext.Analyze([]byte(msg), mailtext.Limits{}); err == nil {
			t.Fatalf("%s: the analysis reads the original", name)
		}
		out, changed, err := sanitizeMessage([]byte(msg))
		if err != nil || !changed || strings.Contains(string(out), "tracker.example") || strings.Count(string(out), tooDeepNote) != 1 {
			t.Errorf("%s: %v %v\n%s", name, changed, err, out)
		}
		if _, err := mailtext.Analyze(out, mailtext.Limits{}); err != nil {
			t.Errorf("%s: analyze the result: %v", name, err)
		}
	}
	// Within the bound, the HTML is made safe, not left out.
	msg := leaf
	for i := range maxSanitizeDepth - 1 {
		msg = nest["attached"](msg, i)
	}
	if out, _, err := sanitizeMessage([]byte(msg)); err != nil || strings.Contains(string(out), tooDeepNote) || !strings.Contains(string(out), "Umbra blocked") {
		t.Errorf("%d levels: %v\n%s", maxSanitizeDepth, err, out)
	}
}
