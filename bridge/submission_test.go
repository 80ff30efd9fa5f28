package bridge

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrepareOutgoing(t *testing.T) {
	t.Parallel()
	in := "From: a@a.test\nTo: b@b.test\nBcc: secret@c.test,\n  other@d.test\nUmbra-Security: forged\nSubject: hi\n\nbody line\nBcc: not a header\n"
	mime, bcc := prepareOutgoing([]byte(in), "a@a.test")
	out := string(mime)
	header, body, _ := strings.Cut(out, "\r\n\r\n")
	if strings.Contains(header, "secret@") || strings.Contains(header, "other@") || strings.Contains(header, "forged") {
		t.Errorf("Bcc or Umbra-Security kept:\n%s", header)
	}
	for _, want := range []string{"From: a@a.test\r\n", "Subject: hi\r\n", "Date: ", "Message-ID: <"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
	if body != "body line\r\nBcc: not a header\r\n" {
		t.Errorf("body %q", body)
	}
	// The Bcc field as it came, for the author's Sent copy alone.
	if string(bcc) != "Bcc: secret@c.test,\r\n  other@d.test\r\n" {
		t.Errorf("bcc %q", bcc)
	}
	if sent := string(withFields(mime, bcc)); !strings.Contains(sent, "Message-ID: <") || !strings.HasSuffix(strings.Split(sent, "\r\n\r\n")[0], "other@d.test") {
		t.Errorf("Sent copy:\n%s", sent)
	}
	// A client's own Date and Message-ID stay.
	mime, _ = prepareOutgoing([]byte("Date: x\r\nMessage-ID: <m@a>\r\n\r\nb"), "a@a.test")
	out = string(mime)
	if strings.Count(out, "Date:") != 1 || strings.Count(out, "Message-ID:") != 1 {
		t.Errorf("Date or Message-ID added twice: %q", out)
	}
}

func FuzzPrepareOutgoing(f *testing.F) {
	f.Add([]byte("From: a@a.test\r\nBcc: x@y\r\n\r\nbody\r\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte("Bcc:\n continued\nSubject: s\n\nbody"))
	f.Add([]byte("no header at all"))
	f.Add([]byte(" BCC"))
	f.Add([]byte(" Bcc: x@y\r\nSubject: s\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _ := prepareOutgoing(in, "a@a.test")
		headerValue(out, "Subject") // bounce notices read it back: must not panic
		if bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("a bare LF is left: %q", out)
		}
		header, _, ok := bytes.Cut(out, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("no header end: %q", out)
		}
		for i, line := range bytes.Split(header, []byte("\r\n")) {
			if i == 0 && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
				t.Fatalf("the header starts with a continuation line: %q", out)
			}
			name, _, isField := bytes.Cut(line, []byte(":"))
			if n := strings.ToLower(strings.TrimSpace(string(name))); isField && n == "bcc" && line[0] != ' ' && line[0] != '\t' {
				t.Fatalf("Bcc kept: %q", out)
			}
		}
		if !bytes.Contains(header, []byte("Message-ID:")) && !bytes.Contains(bytes.ToLower(header), []byte("message-id:")) {
			t.Fatalf("no Message-ID: %q", out)
		}
	})
}

// TestBlindField: the recipients To and Cc do not name are the Bcc of the
// author's copy; a header that does not parse names nobody.
func TestBlindField(t *testing.T) {
	t.Parallel()
	mime := []byte("From: a@a.test\r\nTo: Bob <BOB@b.test>\r\nCc: c@c.test\r\n\r\nbody\r\n")
	if got := string(blindField(mime, []string{"bob@b.test", "c@c.test", "a@a.test", "d@d.test"})); got != "Bcc: a@a.test, d@d.test\r\n" {
		t.Errorf("got %q", got)
	}
	if got := blindField(mime, []string{"bob@b.test"}); got != nil {
		t.Errorf("no blind recipient, got %q", got)
	}
	if got := blindField([]byte("To: <<<\r\n\r\n"), []string{"x@y.test"}); got != nil {
		t.Errorf("unparsable To, got %q", got)
	}
}
