package mailtext

import (
	"slices"
	"testing"
)

// TestAttachedAsAttachment: a message forwarded as an attachment is
// listed as one, and its text and attachments are the message's too.
func TestAttachedAsAttachment(t *testing.T) {
	raw := []byte("Subject: Fwd\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=fwd.eml\r\n\r\n" +
		"Subject: inner\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nforwarded text\r\n" +
		"--c\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=setup.exe\r\n\r\nAA==\r\n--c--\r\n--b--\r\n")
	m, err := Analyze(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Attachment{{"message/rfc822", "fwd.eml"}, {"application/octet-stream", "setup.exe"}}
	if !slices.Equal(m.Attachments, want) {
		t.Errorf("Attachments = %q, want %q", m.Attachments, want)
	}
	var texts []string
	for _, p := range m.Parts {
		texts = append(texts, p.Text)
	}
	if want := []string{"see attached", "inner", "forwarded text"}; !slices.Equal(texts, want) {
		t.Errorf("texts = %q, want %q", texts, want)
	}
}
